"""Lab units: conversion to SI and plausibility ranges (PROTOCOL section 2).

Pure Python. Lab values are stored in SI; every accepted input unit maps to a factor, and a
value that is implausible after conversion is rejected (it is almost always a wrong unit).
"""

from __future__ import annotations

import functools
from decimal import Decimal, InvalidOperation

from screening.text import gettext_noop, join_items, render

LAB_KEYS = (
    "alt",
    "ast",
    "total_bilirubin",
    "creatinine",
    "creatinine_clearance",
    "wbc",
    "anc",
    "platelets",
    "hemoglobin",
)

_ONE = Decimal(1)
_MICROMOL = {"umol/L": _ONE, "µmol/L": _ONE}  # µ is U+00B5 MICRO SIGN
_CELLS = {"10^9/L": _ONE, "10^3/uL": _ONE}

# Accepted input unit -> factor to SI. Dict order is the order offered in the UI, SI first.
UNIT_FACTORS: dict[str, dict[str, Decimal]] = {
    "alt": {"U/L": _ONE, "IU/L": _ONE},
    "ast": {"U/L": _ONE, "IU/L": _ONE},
    "total_bilirubin": {**_MICROMOL, "mg/dL": Decimal("17.1")},
    "creatinine": {**_MICROMOL, "mg/dL": Decimal("88.4")},
    "creatinine_clearance": {"mL/min": _ONE},
    "wbc": dict(_CELLS),
    "anc": dict(_CELLS),
    "platelets": dict(_CELLS),
    "hemoglobin": {"g/L": _ONE, "g/dL": Decimal(10)},
}

SI_UNIT: dict[str, str] = {key: next(iter(units)) for key, units in UNIT_FACTORS.items()}

# Analytes whose everyday units differ from SI by a factor of 10 to 88: a file must name the
# unit of each value it gives, which is never assumed (the browser form always sends one).
UNIT_REQUIRED_IN_FILES = ("total_bilirubin", "creatinine", "hemoglobin")

# Inclusive, in SI.
PLAUSIBLE_RANGE: dict[str, tuple[Decimal, Decimal]] = {
    "alt": (Decimal(0), Decimal(5000)),
    "ast": (Decimal(0), Decimal(5000)),
    "total_bilirubin": (Decimal(0), Decimal(1000)),
    "creatinine": (Decimal(10), Decimal(2000)),
    "creatinine_clearance": (Decimal(0), Decimal(250)),
    "wbc": (Decimal(0), Decimal(200)),
    "anc": (Decimal(0), Decimal(100)),
    "platelets": (Decimal(0), Decimal(2000)),
    "hemoglobin": (Decimal(20), Decimal(250)),
}

# Case-insensitive lookup; the Greek small mu (U+03BC) looks identical to the micro sign, so a
# user cannot tell which one they typed: both are accepted.
_UNIT_LOOKUP: dict[str, dict[str, str]] = {
    key: {unit.casefold(): unit for unit in units} for key, units in UNIT_FACTORS.items()
}


class UnitError(ValueError):
    """A lab value that cannot be accepted: unsupported unit or implausible value."""

    def __init__(self, key: str, template: str, params: dict):
        self.key = key
        self.template = template
        self.params = params
        self.message = render(template, params)
        super().__init__(self.message)


def canonical_unit(key: str, unit: str | None, *, required: bool = False) -> str:
    """The accepted spelling of ``unit`` for ``key``; None or "" means the SI unit, unless
    ``required``.

    Raises KeyError for an unknown key and UnitError for an unsupported or missing unit.
    """
    lookup = _UNIT_LOOKUP[key]
    if unit is None or not unit.strip():
        if required:
            raise UnitError(
                key,
                gettext_noop("give the unit of {key}; accepted: {accepted}"),
                {"key": key, "accepted": join_items(UNIT_FACTORS[key])},
            )
        return SI_UNIT[key]
    found = lookup.get(unit.strip().replace("\u03bc", "µ").casefold())
    if found is None:
        raise UnitError(
            key,
            gettext_noop("unsupported unit '{unit}' for {key}; accepted: {accepted}"),
            {"unit": unit, "key": key, "accepted": join_items(UNIT_FACTORS[key])},
        )
    return found


def _as_decimal(key: str, value: Decimal | int | float | str) -> Decimal:
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        template = gettext_noop("{key}: '{value}' is not a number")
        raise UnitError(key, template, {"key": key, "value": value})
    return number


def to_si(key: str, value: Decimal, unit: str | None) -> Decimal:
    """Convert ``value`` entered in ``unit`` to the SI unit of ``key``, exactly (Decimal).

    Raises UnitError when the unit is not accepted for ``key`` or when the converted value is
    outside PLAUSIBLE_RANGE (bounds inclusive). KeyError for a key not in LAB_KEYS.
    """
    return _to_si(key, value if isinstance(value, str) else str(value), unit)


# Kept by the value's text, as equal Decimals may convert apart (0 and -0): a file's lab values
# repeat, and an import converts the eight of every row.
@functools.lru_cache(maxsize=4096)
def _to_si(key: str, value: str, unit: str | None) -> Decimal:
    unit = canonical_unit(key, unit)
    entered = _as_decimal(key, value)
    si_value = entered * UNIT_FACTORS[key][unit]
    low, high = PLAUSIBLE_RANGE[key]
    if not low <= si_value <= high:
        si_unit = SI_UNIT[key]
        params = {
            "key": key,
            "value": entered,
            "unit": unit,
            "si_value": si_value,
            "si_unit": si_unit,
            "low": low,
            "high": high,
        }
        if UNIT_FACTORS[key][unit] == 1:
            template = gettext_noop(
                "{key} {value} {unit} is outside the plausible range {low}-{high} {si_unit}: "
                "check the unit"
            )
        else:
            template = gettext_noop(
                "{key} {value} {unit} is {si_value} {si_unit}, outside the plausible range "
                "{low}-{high} {si_unit}: check the unit"
            )
        raise UnitError(key, template, params)
    return _strip(si_value)


def from_si(key: str, si_value: Decimal, unit: str | None) -> Decimal:
    """Inverse of to_si without the range check: the stored SI value shown in ``unit``."""
    unit = canonical_unit(key, unit)
    return _strip(_as_decimal(key, si_value) / UNIT_FACTORS[key][unit])


def _strip(value: Decimal) -> Decimal:
    """Drop trailing zeros without switching to exponent notation (90.0 -> 90, not 9E+1)."""
    value = value.normalize()
    return value.quantize(_ONE) if value.as_tuple().exponent > 0 else value
