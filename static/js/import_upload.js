// The import page's upload with a progress bar (no inline script: the Content-Security-Policy
// refuses it). The file is sent by XMLHttpRequest, whose upload reports its progress; the
// server answers 201 with the preview's address, or the form again with its errors, which
// replaces the form here. Without JavaScript the form posts as usual.
(function () {
  "use strict";

  function bind(form) {
    var box = form.querySelector("[data-progress]");
    var bar = box.querySelector("progress");
    var text = box.querySelector("[data-progress-text]");
    var failed = form.querySelector("[data-progress-error]");
    var button = form.querySelector("button[type=submit]");

    form.addEventListener("submit", function (event) {
      if (!window.FormData) {
        return;
      }
      event.preventDefault();
      var request = new XMLHttpRequest();
      request.open("POST", form.action);
      request.setRequestHeader("X-Import-Upload", "1");
      request.upload.addEventListener("progress", function (progress) {
        if (progress.lengthComputable) {
          var percent = Math.round((progress.loaded / progress.total) * 100);
          bar.value = percent;
          text.textContent = percent + "%";
        }
      });
      request.addEventListener("load", function () {
        if (request.status === 201) {
          window.location.assign(request.getResponseHeader("Location"));
          return;
        }
        var page = new DOMParser().parseFromString(request.responseText, "text/html");
        var fresh = page.getElementById("import-upload");
        if (fresh) {
          var current = document.getElementById("import-upload");
          current.replaceWith(fresh);
          bind(fresh.querySelector("form[data-upload-progress]"));
        } else {
          showFailure();
        }
      });
      request.addEventListener("error", showFailure);
      box.hidden = false;
      failed.hidden = true;
      button.disabled = true;
      bar.value = 0;
      text.textContent = "0%";
      request.send(new FormData(form));
    });

    function showFailure() {
      box.hidden = true;
      failed.hidden = false;
      button.disabled = false;
    }
  }

  document.querySelectorAll("form[data-upload-progress]").forEach(bind);
})();
