from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from screening import units
from screening.units import PLAUSIBLE_RANGE, SI_UNIT, UNIT_FACTORS, UnitError, from_si, to_si

D = Decimal

# (key, value entered, unit, expected SI value): one row per accepted unit of section 2.
CONVERSIONS = [
    ("alt", "30", "U/L", "30"),
    ("alt", "30", "IU/L", "30"),
    ("ast", "28", "U/L", "28"),
    ("ast", "28", "IU/L", "28"),
    ("total_bilirubin", "12", "umol/L", "12"),
    ("total_bilirubin", "12", "µmol/L", "12"),
    ("total_bilirubin", "1.842", "mg/dL", "31.4982"),
    ("creatinine", "80", "umol/L", "80"),
    ("creatinine", "80", "µmol/L", "80"),
    ("creatinine", "1.1", "mg/dL", "97.24"),
    ("creatinine_clearance", "75", "mL/min", "75"),
    ("wbc", "6.0", "10^9/L", "6"),
    ("wbc", "6.0", "10^3/uL", "6"),
    ("anc", "3.5", "10^9/L", "3.5"),
    ("anc", "3.5", "10^3/uL", "3.5"),
    ("platelets", "220", "10^9/L", "220"),
    ("platelets", "220", "10^3/uL", "220"),
    ("hemoglobin", "130", "g/L", "130"),
    ("hemoglobin", "11.5", "g/dL", "115"),
]


def test_every_accepted_unit_has_a_conversion_case():
    accepted = {(key, unit) for key, table in UNIT_FACTORS.items() for unit in table}
    assert {(key, unit) for key, _, unit, _ in CONVERSIONS} == accepted


def test_si_unit_is_offered_first_and_keys_are_the_lab_keys():
    assert tuple(UNIT_FACTORS) == units.LAB_KEYS == tuple(PLAUSIBLE_RANGE)
    assert SI_UNIT == {
        "alt": "U/L",
        "ast": "U/L",
        "total_bilirubin": "umol/L",
        "creatinine": "umol/L",
        "creatinine_clearance": "mL/min",
        "wbc": "10^9/L",
        "anc": "10^9/L",
        "platelets": "10^9/L",
        "hemoglobin": "g/L",
    }
    for key, table in UNIT_FACTORS.items():
        assert table[SI_UNIT[key]] == 1


@pytest.mark.parametrize(("key", "value", "unit", "si"), CONVERSIONS)
def test_to_si_converts_exactly(key, value, unit, si):
    converted = to_si(key, D(value), unit)
    assert converted == D(si)
    assert str(converted) == si  # no trailing zeros, no exponent


@pytest.mark.parametrize(("key", "value", "unit", "si"), CONVERSIONS)
def test_from_si_shows_the_value_as_entered(key, value, unit, si):
    assert from_si(key, D(si), unit) == D(value)


def test_from_si_never_uses_exponent_notation():
    assert str(from_si("creatinine", D("100.00"), "umol/L")) == "100"
    assert str(from_si("hemoglobin", D("115"), "g/dL")) == "11.5"
    assert str(from_si("total_bilirubin", D("31.4982"), "mg/dL")) == "1.842"


@pytest.mark.parametrize("unit", [None, "", "  "])
def test_no_unit_means_si(unit):
    assert to_si("hemoglobin", D("130"), unit) == D("130")


@pytest.mark.parametrize("unit", [None, "", "  "])
def test_a_required_unit_is_never_assumed(unit):
    with pytest.raises(UnitError, match=r"give the unit of creatinine; accepted: umol/L, µmol/L"):
        units.canonical_unit("creatinine", unit, required=True)

    assert units.canonical_unit("creatinine", "mg/dL", required=True) == "mg/dL"


def test_greek_mu_and_other_case_are_the_same_unit():
    assert to_si("total_bilirubin", D("12"), "\u03bcmol/L") == D("12")
    assert to_si("total_bilirubin", D("1"), "mg/dl") == D("17.1")
    assert units.canonical_unit("hemoglobin", " G/DL ") == "g/dL"


