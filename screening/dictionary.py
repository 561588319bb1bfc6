"""The data dictionary: every referral field of PROTOCOL section 3 and every export column, with
its labels in English and Chinese, type, units, allowed values and the criteria that read it.

Built from the lists the app itself uses (the form's ``REFERRAL_KEYS``, the export columns, the
model fields and their choices, ``units``, ``rules``), so a new field or column appears here by
itself; the CDISC ODM export (``screening.odm``) takes its types and code lists from here too.
"""

import dataclasses
import functools

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from screening import exports, rules, units
from screening.forms.referrals import REFERRAL_KEYS, ReferralForm
from screening.models import (
    MEASUREMENT_UNITS,
    MEASUREMENTS,
    Enrolment,
    MdtDecision,
    ProtocolVersion,
    Referral,
    Site,
)

# The languages of the dictionary's two label columns.
LANGUAGES = (("en", "en"), ("zh", "zh-hans"))
COLUMNS = (
    "key",
    "label_en",
    "label_zh",
    "type",
    "required",
    "units",
    "conversion_to_si",
    "range",
    "allowed_values_en",
    "allowed_values_zh",
    "criteria",
    "appears_in",
)
# Where a key appears: the referral form and import (section 3), then each export.
APPEARS_IN = (
    ("referral", REFERRAL_KEYS),
    ("screening_log", exports.SCREENING_LOG_COLUMNS),
    ("screening_log_identified", exports.IDENTIFYING_COLUMNS),
    ("enrolment", exports.ENROLMENT_COLUMNS),
    ("identification", exports.IDENTIFICATION_COLUMNS),
)
# Every key, in the order of first appearance.
ALL_KEYS = tuple(dict.fromkeys(key for _where, keys in APPEARS_IN for key in keys))

RESULT_CHOICES = (
    (rules.Result.PASS.value, _("Pass")),
    (rules.Result.FAIL.value, _("Fail")),
    (rules.Result.UNKNOWN.value, _("Unknown")),
)

# Export columns that are no model field: (type, label, choices).
DERIVED = {
    "age": ("integer", _("age at screening (completed years)"), ()),
    "stage_group": ("text", _("AJCC 8th clinical stage group"), ()),
    "reasons": ("text", _("reasons of the criteria that do not pass"), ()),
    "protocol_version": ("integer", _("protocol version of the evaluation"), ()),
    "mdt_decision": ("text", _("current MDT decision"), tuple(MdtDecision.Decision.choices)),
    "mdt_decision_date": ("date", _("MDT meeting date of the current decision"), ()),
    "mdt_decision_signature": (
        "text",
        _("signature of the current decision: signer, date and time, meaning"),
        (),
    ),
    "previous_screening_number": (
        "text",
        _("screening number of the same person's previous referral"),
        (),
    ),
    "withdrawal_reason": ("text", _("withdrawal reason"), tuple(Referral.WithdrawalReason.choices)),
    "enrolment_date": ("date", _("enrolment date"), ()),
    "mdt_approval_date": ("date", _("MDT meeting date of the approval"), ()),
    **dict.fromkeys(rules.CODES, ("text", None, RESULT_CHOICES)),
}
# Export columns that are a field of another model than the referral.
ENROLMENT_FIELDS = ("study_number", "consent_date")


def _criteria_reading() -> dict[str, tuple[str, ...]]:
    """Snapshot key -> the criteria whose evaluation reads it (each result's ``values``)."""
    reading = {}
    # A woman's snapshot: E6 asks about pregnancy only for women.
    for result in rules.evaluate(rules.Snapshot(sex="F")).results:
        for key in result.values:
            reading.setdefault(key, []).append(result.code)
    # E6 reads the sex to decide whether pregnancy counts; it is not among its values.
    reading.setdefault("sex", []).append("E6")
    # A lab's unit is read through its value; age is I1's.
    for key in units.LAB_KEYS:
        reading[f"{key}_unit"] = reading[key]
    reading["age"] = ["I1"]
    for code in rules.CODES:
        reading[code] = [code]
    return {key: tuple(codes) for key, codes in reading.items()}


CRITERIA_READING = _criteria_reading()


@dataclasses.dataclass(frozen=True)
class Entry:
    """What the dictionary says of one key; labels and choice labels are lazy translations."""

    key: str
    type: str  # text, integer, decimal or date
    label: object
    required: bool | None  # None for export columns
    choices: tuple = ()
    max_length: int | None = None
    decimal_places: int | None = None


@functools.cache
def required_in_form() -> frozenset[str]:
    """The section 3 keys a referral must give: what the form itself requires (no query)."""
    form = ReferralForm(protocol=None)
    return frozenset(name for name in REFERRAL_KEYS if form.fields[name].required)


