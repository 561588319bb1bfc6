"""What only the browser needs on top of ``forms.py``: the crispy layout of ``ReferralForm`` and
the withdrawal confirmation form."""

from crispy_forms.bootstrap import InlineRadios
from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Div, Fieldset, Layout, Row
from django import forms
from django.utils.translation import gettext_lazy as _

from screening import units
from screening.forms import SECTIONS, TRI_STATE_FIELDS

# The wrapper the form's script shows only when sex is F (PROTOCOL section 3).
PREGNANCY_QUESTION_ID = "pregnancy-question"


def _lab_layout(key):
    """An analyte's value and unit selector side by side, half the row wide on large screens."""
    return Div(
        Row(
            Column(key, css_class="col-7"),
            Column(f"{key}_unit", css_class="col-5"),
        ),
        css_class="col-md-6",
    )


def _section_layout(title, names):
    """Short inputs two to a row; each tri-state question on its own line as inline radios."""
    inputs, questions = [], []
    for name in names:
        if name.endswith("_unit") and name.removesuffix("_unit") in units.LAB_KEYS:
            continue
        if name in units.LAB_KEYS:
            inputs.append(_lab_layout(name))
        elif name in TRI_STATE_FIELDS:
            radios = InlineRadios(name)
            if name == "pregnant_or_breastfeeding":
                radios = Div(radios, css_id=PREGNANCY_QUESTION_ID)
            questions.append(radios)
        else:
            inputs.append(Column(name, css_class="col-md-6"))
    return Fieldset(title, Row(*inputs), *questions, css_class="card card-body mb-3")


def referral_form_helper() -> FormHelper:
    """The sections of ``forms.SECTIONS`` in clinical order; the template writes the <form>
    tag itself (it carries the live-evaluation attributes)."""
    helper = FormHelper()
    helper.form_tag = False
    helper.disable_csrf = True
    helper.layout = Layout(*(_section_layout(title, names) for title, names in SECTIONS))
    return helper


class WithdrawalForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for withdrawal"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Withdrawal is final: the referral can no longer be edited."),
        error_messages={"required": _("Give the reason for the withdrawal.")},
    )
