// Print buttons (data-print): the Content-Security-Policy refuses inline handlers, so the click
// is bound here. The button stays hidden without JavaScript; the page then says to use the
// browser's own Print.
(function () {
  "use strict";

  document.querySelectorAll("button[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      window.print();
    });
  });
})();
