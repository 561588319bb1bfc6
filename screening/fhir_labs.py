"""Blood panels from the laboratory system: a FHIR R4 Bundle read into proposed lab values.

A Bundle (JSON) of ``Observation`` resources coded with LOINC and measured in UCUM, and the
``Patient`` they are about, is validated with ``fhir.resources`` (its R4B models read R4's
Bundle, Observation and Patient unchanged), checked against the referral's patient and turned
into values of the lab keys of PROTOCOL section 2, converted and range-checked by
``screening.units`` exactly as the form does. Nothing here saves: the coordinator accepts the
proposal and the view saves it through ``services.referral_update``.

Patient identity. The resident ID is read from an identifier whose system is one of
``RESIDENT_ID_SYSTEMS``; an identifier of another or no system counts too when its value is an
18-character resident ID whose check character is right (exports differ in the system URI they
use, and a valid check character makes a chance match with another kind of number unlikely).
When both the Bundle's patient and the referral have one, the IDs must be equal; otherwise the
name (ignoring spaces and case) and the date of birth must be.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _
from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from screening import text, units
from screening.models import Referral
from screening.national_id import check_character

LOINC_SYSTEM = "http://loinc.org"
UCUM_SYSTEM = "http://unitsofmeasure.org"

# LOINC code -> lab key (PROTOCOL section 2).
LOINC_KEYS = {
    "1742-6": "alt",
    "1920-8": "ast",
    "1975-2": "total_bilirubin",
    "2160-0": "creatinine",
    "2164-2": "creatinine_clearance",
    "6690-2": "wbc",
    "751-8": "anc",
    "777-3": "platelets",
    "718-7": "hemoglobin",
}

# UCUM code -> the unit's name in ``units.UNIT_FACTORS``; the only place UCUM spellings live.
UCUM_UNITS = {
    "U/L": "U/L",
    "[IU]/L": "IU/L",
    "umol/L": "umol/L",
    "mg/dL": "mg/dL",
    "mL/min": "mL/min",
    "10*9/L": "10^9/L",
    "10*3/uL": "10^3/uL",
    "g/L": "g/L",
    "g/dL": "g/dL",
}

# Identifier systems of the Chinese resident identity card number: the OID of the national
# health information standards (WS 363) and its URL form.
RESIDENT_ID_SYSTEMS = (
    "urn:oid:2.16.156.10011.1.1",
    "http://www.nhc.gov.cn/fhir/sid/resident-id",
)

PROPOSED_STATUSES = ("final", "amended")
OBSERVATION_STATUSES = (
    "registered",
    "preliminary",
    "final",
    "amended",
    "corrected",
    "cancelled",
    "entered-in-error",
    "unknown",
)

# A day's panel is complete when it gives every value I4 and I5 judge (kidney function by
# either creatinine or its clearance).
_COMPLETE_PANEL = ("alt", "ast", "total_bilirubin", "wbc", "anc", "platelets", "hemoglobin")
_KIDNEY = ("creatinine", "creatinine_clearance")

# The largest Bundle read, in characters: a laboratory export of one patient is a few kB.
MAX_BUNDLE_CHARS = 500_000

_STORED_PLACES = Decimal("0.00001")  # the lab columns' five decimal places


class IntakeError(ValueError):
    """A Bundle that cannot be taken in; the message names the entry and the problem."""


@dataclass(frozen=True)
class LabResult:
    """One Observation read as a lab value."""

    key: str
    value: Decimal  # in SI
    unit: str  # the unit as ``units`` names it, stored as the value's entered unit
    original: str  # value and unit as the Bundle gives them
    day: datetime.date
    moment: datetime.datetime | datetime.date
    observation_id: str
    status: str
    entry: str  # "entry 3 (urn:uuid:...)"


@dataclass(frozen=True)
class Ignored:
    """An entry that gives no proposed value, and why."""

    entry: str
    what: str
    why: str


@dataclass
class Intake:
    """What a Bundle proposes for a referral."""

    panel_date: datetime.date | None
    proposed: dict[str, LabResult]  # lab key -> its value of ``panel_date``, LAB_KEYS order
    other_days: list[LabResult] = field(default_factory=list)  # usable, not of panel_date
    ignored: list[Ignored] = field(default_factory=list)


def _entry_label(index: int, entry: dict) -> str:
    full_url = entry.get("fullUrl") if isinstance(entry, dict) else None
    if full_url:
        return _("entry %(index)s (%(url)s)") % {"index": index, "url": full_url}
    return _("entry %(index)s") % {"index": index}


def _validation_problem(error: ValidationError, raw: dict) -> str:
    """The first problem pydantic found, with the entry it is in named."""
    first = error.errors()[0]
    location = list(first["loc"])
    where = _("the Bundle")
    entries = raw.get("entry") if isinstance(raw.get("entry"), list) else []
    if len(location) >= 2 and location[0] == "entry" and isinstance(location[1], int):
        index = location[1]
        where = _entry_label(index, entries[index] if index < len(entries) else {})
        location = location[2:]
        if location[:1] == ["resource"]:
            location = location[1:]
    path = ".".join(str(part) for part in location) or "-"
    return _("Not valid FHIR: %(where)s, %(path)s: %(problem)s") % {
        "where": where,
        "path": path,
        "problem": first["msg"],
    }


def read_bundle(content: str) -> tuple[Bundle, list[dict]]:
    """The validated Bundle and its raw entries; IntakeError for anything not valid FHIR."""
    if len(content) > MAX_BUNDLE_CHARS:
        raise IntakeError(
            _("The file is larger than %(limit)s characters: export one patient's results.")
            % {"limit": MAX_BUNDLE_CHARS}
        )
    try:
        raw = json.loads(content, parse_float=Decimal)
    except ValueError as error:
        raise IntakeError(_("Not JSON: %(problem)s") % {"problem": error}) from None
    if not isinstance(raw, dict) or raw.get("resourceType") != "Bundle":
        raise IntakeError(_('Not a FHIR Bundle: the JSON must have resourceType "Bundle".'))
    try:
        bundle = Bundle.model_validate(raw)
    except ValidationError as error:
        raise IntakeError(_validation_problem(error, raw)) from None
    raw_entries = raw.get("entry") or []
    for index, entry in enumerate(bundle.entry or []):
        resource = entry.resource
        if resource is None:
            raise IntakeError(
                _("Not valid FHIR: %(where)s has no resource.")
                % {"where": _entry_label(index, raw_entries[index])}
            )
        status = getattr(resource, "status", None)
        if resource.get_resource_type() == "Observation" and status not in OBSERVATION_STATUSES:
            raise IntakeError(
                _("Not valid FHIR: %(where)s, status: '%(status)s' is not an Observation status.")
                % {"where": _entry_label(index, raw_entries[index]), "status": status}
            )
    return bundle, raw_entries


def _normal_name(name: str) -> str:
    return "".join(name.split()).casefold()


def _resident_ids(patient) -> set[str]:
    found = set()
    for identifier in patient.identifier or []:
        value = (identifier.value or "").strip().upper()
        valid = (
            len(value) == 18 and value[:17].isdigit() and check_character(value[:17]) == value[17]
        )
        if identifier.system in RESIDENT_ID_SYSTEMS or valid:
            found.add(value)
    return found


def _names(patient) -> set[str]:
    names = set()
    for name in patient.name or []:
        given = "".join(name.given or [])
        family = name.family or ""
        for spelling in (name.text, family + given, given + family):
            if spelling:
                names.add(_normal_name(spelling))
    return names


def _check_patient(patient, referral) -> None:
    """Raise IntakeError naming the mismatch when ``patient`` is not the referral's patient."""
    bundle_ids = _resident_ids(patient)
    if referral.national_id and bundle_ids:
        if referral.national_id.upper() not in bundle_ids:
            raise IntakeError(
                _(
                    "Wrong patient: the Bundle's patient has national ID %(bundle)s, the referral "
                    "%(referral)s. Nothing was taken in."
                )
                % {"bundle": text.join_items(sorted(bundle_ids)), "referral": referral.national_id}
            )
        return
    names = _names(patient)
    if not names or patient.birthDate is None:
        raise IntakeError(
            _(
                "The Bundle's patient has no national ID the referral could be compared with, "
                "and no name and date of birth: it cannot be matched to the referral."
            )
        )
    if _normal_name(referral.full_name) not in names:
        raise IntakeError(
            _("Wrong patient: the Bundle is about %(bundle)s, the referral about %(referral)s.")
            % {
                "bundle": patient.name[0].text or text.join_items(sorted(names)),
                "referral": referral.full_name,
            }
        )
    if patient.birthDate != referral.date_of_birth:
        raise IntakeError(
            _(
                "Wrong patient: the Bundle's patient was born on %(bundle)s, the referral's on "
                "%(referral)s."
            )
            % {
                "bundle": patient.birthDate.isoformat(),
                "referral": referral.date_of_birth.isoformat(),
            }
        )


