"""Turning evaluations and referrals into what the pages show: criterion rows, the to-do list,
the outcome in words, clinical data with units and the status history.

Stored evaluations (``Evaluation.results``) and live ones (``rules.Evaluation.to_json()``) have
the same JSON shape, so the referral page and the live panel share these helpers.
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from screening import rules, staging, units
from screening.forms import SECTIONS
from screening.models import Referral
from screening.text import format_number

OUTCOME_SENTENCES = {
    rules.Outcome.POTENTIALLY_ELIGIBLE: _(
        "Potentially eligible: every criterion other than E2 passes, so the referral goes to "
        "the MDT for review."
    ),
    rules.Outcome.INCOMPLETE: _(
        "Incomplete: no criterion fails, but data is missing. Complete the to-do list below."
    ),
    rules.Outcome.INELIGIBLE: _("Ineligible: at least one criterion fails."),
}

# Units of the numbers the rules read that are not lab values (labs carry units.SI_UNIT).
VALUE_UNITS = {
    "lvef_percent": "%",
    "fev1_litres": "L",
    "lung_v20_percent": "%",
    "lung_mean_dose_gy": "Gy(RBE)",
    "heart_v30_percent": "%",
    "spinal_cord_max_gy": "Gy(RBE)",
}

# Readable answers of the choice columns, e.g. "yes" -> "Yes", "T3" -> "cT3".
CHOICE_LABELS = {
    field.name: dict(field.choices) for field in Referral._meta.fields if field.choices
}


@dataclass(frozen=True)
class CriterionRow:
    code: str
    text: str
    result: str  # "pass" / "fail" / "unknown"
    reason: str
    # (label, value with unit) the criterion read, in data-dictionary order: stored results
    # come back from jsonb with their keys reordered.
    values: list[tuple[str, str]]
    deferred: bool  # E2 unknown: "MDT to confirm", does not hold the referral back


@dataclass(frozen=True)
class TodoItem:
    code: str
    text: str
    missing: list[tuple[str, str]]  # (form field name, label)


def field_label(key: str) -> str:
    return gettext(rules.FIELD_LABELS.get(key, key))


def value_display(key: str, value) -> str:
    """A value as the rules read it: SI labs with their unit, answers in words, ISO dates."""
    if value is None or value == "":
        return gettext("not given")
    if key in units.LAB_KEYS:
        return f"{format_number(Decimal(str(value)))} {units.SI_UNIT[key]}"
    if key in VALUE_UNITS:
        return f"{format_number(Decimal(str(value)))} {VALUE_UNITS[key]}"
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(CHOICE_LABELS.get(key, {}).get(value, value))


def criterion_rows(results: dict) -> list[CriterionRow]:
    """The twelve criteria in protocol order from evaluation results JSON."""
    rows = []
    for criterion in rules.CRITERIA:
        data = results[criterion.code]
        rows.append(
            CriterionRow(
                code=criterion.code,
                text=gettext(criterion.text),
                result=data["result"],
                reason=rules.render_reason(data["template"], data["params"]),
                values=[
                    (field_label(key), value_display(key, data["values"][key]))
                    for key in rules.SNAPSHOT_KEYS
                    if key in data["values"]
                ],
                deferred=criterion.code == rules.DEFERRABLE and data["result"] == rules.UNKNOWN,
            )
        )
    return rows


def todo_items(results: dict) -> list[TodoItem]:
    """What is missing, criterion by criterion; E2 is left to the MDT and is not listed."""
    return [
        TodoItem(
            code=criterion.code,
            text=gettext(criterion.text),
            missing=[(key, field_label(key)) for key in results[criterion.code]["missing"]],
        )
        for criterion in rules.CRITERIA
        if criterion.code != rules.DEFERRABLE and results[criterion.code]["result"] == rules.UNKNOWN
    ]


def stage_group_text(histology, ct, cn, cm) -> str:
    """The AJCC 8th clinical stage group, or "not assignable" in the user's language."""
    group = staging.stage_group(histology, ct or None, cn or None, cm or None)
    return gettext("not assignable") if group == staging.NOT_ASSIGNABLE else group


def lab_display(referral: Referral, key: str) -> str:
    """A stored lab value in the unit it was entered in, with the SI value when it differs."""
    si_value = getattr(referral, key)
    if si_value is None:
        return gettext("not given")
    unit = getattr(referral, f"{key}_unit") or units.SI_UNIT[key]
    entered = f"{format_number(units.from_si(key, si_value, unit))} {unit}"
    if units.UNIT_FACTORS[key][unit] == 1:
        return entered
    return f"{entered} (= {format_number(si_value)} {units.SI_UNIT[key]})"


def clinical_sections(referral: Referral) -> list[tuple[str, list[tuple[str, str]]]]:
    """Every section 3 value of the referral under its section title, as (label, text)."""
    sections = []
    for title, names in SECTIONS:
        rows = []
        for name in names:
            if name.endswith("_unit"):
                continue
            if name == "pregnant_or_breastfeeding" and referral.sex != Referral.Sex.FEMALE:
                continue
            field = Referral._meta.get_field(name)
            if name in units.LAB_KEYS:
                text = lab_display(referral, name)
            elif name == "site":
                text = referral.site.name
            elif field.choices:
                text = getattr(referral, f"get_{name}_display")() or gettext("not given")
            else:
                text = value_display(name, getattr(referral, name))
            rows.append((str(field.verbose_name), text))
        sections.append((str(title), rows))
    return sections


@dataclass(frozen=True)
class StatusChange:
    at: datetime.datetime
    status: str
    label: str
    by: str


def status_history(referral: Referral) -> list[StatusChange]:
    """Each change of status, oldest first, from the referral's audit events (two queries)."""
    events = referral.events.order_by("pgh_id").values_list(
        "pgh_created_at", "status", "pgh_context__metadata"
    )
    changes, previous = [], None
    for at, status, metadata in events:
        if status != previous:
            changes.append((at, status, (metadata or {}).get("user")))
            previous = status
    user_ids = {user_id for _at, _status, user_id in changes if user_id is not None}
    names = dict(
        get_user_model().objects.filter(pk__in=user_ids).values_list("pk", "username")
        if user_ids
        else ()
    )
    labels = dict(Referral.Status.choices)
    return [
        StatusChange(at, status, str(labels[status]), names.get(user_id, ""))
        for at, status, user_id in changes
    ]
