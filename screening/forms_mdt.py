"""Forms of the MDT decision and of enrolment (issue 4). They check what the user typed; the
workflow rules (status, consent after approval, the enrolment target) are the services'."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from screening import rules
from screening.models import MdtDecision

Decision = MdtDecision.Decision


def _reason_choices():
    criteria = [(c.code, f"{c.code} · {_(c.text)}") for c in rules.CRITERIA]
    return [("", _("Choose for a rejection")), *criteria, ("other", _("Other"))]


class DecisionForm(forms.Form):
    """The two submit buttons carry ``decision``; ``evaluation`` is the evaluation on screen."""

    decision = forms.ChoiceField(
        choices=Decision.choices,
        error_messages={"required": gettext_lazy("Choose approve or reject.")},
    )
    reason = forms.ChoiceField(
        label=gettext_lazy("Reason for a rejection"),
        choices=_reason_choices,
        required=False,
        help_text=gettext_lazy("The criterion the rejection rests on, or other."),
    )
    rationale = forms.CharField(
        label=gettext_lazy("Rationale"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": gettext_lazy("Give the rationale for the decision.")},
    )
    attendees = forms.CharField(
        label=gettext_lazy("Attending members"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("Optional: who took part in the decision."),
    )
    evaluation = forms.IntegerField(widget=forms.HiddenInput)

    def clean(self):
        data = super().clean()
        if data.get("decision") == Decision.REJECT and not data.get("reason"):
            self.add_error("reason", _("A rejection needs its reason: a criterion or other."))
        if data.get("decision") == Decision.APPROVE:
            data["reason"] = ""
        return data

    def service_arguments(self) -> dict:
        """The keyword arguments of ``services.mdt_decision_record`` besides referral and user."""
        data = self.cleaned_data
        return {
            "decision": data["decision"],
            "rationale": data["rationale"],
            "reason_code": data["reason"],
            "attendees": data["attendees"],
            "evaluation_id": data["evaluation"],
        }


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
