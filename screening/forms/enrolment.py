"""Consent and enrolment forms. They check what the user typed; the workflow rules (consent
after the MDT meeting, the enrolment target) are the services'."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy

from screening.forms.fields import IsoDateField
from screening.forms.signatures import SignedForm


class EnrolmentForm(SignedForm):
    """The consent date; for a possible duplicate, also the identity check (PROTOCOL 3a). The
    enrolment is signed (``SignedForm``)."""

    consent_date = IsoDateField(
        label=gettext_lazy("Consent date"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"required": gettext_lazy("Give the date the patient signed consent.")},
    )
    identity_confirmed = forms.BooleanField(
        label=gettext_lazy(
            "I checked the identity: this patient is not the same person as the other referral."
        ),
        required=False,
    )

    def __init__(self, *args, met_on=None, possible_duplicate=False, recheck_url=None, **kwargs):
        super().__init__(*args, **kwargs)
        if possible_duplicate:
            self.fields["identity_confirmed"].required = True
            self.fields["identity_confirmed"].error_messages["required"] = gettext_lazy(
                "Check the identity and tick the box: this referral may be a duplicate."
            )
        else:
            del self.fields["identity_confirmed"]
        # The browser's date picker offers only dates the service will accept.
        attrs = self.fields["consent_date"].widget.attrs
        attrs["max"] = timezone.localdate().isoformat()
        if met_on is not None:
            attrs["min"] = met_on.isoformat()
        if recheck_url:
            # A date typed in fetches the enrolment page's eligibility re-check for that day
            # (``#consent-eligibility``); htmx sends this field alone, never the password.
            attrs.update(
                {
                    "hx-get": recheck_url,
                    "hx-trigger": "change",
                    "hx-target": "#consent-eligibility",
                    "hx-select": "#consent-eligibility",
                    "hx-swap": "outerHTML",
                }
            )

    def service_arguments(self) -> dict:
        """The keyword arguments of ``services.participant_enrol`` besides referral and user."""
        return {
            "consent_date": self.cleaned_data["consent_date"],
            "identity_confirmed": self.cleaned_data.get("identity_confirmed", False),
            "second_factor": self.second_factor,
        }


class DeclineForm(forms.Form):
    confirm = forms.BooleanField(
        label=gettext_lazy("The patient declined consent to take part in the trial."),
        help_text=gettext_lazy("The referral is then withdrawn; this cannot be undone."),
        error_messages={
            "required": gettext_lazy("Tick the box to confirm that the patient declined consent.")
        },
    )