def _find_patient(bundle: Bundle, raw_entries: list[dict]):
    """The Bundle's one Patient and the references that point to it."""
    patients = [
        (index, entry)
        for index, entry in enumerate(bundle.entry or [])
        if entry.resource.get_resource_type() == "Patient"
    ]
    if len(patients) != 1:
        raise IntakeError(
            _(
                "The Bundle must hold exactly one Patient, to check the results are this "
                "patient's; it holds %(count)s."
            )
            % {"count": len(patients)}
        )
    _index, entry = patients[0]
    references = {f"Patient/{entry.resource.id}"} if entry.resource.id else set()
    if entry.fullUrl:
        references.add(entry.fullUrl)
    return entry.resource, references


def _loinc_code(observation) -> str | None:
    for coding in observation.code.coding or []:
        if coding.system == LOINC_SYSTEM and coding.code:
            return coding.code
    return None


def _what(observation, code) -> str:
    label = observation.code.text or next(
        (coding.display for coding in observation.code.coding or [] if coding.display), ""
    )
    return " ".join(part for part in (code or "", label) if part) or _("(no code)")


def _local_day(moment) -> datetime.date:
    if isinstance(moment, datetime.datetime):
        if timezone.is_naive(moment):
            return moment.date()
        return timezone.localtime(moment).date()
    return moment


