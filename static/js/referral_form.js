// The referral form: the pregnancy question is asked only when sex is F (PROTOCOL section 3);
// links to a field (error summary, to-do list) put the cursor in it; a failed save puts the
// focus on the error summary; leaving the page with unsaved typing asks first.
(function () {
  "use strict";

  const form = document.getElementById("referral-form");
  if (!form) {
    return;
  }

  // The rules ignore the pregnancy answer for anyone but F; hiding the question also resets
  // it to "unknown" so a stale "yes" typed before the sex was corrected is not saved.
  const question = document.getElementById(form.dataset.pregnancyQuestion);
  const sex = form.elements.namedItem("sex");
  function showPregnancyQuestion() {
    const asked = sex.value === "F";
    question.hidden = !asked;
    if (!asked) {
      const unknown = question.querySelector('input[type="radio"][value="unknown"]');
      if (unknown && !unknown.checked) {
        unknown.checked = true;
      }
    }
  }
  if (question && sex) {
    sex.addEventListener("change", showPregnancyQuestion);
    showPregnancyQuestion();
  }

  // A link to "#div_id_<field>" scrolls to the field and puts the cursor in it.
  document.addEventListener("click", function (event) {
    const link = event.target.closest('a[href^="#div_id_"]');
    if (!link) {
      return;
    }
    const wrapper = document.getElementById(link.getAttribute("href").slice(1));
    const input = wrapper && wrapper.querySelector("input:not([type=hidden]), select, textarea");
    if (input) {
      event.preventDefault();
      wrapper.scrollIntoView({ block: "center" });
      input.focus({ preventScroll: true });
    }
  });

  // After a failed save the summary of what to correct is read first.
  const errors = document.getElementById("form-errors");
  if (errors) {
    errors.focus();
  }

  // Typing not yet saved (or a form sent back with errors) is not left behind silently:
  // the browser asks before the page is left, a language switch included.
  let unsaved = Boolean(errors);
  form.addEventListener("input", function () {
    unsaved = true;
  });
  form.addEventListener("change", function () {
    unsaved = true;
  });
  form.addEventListener("submit", function () {
    unsaved = false;
  });
  window.addEventListener("beforeunload", function (event) {
    if (unsaved) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
})();
