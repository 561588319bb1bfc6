// The referral form: the pregnancy question is asked only when sex is F (PROTOCOL section 3).
// The rules ignore the answer for anyone else; hiding it also resets it to "unknown" so a
// stale "yes" typed before the sex was corrected is not saved.
(function () {
  "use strict";

  const form = document.getElementById("referral-form");
  if (!form) {
    return;
  }
  const question = document.getElementById(form.dataset.pregnancyQuestion);
  const sex = form.elements.namedItem("sex");
  if (!question || !sex) {
    return;
  }

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

  sex.addEventListener("change", showPregnancyQuestion);
  showPregnancyQuestion();
})();