def _result(index, label, observation, key) -> LabResult | Ignored:
    """The observation as a lab value, or why it is not one."""
    code = _loinc_code(observation)
    what = _what(observation, code)
    if observation.status not in PROPOSED_STATUSES:
        why = _("status '%(status)s': only final and amended results are proposed")
        return Ignored(label, what, why % {"status": observation.status})
    moment = observation.effectiveDateTime
    if moment is None:
        return Ignored(label, what, _("no effectiveDateTime: the panel date is unknown"))
    quantity = observation.valueQuantity
    if quantity is None or quantity.value is None:
        return Ignored(label, what, _("no valueQuantity"))
    ucum = quantity.code if quantity.system in (UCUM_SYSTEM, None) and quantity.code else None
    written = ucum or quantity.unit or ""
    original = f"{quantity.value} {written}".strip()
    try:
        unit = units.canonical_unit(key, UCUM_UNITS.get(written, written), required=True)
        si_value = units.to_si(key, quantity.value, unit)
    except units.UnitError as error:
        label_of_key = str(_field_label(key))
        return Ignored(
            label, what, text.render(error.template, {**error.params, "key": label_of_key})
        )
    return LabResult(
        key=key,
        value=_stored(si_value),
        unit=unit,
        original=original,
        day=_local_day(moment),
        moment=moment,
        observation_id=observation.id or "",
        status=observation.status,
        entry=label,
    )