@pytest.mark.parametrize(
    ("key", "unit", "message"),
    [
        (
            "total_bilirubin",
            "mmol/L",
            "unsupported unit 'mmol/L' for total_bilirubin; accepted: umol/L, µmol/L, mg/dL",
        ),
        ("hemoglobin", "mmol/L", "unsupported unit 'mmol/L' for hemoglobin; accepted: g/L, g/dL"),
        ("alt", "g/dL", "unsupported unit 'g/dL' for alt; accepted: U/L, IU/L"),
        (
            "creatinine_clearance",
            "mL/min/1.73m2",
            "unsupported unit 'mL/min/1.73m2' for creatinine_clearance; accepted: mL/min",
        ),
        ("wbc", "/uL", "unsupported unit '/uL' for wbc; accepted: 10^9/L, 10^3/uL"),
    ],
)
def test_unsupported_unit_is_rejected_naming_accepted_units(key, unit, message):
    with pytest.raises(UnitError) as caught:
        to_si(key, D("1"), unit)
    assert caught.value.key == key
    assert caught.value.message == message
    assert str(caught.value) == message


# (key, lowest plausible, highest plausible, just below, just above), in SI.
BOUNDS = [
    ("alt", "0", "5000", "-0.1", "5000.1"),
    ("ast", "0", "5000", "-0.1", "5000.1"),
    ("total_bilirubin", "0", "1000", "-0.1", "1000.1"),
    ("creatinine", "10", "2000", "9.9", "2000.1"),
    ("creatinine_clearance", "0", "250", "-0.1", "250.1"),
    ("wbc", "0", "200", "-0.1", "200.1"),
    ("anc", "0", "100", "-0.1", "100.1"),
    ("platelets", "0", "2000", "-0.1", "2000.1"),
    ("hemoglobin", "20", "250", "19.9", "250.1"),
]


@pytest.mark.parametrize(("key", "low", "high", "below", "above"), BOUNDS)
def test_plausible_range_is_inclusive(key, low, high, below, above):
    assert to_si(key, D(low), None) == D(low)
    assert to_si(key, D(high), None) == D(high)
    for value in (below, above):
        with pytest.raises(UnitError, match="check the unit") as caught:
            to_si(key, D(value), None)
        assert caught.value.key == key


def test_implausible_value_names_field_value_and_unit():
    with pytest.raises(UnitError) as caught:
        to_si("hemoglobin", D("19.9"), "g/L")
    assert caught.value.message == (
        "hemoglobin 19.9 g/L is outside the plausible range 20-250 g/L: check the unit"
    )


@pytest.mark.parametrize(
    ("key", "value", "unit", "message"),
    [
        (
            "hemoglobin",
            "26",
            "g/dL",
            "hemoglobin 26 g/dL is 260 g/L, outside the plausible range 20-250 g/L: check the unit",
        ),
        (
            "total_bilirubin",
            "500",
            "mg/dL",
            "total_bilirubin 500 mg/dL is 8550 umol/L, outside the plausible range 0-1000 umol/L: "
            "check the unit",
        ),
        (
            "creatinine",
            "0.1",
            "mg/dL",
            "creatinine 0.1 mg/dL is 8.84 umol/L, outside the plausible range 10-2000 umol/L: "
            "check the unit",
        ),
    ],
)
def test_implausible_after_conversion_shows_both_values(key, value, unit, message):
    with pytest.raises(UnitError) as caught:
        to_si(key, D(value), unit)
    assert caught.value.message == message


def test_plausible_in_alternative_unit_at_the_bound():
    assert to_si("hemoglobin", D("25.0"), "g/dL") == D("250")
    assert to_si("hemoglobin", D("2"), "g/dL") == D("20")
    with pytest.raises(UnitError):
        to_si("hemoglobin", D("25.01"), "g/dL")


@pytest.mark.parametrize("value", [D("NaN"), D("Infinity"), "abc"])
def test_not_a_number_is_rejected(value):
    with pytest.raises(UnitError) as caught:
        to_si("alt", value, "U/L")
    assert "is not a number" in caught.value.message


@st.composite
def entered_values(draw):
    key = draw(st.sampled_from(units.LAB_KEYS))
    unit = draw(st.sampled_from(list(UNIT_FACTORS[key])))
    low, high = PLAUSIBLE_RANGE[key]
    factor = UNIT_FACTORS[key][unit]
    value = draw(st.decimals(min_value=low / factor, max_value=high / factor, places=3))
    return key, unit, value


@given(entered_values())
def test_from_si_inverts_to_si(case):
    key, unit, value = case
    assert from_si(key, to_si(key, value, unit), unit) == value
