"""The twelve eligibility criteria (PROTOCOL section 4): a snapshot in, twelve results out.

Pure Python and cheap (tens of microseconds per evaluation): no ORM, no settings, no lazy
translation proxies. Reasons are stored as a gettext_noop-marked English template plus params
and rendered (translated) only when read, so an evaluation can be stored and replayed for audit.

Inside every criterion: ``fail`` when the data present already proves it, otherwise
``unknown`` when anything it needs is missing, otherwise ``pass``.
"""

from __future__ import annotations

import datetime
import functools
import operator
from collections.abc import Callable
from dataclasses import dataclass, fields
from decimal import Decimal
from enum import StrEnum
from typing import get_type_hints

import orjson

from screening.text import (
    format_number,
    format_param,
    gettext_noop,
    join_clauses,
    join_items,
    render,
    translate,
)


class Result(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    UNKNOWN = "unknown"


class Outcome(StrEnum):
    INELIGIBLE = "ineligible"
    INCOMPLETE = "incomplete"
    POTENTIALLY_ELIGIBLE = "potentially_eligible"


PASS, FAIL, UNKNOWN = Result.PASS, Result.FAIL, Result.UNKNOWN
INELIGIBLE, INCOMPLETE, POTENTIALLY_ELIGIBLE = (
    Outcome.INELIGIBLE,
    Outcome.INCOMPLETE,
    Outcome.POTENTIALLY_ELIGIBLE,
)


@dataclass(frozen=True, slots=True)
class Criterion:
    code: str
    # gettext_noop-marked wording of the trial announcement; ``{name}`` fields are ``Limits``
    # fields, filled by ``criterion_text`` with the limits of a protocol version.
    text: str


# Labs are judged only when fresh, so the limits of I4 and I5 end with the labs window.
CRITERIA: tuple[Criterion, ...] = (
    Criterion("I1", gettext_noop("Age {age_min}–{age_max} years (inclusive)")),
    Criterion(
        "I2",
        gettext_noop("Meets AJCC 8th edition staging criteria: cT1-4N0-3M0 (excluding cT1-2N0M0)"),
    ),
    Criterion("I3", gettext_noop("No prior radical radiotherapy or surgery for esophageal cancer")),
    Criterion(
        "I4",
        gettext_noop(
            "Normal liver and kidney function: ALT and AST ≤ {alt_max} U/L, "
            "total bilirubin ≤ {total_bilirubin_max} µmol/L, "
            "creatinine ≤ {creatinine_max} µmol/L "
            "or clearance ≥ {creatinine_clearance_min} mL/min; labs within {labs_max_age_days} days"
        ),
    ),
    Criterion(
        "I5",
        gettext_noop(
            "Normal bone marrow function: WBC ≥ {wbc_min} ×10⁹/L, ANC ≥ {anc_min} ×10⁹/L, "
            "platelets ≥ {platelets_min} ×10⁹/L, hemoglobin ≥ {hemoglobin_min} g/L; "
            "labs within {labs_max_age_days} days"
        ),
    ),
    Criterion(
        "I6",
        gettext_noop(
            "Cardiopulmonary function sufficient to tolerate radiotherapy: "
            "ECOG ≤ {ecog_max}; LVEF ≥ {lvef_min}% and FEV1 ≥ {fev1_min} L when measured"
        ),
    ),
    Criterion("E1", gettext_noop("Esophageal malignancy without pathological confirmation")),
    Criterion(
        "E2",
        gettext_noop(
            "Organs at risk cannot meet dose constraint requirements: "
            "lung V20 ≤ {lung_v20_max}%, mean lung dose ≤ {lung_mean_dose_max} Gy(RBE), "
            "heart V30 ≤ {heart_v30_max}%, spinal cord max dose ≤ {spinal_cord_max} Gy(RBE)"
        ),
    ),
    Criterion("E3", gettext_noop("High risk of esophageal perforation")),
    Criterion("E4", gettext_noop("Presence of abdominal lymph node metastasis")),
    Criterion(
        "E5",
        gettext_noop(
            "Implanted metal devices that may affect dose distribution or pose radiotherapy "
            "safety risks (e.g., pacemakers)"
        ),
    ),
    Criterion("E6", gettext_noop("Absolute contraindications to radiotherapy")),
)
# I4 when an amendment sets ALT and AST apart.
T_I4_ALT_AST_APART = gettext_noop(
    "Normal liver and kidney function: ALT ≤ {alt_max} U/L, AST ≤ {ast_max} U/L, "
    "total bilirubin ≤ {total_bilirubin_max} µmol/L, "
    "creatinine ≤ {creatinine_max} µmol/L or clearance ≥ {creatinine_clearance_min} mL/min; "
    "labs within {labs_max_age_days} days"
)
CODES: tuple[str, ...] = tuple(c.code for c in CRITERIA)
_CODE_INDEX = {code: i for i, code in enumerate(CODES)}
DEFERRABLE = "E2"  # its unknown does not hold a referral back: dosimetry follows the MDT


@dataclass(frozen=True, slots=True)
class Limits:
    """Protocol thresholds; ProtocolVersion stores the same names and builds Limits(**...)."""

    age_min: int = 18
    age_max: int = 70
    alt_max: Decimal | int = 100  # U/L
    ast_max: Decimal | int = 100  # U/L
    total_bilirubin_max: Decimal | int = Decimal("31.5")  # umol/L
    creatinine_max: Decimal | int = 156  # umol/L
    creatinine_clearance_min: Decimal | int = 60  # mL/min
    wbc_min: Decimal | int = Decimal("4.0")  # 10^9/L
    anc_min: Decimal | int = Decimal("1.5")  # 10^9/L
    platelets_min: Decimal | int = 100  # 10^9/L
    hemoglobin_min: Decimal | int = 90  # g/L
    ecog_max: int = 1  # fails when ecog > ecog_max
    lvef_min: Decimal | int = 50  # %
    fev1_min: Decimal | int = Decimal("1.2")  # L
    labs_max_age_days: int = 28
    lung_v20_max: Decimal | int = 25  # %
    lung_mean_dose_max: Decimal | int = 20  # Gy(RBE)
    heart_v30_max: Decimal | int = 40  # %
    spinal_cord_max: Decimal | int = 45  # Gy(RBE)


DEFAULT_LIMITS = Limits()
_CRITERION_TEXTS = {criterion.code: criterion.text for criterion in CRITERIA}


def criterion_text(code: str, limits: Limits) -> str:
    """The criterion's wording with the limits of ``limits``, translated: e.g. I1 "Age 18–70
    years (inclusive)". Numbers read as in the reasons (format_number)."""
    template = _CRITERION_TEXTS[code]
    if code == "I4" and limits.alt_max != limits.ast_max:
        template = T_I4_ALT_AST_APART
    return render(template, {field.name: getattr(limits, field.name) for field in fields(limits)})


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The clinical data the rules read. None always means "not known".

    Tri-state answers are "yes" / "no" / "unknown" (None is unknown). Labs are in SI units
    (screening.units). ``dosimetry_status`` None means "not_assessed".
    """

    sex: str | None = None
    date_of_birth: datetime.date | None = None
    screening_date: datetime.date | None = None
    pathology_confirmed: str | None = None
    histology: str | None = None
    ct: str | None = None
    cn: str | None = None
    cm: str | None = None
    prior_esophageal_radiotherapy: str | None = None
    prior_esophageal_surgery: str | None = None
    labs_date: datetime.date | None = None
    alt: Decimal | None = None
    ast: Decimal | None = None
    total_bilirubin: Decimal | None = None
    creatinine: Decimal | None = None
    creatinine_clearance: Decimal | None = None
    wbc: Decimal | None = None
    anc: Decimal | None = None
    platelets: Decimal | None = None
    hemoglobin: Decimal | None = None
    ecog: int | None = None
    lvef_percent: Decimal | None = None
    fev1_litres: Decimal | None = None
    cardiac_event_within_6_months: str | None = None
    uncontrolled_arrhythmia: str | None = None
    interstitial_lung_disease: str | None = None
    dosimetry_status: str | None = None
    lung_v20_percent: Decimal | None = None
    lung_mean_dose_gy: Decimal | None = None
    heart_v30_percent: Decimal | None = None
    spinal_cord_max_gy: Decimal | None = None
    fistula_or_perforation: str | None = None
    deep_ulceration: str | None = None
    perforation_risk_other: str | None = None
    abdominal_lymph_node_metastasis: str | None = None
    cardiac_implantable_device: str | None = None
    metal_implant_in_treatment_region: str | None = None
    pregnant_or_breastfeeding: str | None = None
    active_connective_tissue_disease: str | None = None
    prior_thoracic_radiotherapy_overlap: str | None = None
    other_absolute_rt_contraindication: str | None = None

    def json_text(self) -> str:
        """``to_json`` as JSON text, written in one pass by orjson (an import writes
        thousands)."""
        return orjson.dumps(self, default=_exact_decimal).decode()

    def to_json(self) -> dict:
        """JSON-safe dict of every field: dates ISO, Decimals as exact strings, None kept."""
        data = {}
        for name in SNAPSHOT_KEYS:
            value = getattr(self, name)
            if isinstance(value, datetime.date):
                value = value.isoformat()
            elif isinstance(value, Decimal):
                value = f"{value:f}"
            data[name] = value
        return data

    @classmethod
    def from_json(cls, data: dict) -> Snapshot:
        """Inverse of to_json. Absent keys are None; keys this version does not know are
        ignored so that snapshots stored by an older release can still be replayed."""
        kwargs = {}
        for name, read in _FROM_JSON.items():
            value = data.get(name)
            if value is not None:
                kwargs[name] = value if read is None else read(value)
        return cls(**kwargs)


SNAPSHOT_KEYS: tuple[str, ...] = tuple(f.name for f in fields(Snapshot))


def _date_from_json(value: datetime.date | str) -> datetime.date:
    return datetime.date.fromisoformat(value) if isinstance(value, str) else value


def _decimal_from_json(value: Decimal | int | float | str) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


# Snapshot field type -> how from_json reads it (None: as it is). A field of a type not listed
# here fails at import (KeyError) instead of being read unconverted.
_JSON_READERS = {
    str | None: None,
    datetime.date | None: _date_from_json,
    Decimal | None: _decimal_from_json,
    int | None: int,
}
_FROM_JSON = {name: _JSON_READERS[hint] for name, hint in get_type_hints(Snapshot).items()}


# Readable names of snapshot keys, used in "missing: ..." reasons and to-do lists.
FIELD_LABELS: dict[str, str] = {
    "sex": gettext_noop("sex"),
    "date_of_birth": gettext_noop("date of birth"),
    "screening_date": gettext_noop("screening date"),
    "pathology_confirmed": gettext_noop("pathological confirmation"),
    "histology": gettext_noop("histology"),
    "ct": gettext_noop("cT"),
    "cn": gettext_noop("cN"),
    "cm": gettext_noop("cM"),
    "prior_esophageal_radiotherapy": gettext_noop("prior radical radiotherapy"),
    "prior_esophageal_surgery": gettext_noop("prior radical surgery"),
    "labs_date": gettext_noop("labs date"),
    "alt": gettext_noop("ALT"),
    "ast": gettext_noop("AST"),
    "total_bilirubin": gettext_noop("total bilirubin"),
    "creatinine": gettext_noop("creatinine"),
    "creatinine_clearance": gettext_noop("creatinine clearance"),
    "wbc": gettext_noop("WBC"),
    "anc": gettext_noop("ANC"),
    "platelets": gettext_noop("platelets"),
    "hemoglobin": gettext_noop("hemoglobin"),
    "ecog": gettext_noop("ECOG"),
    "lvef_percent": gettext_noop("LVEF"),
    "fev1_litres": gettext_noop("FEV1"),
    "cardiac_event_within_6_months": gettext_noop("cardiac event within 6 months"),
    "uncontrolled_arrhythmia": gettext_noop("uncontrolled arrhythmia"),
    "interstitial_lung_disease": gettext_noop("interstitial lung disease"),
    "dosimetry_status": gettext_noop("dosimetry status"),
    "lung_v20_percent": gettext_noop("lung V20"),
    "lung_mean_dose_gy": gettext_noop("mean lung dose"),
    "heart_v30_percent": gettext_noop("heart V30"),
    "spinal_cord_max_gy": gettext_noop("spinal cord max dose"),
    "fistula_or_perforation": gettext_noop("fistula or perforation"),
    "deep_ulceration": gettext_noop("deep ulceration"),
    "perforation_risk_other": gettext_noop("other perforation risk"),
    "abdominal_lymph_node_metastasis": gettext_noop("abdominal lymph node metastasis"),
    "cardiac_implantable_device": gettext_noop("cardiac implantable device"),
    "metal_implant_in_treatment_region": gettext_noop("metal implant in the treatment region"),
    "pregnant_or_breastfeeding": gettext_noop("pregnant or breastfeeding"),
    "active_connective_tissue_disease": gettext_noop("active connective tissue disease"),
    "prior_thoracic_radiotherapy_overlap": gettext_noop("overlapping prior thoracic radiotherapy"),
    "other_absolute_rt_contraindication": gettext_noop("other absolute contraindication to RT"),
}

# A multi-part reason is its part templates joined with this; each part translates on its own.
PART_SEPARATOR = "; "


def render_reason(template: str, params: dict) -> str:
    """Translate and fill a reason template, also from stored params; key lists read as labels.

    Parts and lists are joined as the active language joins them ("; " and ", " in English).
    """
    formatted = {}
    for name, value in params.items():
        if isinstance(value, tuple | list):
            formatted[name] = join_items(translate(FIELD_LABELS.get(k, k)) for k in value)
        else:
            formatted[name] = format_param(value)
    return join_clauses(
        translate(part).format(**formatted) for part in template.split(PART_SEPARATOR)
    )


def _exact_decimal(value: object) -> str:
    """How ``Snapshot.json_text`` writes what orjson does not: a Decimal, as ``to_json``."""
    if isinstance(value, Decimal):
        return f"{value:f}"
    raise TypeError(f"{type(value).__name__} is not JSON")


def _normalised_decimal(value: object) -> str:
    """How ``Evaluation.results_json_text`` writes what orjson does not: a Decimal, as
    ``_json_safe``."""
    if isinstance(value, Decimal):
        return _normalised_number(str(value))
    raise TypeError(f"{type(value).__name__} is not JSON")


# Keyed by the exact text (a Decimal equal to another, 0 and -0 say, may be written apart): an
# import's results hold about a thousand different numbers, each written hundreds of times.
@functools.lru_cache(maxsize=4096)
def _normalised_number(text: str) -> str:
    return format_number(Decimal(text))


def _json_safe(value: object) -> object:
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        # Normalised, so a stored limit of 100.00 reads "100" when the reason is re-rendered.
        return format_number(value)
    if isinstance(value, tuple):
        return list(value)
    return value


# Results are read-only by convention rather than frozen: a frozen dataclass sets each field
# through object.__setattr__, which made building the twelve results half of an evaluation.
@dataclass(slots=True)
class CriterionResult:
    code: str
    result: Result
    template: str  # gettext_noop-marked; parts joined with PART_SEPARATOR
    params: dict
    values: dict  # snapshot key -> value this criterion read
    missing: tuple[str, ...] = ()  # snapshot keys to complete; empty unless unknown

    @property
    def reason(self) -> str:
        return render_reason(self.template, self.params)

    def to_json(self) -> dict:
        return {
            "code": self.code,
            "result": str(self.result),
            "template": self.template,
            "params": {k: _json_safe(v) for k, v in self.params.items()},
            "values": {k: _json_safe(v) for k, v in self.values.items()},
            "missing": list(self.missing),
        }


@dataclass(slots=True)
class Evaluation:
    results: tuple[CriterionResult, ...]  # in CRITERIA order
    outcome: Outcome

    def result(self, code: str) -> CriterionResult:
        return self.results[_CODE_INDEX[code]]

    @property
    def todo(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """(code, missing keys) for each unknown criterion that holds the referral back."""
        return tuple(
            (r.code, r.missing)
            for r in self.results
            if r.result is UNKNOWN and r.code != DEFERRABLE
        )

    @property
    def deferred(self) -> CriterionResult | None:
        """E2 when it is unknown: shown as "MDT to confirm", does not block."""
        e2 = self.results[_CODE_INDEX[DEFERRABLE]]
        return e2 if e2.result is UNKNOWN else None

    def to_json(self) -> dict:
        return {"outcome": str(self.outcome), "results": [r.to_json() for r in self.results]}

    def results_json_text(self) -> str:
        """``{code: result.to_json()}`` of the twelve results as JSON text, written in one pass
        by orjson straight from the results (an import writes thousands; ``to_json`` and
        ``json.dumps`` took a third of it)."""
        results = {result.code: result for result in self.results}
        return orjson.dumps(results, default=_normalised_decimal).decode()


def age_at(dob: datetime.date, on: datetime.date) -> int:
    """Completed years on ``on`` (PROTOCOL section 4); born 29 February turns a year older on
    1 March in common years."""
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


def labs_are_fresh(
    labs_date: datetime.date | None, screening_date: datetime.date | None, max_age_days: int
) -> bool:
    """0 <= screening_date - labs_date <= max_age_days; False when either date is missing."""
    if labs_date is None or screening_date is None:
        return False
    return 0 <= (screening_date - labs_date).days <= max_age_days


# --- shared by several criteria -------------------------------------------------------------

T_MISSING = gettext_noop("missing: {missing}")


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else PART_SEPARATOR.join(parts)


def _answers(
    code: str, values: dict, fail_templates: dict[str, str], pass_template: str
) -> CriterionResult:
    """A criterion made of tri-state answers: any "yes" fails, any not "no" is unknown.

    ``values`` is (snapshot key -> answer); ``fail_templates`` is (snapshot key -> template
    shown when that answer is "yes"), in the same order.
    """
    for answer in values.values():
        if answer != "no":
            break
    else:
        return CriterionResult(code, PASS, pass_template, {}, values)
    fails = [fail_templates[key] for key, answer in values.items() if answer == "yes"]
    if fails:
        return CriterionResult(code, FAIL, _join(fails), {}, values)
    missing = tuple(key for key, answer in values.items() if answer != "no")
    return CriterionResult(code, UNKNOWN, T_MISSING, {"missing": missing}, values, missing)


def _limit_checks(
    checks: tuple[tuple[str, str, str], ...],
    values: dict,
    lim: Limits,
    beyond: Callable[[Decimal, Decimal], bool],
) -> tuple[list[str], dict, tuple[str, ...]]:
    """Fail templates, their params and the absent keys of numeric checks, in table order.

    ``checks`` is (snapshot key, limit name, template shown when the value is beyond the
    limit); ``beyond`` is operator.gt for a maximum limit, operator.lt for a minimum.
    """
    fails = []
    params = {}
    absent = []
    for key, limit_name, template in checks:
        value = values[key]
        if value is None:
            absent.append(key)
            continue
        limit = getattr(lim, limit_name)
        if beyond(value, limit):
            fails.append(template)
            params[key], params[limit_name] = value, limit
    return fails, params, tuple(absent)


# The criteria that read only a few answers with few distinct values (the stage codes, the
# tri-state answers) are judged once per distinct combination of their inputs: each is a
# function of exactly those inputs, memoized, and evaluations with the same answers share one
# result object. That is sound because results are read-only by convention (nothing mutates
# ``params``, ``values`` or ``missing``; copy a result to change it). The caches are keyed on
# the inputs, never on a whole snapshot, and bounded, so that free text cannot grow them.
_SHARED_RESULTS = 1024  # per criterion; every answer combination of PROTOCOL section 4 fits
_shared = functools.lru_cache(maxsize=_SHARED_RESULTS)


T_LABS_STALE = gettext_noop(
    "labs older than {max_days} days (dated {labs_date}, screening {screening_date})"
)
T_LABS_FUTURE = gettext_noop("labs dated {labs_date}, after the screening date {screening_date}")
T_LABS_UNDATED = gettext_noop("labs undated")


def _stale_labs(
    code: str, s: Snapshot, lim: Limits, values: dict, absent_analytes: Callable[[dict], tuple]
) -> CriterionResult:
    """The unknown result for labs that are not fresh (``labs_are_fresh``), whatever their values.

    Stale or future-dated labs need a new panel, so only ``labs_date`` is listed as missing.
    Undated labs also list the analytes not given, so the to-do list is complete.
    """
    labs_date, on = s.labs_date, s.screening_date
    if labs_date is not None and on is not None:
        params = {"labs_date": labs_date, "screening_date": on, "max_days": lim.labs_max_age_days}
        template = T_LABS_STALE if (on - labs_date).days > 0 else T_LABS_FUTURE
        return CriterionResult(code, UNKNOWN, template, params, values, ("labs_date",))
    absent = absent_analytes(values)
    if labs_date is None and on is not None:
        if not absent:
            return CriterionResult(code, UNKNOWN, T_LABS_UNDATED, {}, values, ("labs_date",))
        template = T_LABS_UNDATED + PART_SEPARATOR + T_MISSING
        missing = ("labs_date", *absent)
        return CriterionResult(code, UNKNOWN, template, {"missing": absent}, values, missing)
    # Without a screening date freshness cannot be judged: that is what to complete.
    missing = ("screening_date",) if labs_date is not None else ("labs_date", "screening_date")
    missing += absent
    return CriterionResult(code, UNKNOWN, T_MISSING, {"missing": missing}, values, missing)


# --- the criteria, in protocol order --------------------------------------------------------

T_AGE_BELOW = gettext_noop("age {age} is below {age_min}")
T_AGE_ABOVE = gettext_noop("age {age} is above {age_max}")
T_AGE_WITHIN = gettext_noop("age {age} ({age_min}-{age_max})")


def _i1_age(s: Snapshot, lim: Limits) -> CriterionResult:
    dob, on = s.date_of_birth, s.screening_date
    values = {"date_of_birth": dob, "screening_date": on}
    if dob is None or on is None:
        missing = tuple(key for key, value in values.items() if value is None)
        return CriterionResult("I1", UNKNOWN, T_MISSING, {"missing": missing}, values, missing)
    age = age_at(dob, on)
    params = {"age": age, "age_min": lim.age_min, "age_max": lim.age_max}
    if age < lim.age_min:
        return CriterionResult("I1", FAIL, T_AGE_BELOW, params, values)
    if age > lim.age_max:
        return CriterionResult("I1", FAIL, T_AGE_ABOVE, params, values)
    return CriterionResult("I1", PASS, T_AGE_WITHIN, params, values)


T_M1 = gettext_noop("distant metastasis (cM1)")
T_CT_OUTSIDE = gettext_noop("c{ct} is outside cT1-4")
T_EARLY_N0 = gettext_noop("c{ct}N0 is excluded (cT1-2N0M0)")
T_TX = gettext_noop("cTX: primary tumour not assessed")
T_NX = gettext_noop("cNX: regional nodes not assessed")
T_STAGE_WITHIN = gettext_noop("c{ct}{cn}{cm} is within cT1-4N0-3M0")

_T_OUTSIDE = frozenset({"T0", "Tis"})
_T_EARLY = frozenset({"T1", "T1a", "T1b", "T2"})
_T_ELIGIBLE = frozenset({"T1", "T1a", "T1b", "T2", "T3", "T4", "T4a", "T4b"})
_N_ASSESSED = frozenset({"N0", "N1", "N2", "N3"})


@_shared
def _i2_stage(ct: str | None, cn: str | None, cm: str | None) -> CriterionResult:
    values = {"ct": ct, "cn": cn, "cm": cm}
    params = {"ct": ct, "cn": cn, "cm": cm}
    fails = []
    if cm == "M1":
        fails.append(T_M1)
    if ct in _T_OUTSIDE:
        fails.append(T_CT_OUTSIDE)
    elif ct in _T_EARLY and cn == "N0":
        # Excluded whatever cM turns out to be: M0 is cT1-2N0M0, M1 fails anyway.
        fails.append(T_EARLY_N0)
    if fails:
        return CriterionResult("I2", FAIL, _join(fails), params, values)
    if ct in _T_ELIGIBLE and cn in _N_ASSESSED and cm == "M0":
        return CriterionResult("I2", PASS, T_STAGE_WITHIN, params, values)
    # TX / NX are answers ("cannot be assessed") rather than blanks, so they get their own
    # wording; anything else unusable (None, unrecognised) is listed as missing.
    missing = []
    absent = []
    parts = []
    if ct not in _T_ELIGIBLE:
        missing.append("ct")
        if ct == "TX":
            parts.append(T_TX)
        else:
            absent.append("ct")
    if cn not in _N_ASSESSED:
        missing.append("cn")
        if cn == "NX":
            parts.append(T_NX)
        else:
            absent.append("cn")
    if cm != "M0":
        missing.append("cm")
        absent.append("cm")
    if absent:
        parts.insert(0, T_MISSING)
        params["missing"] = tuple(absent)
    missing = tuple(missing)
    return CriterionResult("I2", UNKNOWN, _join(parts), params, values, missing)


_I3_FAILS = {
    "prior_esophageal_radiotherapy": gettext_noop(
        "prior radical radiotherapy for esophageal cancer"
    ),
    "prior_esophageal_surgery": gettext_noop("prior radical surgery for esophageal cancer"),
}
_I3_PASS = gettext_noop("no prior radical radiotherapy or surgery")


@_shared
def _i3_prior_treatment(radiotherapy: str | None, surgery: str | None) -> CriterionResult:
    values = {"prior_esophageal_radiotherapy": radiotherapy, "prior_esophageal_surgery": surgery}
    return _answers("I3", values, _I3_FAILS, _I3_PASS)


# (snapshot key, limit name, template when over the limit)
_I4_LIVER = (
    ("alt", "alt_max", gettext_noop("ALT {alt} U/L is above {alt_max} U/L")),
    ("ast", "ast_max", gettext_noop("AST {ast} U/L is above {ast_max} U/L")),
    (
        "total_bilirubin",
        "total_bilirubin_max",
        gettext_noop(
            "total bilirubin {total_bilirubin} umol/L is above {total_bilirubin_max} umol/L"
        ),
    ),
)

T_CREATININE_NO_CLEARANCE = gettext_noop(
    "creatinine {creatinine} umol/L is above {creatinine_max} umol/L and no creatinine "
    "clearance is given"
)
T_CREATININE_AND_CLEARANCE = gettext_noop(
    "creatinine {creatinine} umol/L is above {creatinine_max} umol/L and creatinine clearance "
    "{creatinine_clearance} mL/min is below {creatinine_clearance_min} mL/min"
)
T_CLEARANCE_LOW = gettext_noop(
    "creatinine clearance {creatinine_clearance} mL/min is below {creatinine_clearance_min} mL/min"
)
T_LIVER_KIDNEY_OK = gettext_noop("liver and kidney function within limits")
T_KIDNEY_BY_CLEARANCE = gettext_noop(
    "kidney function by creatinine clearance {creatinine_clearance} mL/min "
    "(at least {creatinine_clearance_min} mL/min)"
)
T_LIVER_OK = gettext_noop("liver function within limits")


def _absent_liver_kidney(values: dict) -> tuple[str, ...]:
    absent = tuple(key for key, _, _ in _I4_LIVER if values[key] is None)
    if values["creatinine"] is None and values["creatinine_clearance"] is None:
        absent += ("creatinine", "creatinine_clearance")
    return absent


def _i4_liver_kidney(s: Snapshot, lim: Limits, labs_fresh: bool) -> CriterionResult:
    alt, ast, bilirubin, cr = s.alt, s.ast, s.total_bilirubin, s.creatinine
    values = {
        "labs_date": s.labs_date,
        "screening_date": s.screening_date,
        "alt": alt,
        "ast": ast,
        "total_bilirubin": bilirubin,
        "creatinine": cr,
        "creatinine_clearance": s.creatinine_clearance,
    }
    if not labs_fresh:
        return _stale_labs("I4", s, lim, values, _absent_liver_kidney)
    # The common case, decided before the bookkeeping of reasons in _i4_judged (which reaches
    # the same result for it): every value given and within its limit.
    if (
        alt is not None
        and alt <= lim.alt_max
        and ast is not None
        and ast <= lim.ast_max
        and bilirubin is not None
        and bilirubin <= lim.total_bilirubin_max
        and cr is not None
        and cr <= lim.creatinine_max
    ):
        return CriterionResult("I4", PASS, T_LIVER_KIDNEY_OK, {}, values)
    return _i4_judged(values, lim)


def _i4_judged(values: dict, lim: Limits) -> CriterionResult:
    """I4 for fresh labs, every reason worked out; ``values`` as _i4_liver_kidney gives them."""
    cr, cc = values["creatinine"], values["creatinine_clearance"]
    fails, params, missing = _limit_checks(_I4_LIVER, values, lim, operator.gt)

    kidney_by_clearance = False
    if cr is not None and cr <= lim.creatinine_max:
        pass
    elif cc is not None:
        if cc >= lim.creatinine_clearance_min:
            kidney_by_clearance = True
        else:
            fails.append(T_CREATININE_AND_CLEARANCE if cr is not None else T_CLEARANCE_LOW)
        params["creatinine_clearance"] = cc
        params["creatinine_clearance_min"] = lim.creatinine_clearance_min
        if cr is not None:
            params["creatinine"], params["creatinine_max"] = cr, lim.creatinine_max
    elif cr is not None:
        fails.append(T_CREATININE_NO_CLEARANCE)
        params["creatinine"], params["creatinine_max"] = cr, lim.creatinine_max
    else:
        missing += ("creatinine", "creatinine_clearance")

    if fails:
        return CriterionResult("I4", FAIL, _join(fails), params, values)
    if missing:
        return CriterionResult("I4", UNKNOWN, T_MISSING, {"missing": missing}, values, missing)
    if kidney_by_clearance:
        template = T_LIVER_OK + PART_SEPARATOR + T_KIDNEY_BY_CLEARANCE
        return CriterionResult("I4", PASS, template, params, values)
    return CriterionResult("I4", PASS, T_LIVER_KIDNEY_OK, {}, values)


# (snapshot key, limit name, template when under the limit)
_I5_COUNTS = (
    ("wbc", "wbc_min", gettext_noop("WBC {wbc} x10^9/L is below {wbc_min} x10^9/L")),
    ("anc", "anc_min", gettext_noop("ANC {anc} x10^9/L is below {anc_min} x10^9/L")),
    (
        "platelets",
        "platelets_min",
        gettext_noop("platelets {platelets} x10^9/L are below {platelets_min} x10^9/L"),
    ),
    (
        "hemoglobin",
        "hemoglobin_min",
        gettext_noop("hemoglobin {hemoglobin} g/L is below {hemoglobin_min} g/L"),
    ),
)

T_BLOOD_COUNTS_OK = gettext_noop("blood counts within limits")


def _absent_bone_marrow(values: dict) -> tuple[str, ...]:
    return tuple(key for key, _, _ in _I5_COUNTS if values[key] is None)


def _i5_bone_marrow(s: Snapshot, lim: Limits, labs_fresh: bool) -> CriterionResult:
    wbc, anc, platelets, hemoglobin = s.wbc, s.anc, s.platelets, s.hemoglobin
    values = {
        "labs_date": s.labs_date,
        "screening_date": s.screening_date,
        "wbc": wbc,
        "anc": anc,
        "platelets": platelets,
        "hemoglobin": hemoglobin,
    }
    if not labs_fresh:
        return _stale_labs("I5", s, lim, values, _absent_bone_marrow)
    # The common case, as in I4: every count given and within its limit.
    if (
        wbc is not None
        and wbc >= lim.wbc_min
        and anc is not None
        and anc >= lim.anc_min
        and platelets is not None
        and platelets >= lim.platelets_min
        and hemoglobin is not None
        and hemoglobin >= lim.hemoglobin_min
    ):
        return CriterionResult("I5", PASS, T_BLOOD_COUNTS_OK, {}, values)
    return _i5_judged(values, lim)


def _i5_judged(values: dict, lim: Limits) -> CriterionResult:
    """I5 for fresh labs, every reason worked out; ``values`` as _i5_bone_marrow gives them."""
    fails, params, missing = _limit_checks(_I5_COUNTS, values, lim, operator.lt)
    if fails:
        return CriterionResult("I5", FAIL, _join(fails), params, values)
    if missing:
        return CriterionResult("I5", UNKNOWN, T_MISSING, {"missing": missing}, values, missing)
    return CriterionResult("I5", PASS, T_BLOOD_COUNTS_OK, {}, values)


T_ECOG = gettext_noop("ECOG {ecog} is above {ecog_max}")
T_LVEF = gettext_noop("LVEF {lvef_percent}% is below {lvef_min}%")
T_FEV1 = gettext_noop("FEV1 {fev1_litres} L is below {fev1_min} L")
# Two parts, as render_reason translates each part on its own; evaluations store them joined.
T_CARDIOPULMONARY_OK = (
    gettext_noop("ECOG {ecog}")
    + PART_SEPARATOR
    + gettext_noop("no cardiopulmonary contraindication")
)
_I6_ANSWERS = (
    ("cardiac_event_within_6_months", gettext_noop("cardiac event within the last 6 months")),
    ("uncontrolled_arrhythmia", gettext_noop("uncontrolled arrhythmia")),
    ("interstitial_lung_disease", gettext_noop("interstitial lung disease")),
)


def _i6_cardiopulmonary(s: Snapshot, lim: Limits) -> CriterionResult:
    ecog, lvef, fev1 = s.ecog, s.lvef_percent, s.fev1_litres
    cardiac_event, arrhythmia, lung_disease = (
        s.cardiac_event_within_6_months,
        s.uncontrolled_arrhythmia,
        s.interstitial_lung_disease,
    )
    values = {
        "ecog": ecog,
        "lvef_percent": lvef,
        "fev1_litres": fev1,
        "cardiac_event_within_6_months": cardiac_event,
        "uncontrolled_arrhythmia": arrhythmia,
        "interstitial_lung_disease": lung_disease,
    }
    # The common case, as in I4: ECOG given and within its limit, the optional tests within
    # theirs when given, and "no" to the three questions.
    if (
        ecog is not None
        and ecog <= lim.ecog_max
        and (lvef is None or lvef >= lim.lvef_min)
        and (fev1 is None or fev1 >= lim.fev1_min)
        and cardiac_event == "no"
        and arrhythmia == "no"
        and lung_disease == "no"
    ):
        return CriterionResult("I6", PASS, T_CARDIOPULMONARY_OK, {"ecog": ecog}, values)
    return _i6_judged(values, lim)


def _i6_judged(values: dict, lim: Limits) -> CriterionResult:
    """I6 with every reason worked out; ``values`` as _i6_cardiopulmonary gives them."""
    ecog, lvef, fev1 = values["ecog"], values["lvef_percent"], values["fev1_litres"]
    fails = []
    params = {}
    if ecog is not None and ecog > lim.ecog_max:
        fails.append(T_ECOG)
        params["ecog"], params["ecog_max"] = ecog, lim.ecog_max
    # LVEF and FEV1 are optional tests: judged only when given, never "missing".
    if lvef is not None and lvef < lim.lvef_min:
        fails.append(T_LVEF)
        params["lvef_percent"], params["lvef_min"] = lvef, lim.lvef_min
    if fev1 is not None and fev1 < lim.fev1_min:
        fails.append(T_FEV1)
        params["fev1_litres"], params["fev1_min"] = fev1, lim.fev1_min
    for key, template in _I6_ANSWERS:
        if values[key] == "yes":
            fails.append(template)
    if fails:
        return CriterionResult("I6", FAIL, _join(fails), params, values)
    missing = ("ecog",) if ecog is None else ()
    missing += tuple(key for key, _ in _I6_ANSWERS if values[key] != "no")
    if missing:
        return CriterionResult("I6", UNKNOWN, T_MISSING, {"missing": missing}, values, missing)
    return CriterionResult("I6", PASS, T_CARDIOPULMONARY_OK, {"ecog": ecog}, values)


T_NOT_CONFIRMED = gettext_noop("no pathological confirmation")
T_CONFIRMED = gettext_noop("pathologically confirmed")


@_shared
def _e1_pathology(confirmed: str | None) -> CriterionResult:
    values = {"pathology_confirmed": confirmed}
    if confirmed == "no":
        return CriterionResult("E1", FAIL, T_NOT_CONFIRMED, {}, values)
    if confirmed != "yes":
        missing = ("pathology_confirmed",)
        return CriterionResult("E1", UNKNOWN, T_MISSING, {"missing": missing}, values, missing)
    return CriterionResult("E1", PASS, T_CONFIRMED, {}, values)


T_NOT_FEASIBLE = gettext_noop("dosimetry not feasible")

# (snapshot key, limit name, template when over the limit)
_E2_METRICS = (
    (
        "lung_v20_percent",
        "lung_v20_max",
        gettext_noop("lung V20 {lung_v20_percent}% is above {lung_v20_max}%"),
    ),
    (
        "lung_mean_dose_gy",
        "lung_mean_dose_max",
        gettext_noop(
            "mean lung dose {lung_mean_dose_gy} Gy(RBE) is above {lung_mean_dose_max} Gy(RBE)"
        ),
    ),
    (
        "heart_v30_percent",
        "heart_v30_max",
        gettext_noop("heart V30 {heart_v30_percent}% is above {heart_v30_max}%"),
    ),
    (
        "spinal_cord_max_gy",
        "spinal_cord_max",
        gettext_noop(
            "spinal cord max dose {spinal_cord_max_gy} Gy(RBE) is above {spinal_cord_max} Gy(RBE)"
        ),
    ),
)

_E2_METRIC_KEYS = tuple(key for key, _, _ in _E2_METRICS)

T_FEASIBLE = gettext_noop("dosimetry feasible")
T_CONSTRAINTS_MET = gettext_noop("all four dose constraints met")
T_DOSIMETRY_NOT_ASSESSED = gettext_noop("dosimetry not assessed: MDT to confirm")
T_DOSIMETRY_INCOMPLETE = gettext_noop("dosimetry incomplete (missing: {missing}): MDT to confirm")


def _e2_dosimetry(s: Snapshot, lim: Limits) -> CriterionResult:
    v20, mean_dose, v30, cord = (
        s.lung_v20_percent,
        s.lung_mean_dose_gy,
        s.heart_v30_percent,
        s.spinal_cord_max_gy,
    )
    if v20 is None and mean_dose is None and v30 is None and cord is None:
        return _e2_unmeasured(s.dosimetry_status)
    values = {
        "dosimetry_status": s.dosimetry_status,
        "lung_v20_percent": v20,
        "lung_mean_dose_gy": mean_dose,
        "heart_v30_percent": v30,
        "spinal_cord_max_gy": cord,
    }
    return _e2_judged(values, lim)


@_shared
def _e2_unmeasured(status: str | None) -> CriterionResult:
    """E2 before any dose metric is known, when the status alone decides it (as most often)."""
    # No metric to compare, so no limit is read.
    return _e2_judged({"dosimetry_status": status, **dict.fromkeys(_E2_METRIC_KEYS)}, None)


def _e2_judged(values: dict, lim: Limits | None) -> CriterionResult:
    """E2 with every reason worked out; ``values`` as _e2_dosimetry gives them."""
    status = values["dosimetry_status"]
    # A metric over its limit fails even when the status says "feasible": the numbers win.
    fails, params, missing = _limit_checks(_E2_METRICS, values, lim, operator.gt)
    if status == "not_feasible":
        fails.insert(0, T_NOT_FEASIBLE)
    if fails:
        return CriterionResult("E2", FAIL, _join(fails), params, values)
    if status == "feasible":
        return CriterionResult("E2", PASS, T_FEASIBLE, {}, values)
    if not missing:
        return CriterionResult("E2", PASS, T_CONSTRAINTS_MET, {}, values)
    if len(missing) == len(_E2_METRICS):
        return CriterionResult("E2", UNKNOWN, T_DOSIMETRY_NOT_ASSESSED, {}, values, missing)
    params = {"missing": missing}
    return CriterionResult("E2", UNKNOWN, T_DOSIMETRY_INCOMPLETE, params, values, missing)


_E3_FAILS = {
    "fistula_or_perforation": gettext_noop("fistula, sinus tract or perforation"),
    "deep_ulceration": gettext_noop("deep or penetrating ulceration"),
    "perforation_risk_other": gettext_noop("high perforation risk judged by the clinician"),
}
_E3_PASS = gettext_noop("no sign of high perforation risk")


@_shared
def _e3_perforation(
    fistula: str | None, deep_ulceration: str | None, other: str | None
) -> CriterionResult:
    values = {
        "fistula_or_perforation": fistula,
        "deep_ulceration": deep_ulceration,
        "perforation_risk_other": other,
    }
    return _answers("E3", values, _E3_FAILS, _E3_PASS)


_E4_FAILS = {"abdominal_lymph_node_metastasis": gettext_noop("abdominal lymph node metastasis")}
_E4_PASS = gettext_noop("no abdominal lymph node metastasis")


@_shared
def _e4_abdominal_nodes(metastasis: str | None) -> CriterionResult:
    values = {"abdominal_lymph_node_metastasis": metastasis}
    return _answers("E4", values, _E4_FAILS, _E4_PASS)


_E5_FAILS = {
    "cardiac_implantable_device": gettext_noop("cardiac implantable device (pacemaker or ICD)"),
    "metal_implant_in_treatment_region": gettext_noop("metal implant in the treatment region"),
}
_E5_PASS = gettext_noop("no implanted metal device")


@_shared
def _e5_metal(cardiac_device: str | None, metal_implant: str | None) -> CriterionResult:
    values = {
        "cardiac_implantable_device": cardiac_device,
        "metal_implant_in_treatment_region": metal_implant,
    }
    return _answers("E5", values, _E5_FAILS, _E5_PASS)


_E6_FAILS = {
    "pregnant_or_breastfeeding": gettext_noop("pregnant or breastfeeding"),
    "active_connective_tissue_disease": gettext_noop("active connective tissue disease"),
    "prior_thoracic_radiotherapy_overlap": gettext_noop(
        "prior thoracic radiotherapy overlapping the treatment field"
    ),
    "other_absolute_rt_contraindication": gettext_noop(
        "other absolute contraindication to radiotherapy"
    ),
}
_E6_PASS = gettext_noop("no absolute contraindication to radiotherapy")


@_shared
def _e6_contraindication(
    female: bool,
    pregnant: str | None,
    connective_tissue: str | None,
    prior_overlap: str | None,
    other: str | None,
) -> CriterionResult:
    values = {
        "active_connective_tissue_disease": connective_tissue,
        "prior_thoracic_radiotherapy_overlap": prior_overlap,
        "other_absolute_rt_contraindication": other,
    }
    # Pregnancy is asked only for women; for anyone else the answer is ignored entirely.
    if female:
        values = {"pregnant_or_breastfeeding": pregnant, **values}
    return _answers("E6", values, _E6_FAILS, _E6_PASS)


def evaluate(snapshot: Snapshot, limits: Limits = DEFAULT_LIMITS) -> Evaluation:
    """Judge the twelve criteria and the outcome. Pure; never raises on a well-typed snapshot."""
    s = snapshot
    labs_date, on = s.labs_date, s.screening_date
    # Judged once for I4 and I5: labs_are_fresh, written out because this is the hot path.
    labs_fresh = (
        labs_date is not None
        and on is not None
        and 0 <= (on - labs_date).days <= limits.labs_max_age_days
    )
    # Called one by one: looping over a table of judges added a generator step per criterion.
    # The shared ones (see _SHARED_RESULTS) are given exactly the answers they read.
    results = (
        _i1_age(s, limits),
        _i2_stage(s.ct, s.cn, s.cm),
        _i3_prior_treatment(s.prior_esophageal_radiotherapy, s.prior_esophageal_surgery),
        _i4_liver_kidney(s, limits, labs_fresh),
        _i5_bone_marrow(s, limits, labs_fresh),
        _i6_cardiopulmonary(s, limits),
        _e1_pathology(s.pathology_confirmed),
        _e2_dosimetry(s, limits),
        _e3_perforation(s.fistula_or_perforation, s.deep_ulceration, s.perforation_risk_other),
        _e4_abdominal_nodes(s.abdominal_lymph_node_metastasis),
        _e5_metal(s.cardiac_implantable_device, s.metal_implant_in_treatment_region),
        _e6_contraindication(
            s.sex == "F",
            s.pregnant_or_breastfeeding,
            s.active_connective_tissue_disease,
            s.prior_thoracic_radiotherapy_overlap,
            s.other_absolute_rt_contraindication,
        ),
    )
    outcome = POTENTIALLY_ELIGIBLE
    for r in results:
        verdict = r.result
        if verdict is PASS:  # most are: one test each
            continue
        if verdict is FAIL:
            outcome = INELIGIBLE
            break
        if r.code != DEFERRABLE:
            outcome = INCOMPLETE
    return Evaluation(results, outcome)