def _stored(value: Decimal) -> Decimal:
    """``value`` as the lab column keeps it (five places), without trailing zeros."""
    value = value.quantize(_STORED_PLACES).normalize()
    return value.quantize(Decimal(1)) if value.as_tuple().exponent > 0 else value


def _field_label(key: str) -> str:
    return Referral._meta.get_field(key).verbose_name


def _complete(keys: set[str]) -> bool:
    return set(_COMPLETE_PANEL) <= keys and bool(keys.intersection(_KIDNEY))


def _sort_moment(result: LabResult):
    moment = result.moment
    if isinstance(moment, datetime.datetime):
        return timezone.make_aware(moment) if timezone.is_naive(moment) else moment
    return timezone.make_aware(datetime.datetime.combine(moment, datetime.time()))


def intake(content: str, referral) -> Intake:
    """What ``content`` (a Bundle's JSON text) proposes for ``referral``; nothing is saved.

    Raises IntakeError when the Bundle is not valid FHIR, is about another patient or an
    Observation names another subject. The proposed panel is the latest day whose results are
    complete for I4 and I5, or the latest day when none is; the other days' results are listed,
    not mixed in. One query (the referral's model is already loaded).
    """
    bundle, raw_entries = read_bundle(content)
    patient, references = _find_patient(bundle, raw_entries)
    _check_patient(patient, referral)
    results, ignored = [], []
    for index, entry in enumerate(bundle.entry or []):
        resource = entry.resource
        label = _entry_label(index, raw_entries[index])
        kind = resource.get_resource_type()
        if kind == "Patient":
            continue
        if kind != "Observation":
            ignored.append(Ignored(label, kind, _("not an Observation")))
            continue
        subject = resource.subject.reference if resource.subject else None
        if subject and subject not in references:
            raise IntakeError(
                _("Wrong patient: %(where)s is about %(subject)s, not the Bundle's patient.")
                % {"where": label, "subject": subject}
            )
        code = _loinc_code(resource)
        key = LOINC_KEYS.get(code)
        if key is None:
            why = _("not a LOINC code of the screening panel")
            ignored.append(Ignored(label, _what(resource, code), why))
            continue
        found = _result(index, label, resource, key)
        (results if isinstance(found, LabResult) else ignored).append(found)
    latest: dict[tuple[datetime.date, str], LabResult] = {}
    for result in sorted(results, key=_sort_moment):
        latest[(result.day, result.key)] = result
    by_day: dict[datetime.date, set[str]] = {}
    for day, key in latest:
        by_day.setdefault(day, set()).add(key)
    complete_days = [day for day, keys in by_day.items() if _complete(keys)]
    panel_date = max(complete_days or by_day, default=None)
    proposed = {
        key: latest[(panel_date, key)] for key in units.LAB_KEYS if (panel_date, key) in latest
    }
    chosen = {id(result) for result in proposed.values()}
    other_days = sorted(
        (result for result in results if id(result) not in chosen),
        key=lambda result: (result.day, units.LAB_KEYS.index(result.key)),
        reverse=True,
    )
    return Intake(panel_date, proposed, other_days, ignored)


def accepted_data(found: Intake, keys) -> dict:
    """The referral fields the accepted ``keys`` set: values in SI, their units and the
    panel's date as ``labs_date``."""
    data = {}
    for key in keys:
        result = found.proposed[key]
        data[key] = result.value
        data[f"{key}_unit"] = result.unit
    if data:
        data["labs_date"] = found.panel_date
    return data


def source_text(file_name: str, results) -> str:
    """The audit trail's note of where accepted values came from."""
    ids = text.join_items(result.observation_id or result.entry for result in results)
    return _("FHIR Bundle %(file)s, Observation %(ids)s") % {"file": file_name, "ids": ids}