def _model_field(key: str) -> models.Field | None:
    for model in (Referral, Enrolment):
        try:
            return model._meta.get_field(key)
        except FieldDoesNotExist:
            continue
    return None


def _type_of(field: models.Field) -> str:
    if isinstance(field, models.DateField):
        return "date"
    if isinstance(field, models.DecimalField):
        return "decimal"
    if isinstance(field, models.IntegerField):
        return "integer"
    return "text"


def site_choices() -> tuple:
    """(code, name) of every site: the site's choices are rows, not a model's choices."""
    return tuple(Site.objects.order_by("code").values_list("code", "name"))


def entry(key: str, *, sites: tuple = (), limits: rules.Limits = rules.DEFAULT_LIMITS) -> Entry:
    """The dictionary entry of ``key``: a referral field, a lab unit or an export column.

    ``sites`` are the site's choices (``site_choices``); a criterion's label words it with
    ``limits``. No query."""
    if key in DERIVED:
        kind, label, choices = DERIVED[key]
        if label is None:
            label = CriterionLabel(key, limits)
        return Entry(key, kind, label, None, choices)
    if key.endswith("_unit") and key.removesuffix("_unit") in units.LAB_KEYS:
        lab = key.removesuffix("_unit")
        field = Referral._meta.get_field(key)
        choices = tuple((unit, unit) for unit in units.UNIT_FACTORS[lab])
        return Entry(key, "text", field.verbose_name, False, choices)
    field = _model_field(key)
    if field is None:
        raise KeyError(key)
    in_form = key in REFERRAL_KEYS
    required = key in required_in_form()
    if key == "site":
        return Entry(key, "text", field.verbose_name, True, sites, max_length=20)
    return Entry(
        key,
        _type_of(field),
        field.verbose_name,
        required if in_form else None,
        tuple(field.choices or ()),
        max_length=getattr(field, "max_length", None) if _type_of(field) == "text" else None,
        decimal_places=getattr(field, "decimal_places", None),
    )


@dataclasses.dataclass(frozen=True)
class CriterionLabel:
    """A criterion's code and wording with ``limits``, in the active language when shown."""

    code: str
    limits: rules.Limits

    def __str__(self):
        return f"{self.code}: {rules.criterion_text(self.code, self.limits)}"


def limits_in_force() -> rules.Limits:
    """The limits of the protocol version in force (one query)."""
    current = ProtocolVersion.current()
    return current.limits() if current else rules.DEFAULT_LIMITS


def units_of(key: str) -> tuple[str, ...]:
    """The accepted units, SI first; a measurement's one unit; none for others."""
    lab = key.removesuffix("_unit")
    if lab in units.LAB_KEYS:
        return tuple(units.UNIT_FACTORS[lab])
    if key in MEASUREMENT_UNITS:
        return (MEASUREMENT_UNITS[key],)
    return ()


def _conversion(key: str) -> str:
    lab = key.removesuffix("_unit")
    if lab not in units.LAB_KEYS:
        return ""
    return "; ".join(
        f"{unit} ×{factor}" + (" (SI)" if unit == units.SI_UNIT[lab] else "")
        for unit, factor in units.UNIT_FACTORS[lab].items()
    )


def _range(key: str) -> str:
    if key in units.PLAUSIBLE_RANGE:
        low, high = units.PLAUSIBLE_RANGE[key]
        return f"{low}–{high} {units.SI_UNIT[key]}"
    if key in MEASUREMENTS:
        low, high, unit = MEASUREMENTS[key]
        return f"{low}–{high} {unit}".strip()
    return ""


def _in_language(language: str, text) -> str:
    with translation.override(language):
        return str(text)


def _allowed_values(choices, language: str) -> str:
    with translation.override(language):
        return "; ".join(f"{code}={label}" for code, label in choices)


def rows() -> list[dict]:
    """One dict per key of ``ALL_KEYS`` with the ``COLUMNS``; two queries (the protocol in
    force, the sites) whatever the data."""
    limits, sites = limits_in_force(), site_choices()
    appears_in = {}
    for where, keys in APPEARS_IN:
        for key in keys:
            appears_in.setdefault(key, []).append(where)
    built = []
    for key in ALL_KEYS:
        described = entry(key, sites=sites, limits=limits)
        built.append(
            {
                "key": key,
                **{
                    f"label_{suffix}": _in_language(language, described.label)
                    for suffix, language in LANGUAGES
                },
                "type": described.type,
                "required": {True: "yes", False: "no", None: ""}[described.required],
                "units": "; ".join(units_of(key)),
                "conversion_to_si": _conversion(key),
                "range": _range(key),
                **{
                    f"allowed_values_{suffix}": _allowed_values(described.choices, language)
                    for suffix, language in LANGUAGES
                },
                "criteria": ", ".join(CRITERIA_READING.get(key, ())),
                "appears_in": ", ".join(appears_in[key]),
            }
        )
    return built
