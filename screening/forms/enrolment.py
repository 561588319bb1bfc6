"""Consent and enrolment forms. They check what the user typed; the workflow rules (consent
after approval, the enrolment target) are the services'."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy


class EnrolmentForm(forms.Form):
    consent_date = forms.DateField(
        label=gettext_lazy("Consent date"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"required": gettext_lazy("Give the date the patient signed consent.")},
    )

    def __init__(self, *args, approved_on=None, **kwargs):
        super().__init__(*args, **kwargs)
        # The browser's date picker offers only dates the service will accept.
        attrs = self.fields["consent_date"].widget.attrs
        attrs["max"] = timezone.localdate().isoformat()
        if approved_on is not None:
            attrs["min"] = approved_on.isoformat()


class DeclineForm(forms.Form):
    confirm = forms.BooleanField(
        label=gettext_lazy("The patient declined consent to take part in the trial."),
        help_text=gettext_lazy("The referral is then withdrawn; this cannot be undone."),
        error_messages={
            "required": gettext_lazy("Tick the box to confirm that the patient declined consent.")
        },
    )
