"""The MDT decision form. It checks what the user typed; the workflow rules are the services'."""

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from screening import rules
from screening.forms.fields import NotesField
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
    evaluation = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, limits: rules.Limits | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if limits is None:
            limits = ProtocolVersion.current().limits()
        self.fields["reason"].choices = reason_choices(limits)

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
            "second_factor": self.second_factor,
        }
