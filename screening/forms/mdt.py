"""The MDT decision form. It checks what the user typed; the workflow rules are the services'."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from screening import rules, services
from screening.forms.fields import IsoDateField, NotesField
from screening.forms.signatures import SignedForm
from screening.models import MdtDecision, ProtocolVersion

Decision = MdtDecision.Decision


def reason_choices(limits: rules.Limits) -> list[tuple[str, str]]:
    """The criteria, worded with ``limits``, and "other", in the active language."""
    criteria = [(code, f"{code} · {rules.criterion_text(code, limits)}") for code in rules.CODES]
    return [("", _("Choose for a rejection")), *criteria, ("other", _("Other"))]


class DecisionForm(SignedForm):
    """The two submit buttons carry ``decision``; ``evaluation`` is the evaluation on screen.
    The decision is signed (``SignedForm``). The rejection reasons word the criteria with
    ``limits``, by default those of the protocol in force (one query)."""

    decision = forms.ChoiceField(
        choices=Decision.choices,
        error_messages={"required": gettext_lazy("Choose approve or reject.")},
    )
    reason = forms.ChoiceField(
        label=gettext_lazy("Reason for a rejection"),
        choices=(),
        required=False,
        help_text=gettext_lazy("The criterion the rejection rests on, or other."),
    )
    rationale = NotesField(
        label=gettext_lazy("Rationale"),
        max_length=4000,
        error_messages={"required": gettext_lazy("Give the rationale for the decision.")},
    )
    attendees = NotesField(
        label=gettext_lazy("Attending members"),
        rows=2,
        required=False,
        help_text=gettext_lazy("Optional: who took part in the decision."),
    )
    meeting_date = IsoDateField(
        label=gettext_lazy("Meeting date"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=gettext_lazy("The day the MDT met and decided."),
        error_messages={"required": gettext_lazy("Give the date of the MDT meeting.")},
    )
    evaluation = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, referral_date, limits: rules.Limits | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if limits is None:
            limits = ProtocolVersion.current().limits()
        self.fields["reason"].choices = reason_choices(limits)
        self.referral_date = referral_date
        self.fields["meeting_date"].initial = timezone.localdate()
        # The browser's date picker offers only dates the service will accept.
        attrs = self.fields["meeting_date"].widget.attrs
        attrs["min"] = referral_date.isoformat()
        attrs["max"] = timezone.localdate().isoformat()

    def clean_meeting_date(self):
        meeting_date = self.cleaned_data["meeting_date"]
        try:
            services.ensure_meeting_date(meeting_date, self.referral_date)
        except services.WorkflowError as error:
            raise forms.ValidationError(str(error), code="meeting_date") from None
        return meeting_date

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
            "meeting_date": data["meeting_date"],
            "evaluation_id": data["evaluation"],
            "second_factor": self.second_factor,
        }


class VoidForm(SignedForm):
    """Voiding the current decision before enrolment (PROTOCOL section 6); signed."""

    reason = NotesField(
        label=gettext_lazy("Reason for voiding the decision"),
        max_length=2000,
        help_text=gettext_lazy("For example: the wrong button was pressed; new findings."),
        error_messages={"required": gettext_lazy("Give the reason for voiding the decision.")},
    )

    def service_arguments(self) -> dict:
        """The keyword arguments of ``services.mdt_decision_void`` besides referral and user."""
        return {"reason": self.cleaned_data["reason"], "second_factor": self.second_factor}
