"""The referral form in the browser: every validator's message lands next to its field, the
rest of what the user typed stays, and nothing is saved."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from screening import units
from screening.forms.referrals import ReferralForm
from screening.models import MEASUREMENTS, Evaluation, ProtocolVersion, Referral
from screening.national_id import check_character
from tests.factories import create_referral, form_data
from tests.pages import field_wrapper, find_all, input_value, text


def _national_id(date_of_birth: str, *, male: bool) -> str:
    """A valid 18-character resident ID for the birth date and sex."""
    body = "620602" + date_of_birth.replace("-", "") + "03" + ("1" if male else "2")
    return body + check_character(body)


def _tomorrow():
    return (timezone.localdate() + datetime.timedelta(days=1)).isoformat()


BASE = form_data(number=4)
MALE_ID = _national_id(BASE["date_of_birth"], male=True)
BAD_CHECK = MALE_ID[:17] + ("0" if MALE_ID[17] != "0" else "1")

# (case, posted changes, field, message the user reads next to that field)
INVALID = [
    (
        "implausible value for the unit",
        {"hemoglobin": "130", "hemoglobin_unit": "g/dL"},
        "hemoglobin",
        "Hemoglobin 130 g/dL is 1300 g/L, outside the plausible range 20-250 g/L: check the unit",
    ),
    (
        "implausible value in SI",
        {"alt": "9000"},
        "alt",
        "ALT 9000 U/L is outside the plausible range 0-5000 U/L: check the unit",
    ),
    (
        "unsupported unit",
        {"creatinine_unit": "mmol/L"},
        "creatinine_unit",
        "unsupported unit 'mmol/L' for Creatinine; accepted: umol/L, µmol/L, mg/dL",
    ),
    (
        "bad national ID check character",
        {"sex": "M", "national_id": BAD_CHECK},
        "national_id",
        f"check character {BAD_CHECK[17]} does not fit the first 17 digits "
        f"(they give {MALE_ID[17]})",
    ),
    (
        "national ID birth date differs",
        {"sex": "M", "national_id": _national_id("1960-01-01", male=True)},
        "national_id",
        f"birth date in ID (1960-01-01) differs from date of birth ({BASE['date_of_birth']})",
    ),
    (
        "national ID sex differs",
        {"sex": "F", "national_id": MALE_ID},
        "national_id",
        "17th digit is odd, which means male, but sex is F",
    ),
    (
        "invalid choice",
        {"ct": "T5"},
        "ct",
        "Select a valid choice. T5 is not one of the available choices.",
    ),
    (
        "invalid tri-state answer",
        {"deep_ulceration": "maybe"},
        "deep_ulceration",
        "Select a valid choice. maybe is not one of the available choices.",
    ),
    (
        "referral before the accrual window",
        {"referral_date": "2025-04-30", "screening_date": "2025-04-30", "labs_date": ""},
        "referral_date",
        "Referral date is before the accrual window opens (2025-05-01).",
    ),
    (
        "screening before referral",
        {"screening_date": "2025-06-01", "referral_date": "2025-06-02", "labs_date": ""},
        "screening_date",
        "Screening date is before the referral date.",
    ),
    (
        "referral in the future",
        {"referral_date": _tomorrow(), "screening_date": _tomorrow()},
        "referral_date",
        "Referral date is in the future.",
    ),
    (
        "labs after screening",
        {"labs_date": _tomorrow()},
        "labs_date",
        "Blood panel date is after the screening date.",
    ),
    (
        "date of birth in 1900",
        {"date_of_birth": "1900-01-01"},
        "date_of_birth",
        "Date of birth must be after 1900-01-01.",
    ),
    (
        "missing required field",
        {"full_name": ""},
        "full_name",
        "This field is required.",
    ),
    (
        "ECOG out of range",
        {"ecog": "6"},
        "ecog",
        "ECOG is a grade from 0 to 5.",
    ),
    (
        "LVEF out of range",
        {"lvef_percent": "150"},
        "lvef_percent",
        "Enter a value from 0 to 100 %.",
    ),
    (
        "not a date",
        {"date_of_birth": "21/04/1958"},
        "date_of_birth",
        "Enter the date as YYYY-MM-DD, for example 1955-02-12.",
    ),
    (
        "a date month first",
        {"date_of_birth": "12/02/1955"},
        "date_of_birth",
        "Enter the date as YYYY-MM-DD, for example 1955-02-12.",
    ),
    (
        "a thousands separator",
        {"platelets": "1,500"},
        "platelets",
        "Enter a plain number such as 12.5: digits with an optional leading minus and decimal "
        "point, without thousands separators, decimal commas, exponents or spaces.",
    ),
    (
        "a control character copied from Word",
        {"full_name": "王建\x01国"},
        "full_name",
        "Remove the invisible control character U+0001, usually copied in from another program.",
    ),
    (
        "a right-to-left override",
        {"hospital_number": "WU\u202e100004"},
        "hospital_number",
        "Remove the invisible text-direction character U+202E: it can make the text display "
        "differently from what is stored.",
    ),
    (
        "no such day",
        {"date_of_birth": "1955-02-30"},
        "date_of_birth",
        "Enter a valid date.",
    ),
    (
        "no year 0",
        {"date_of_birth": "0000-01-01"},
        "date_of_birth",
        "Enter a valid date.",
    ),
]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [case[1:] for case in INVALID],
    ids=[case[0] for case in INVALID],
)
def test_a_bad_value_comes_back_next_to_its_field_with_everything_else_kept(
    client_as, changes, field, message
):
    client = client_as("coordinator_wuwei")
    posted = {**BASE, "full_name": "欧阳建国", "referring_physician": "Dr Sun", **changes}
    response = client.post(reverse("referral_create"), posted)
    page = response.content.decode()

    assert response.status_code == 200
    wrapper = field_wrapper(page, field)
    assert message in text(wrapper)
    assert find_all(str(wrapper), class_="is-invalid"), "the field is marked invalid"
    # The summary at the top links to the field as well.
    assert f'href="#div_id_{field}"' in page
    # Everything else comes back as typed; so does a bad value typed into a free field.
    for name, value in posted.items():
        if name not in changes:
            assert input_value(page, name) == value, name
    bad_input = find_all(page, name=field)[0]
    if bad_input.name == "input" and dict(bad_input.attributes).get("type") != "radio":
        assert input_value(page, field) == changes[field]
    assert not Referral.objects.exists()
    assert not Evaluation.objects.exists()


def test_a_second_open_referral_for_the_same_patient_is_refused(client_as):
    existing = create_referral(number=4)
    client = client_as("coordinator_wuwei")
    response = client.post(reverse("referral_create"), BASE)
    message = f"This person already has an open referral ({existing.screening_number})."
    assert message in text(field_wrapper(response.content.decode(), "hospital_number"))
    assert Referral.objects.count() == 1


def test_the_same_hospital_number_at_the_other_site_is_another_patient(client_as):
    create_referral(number=4)
    client = client_as("data_manager")
    response = client.post(reverse("referral_create"), {**BASE, "site": "lanzhou"})
    assert response.status_code == 302
    assert Referral.objects.count() == 2


def test_several_errors_at_once_are_all_reported_and_nothing_is_lost(client_as):
    client = client_as("coordinator_wuwei")
    posted = {**BASE, "alt": "9000", "ct": "T5", "full_name": "", "national_id": BAD_CHECK}
    page = client.post(reverse("referral_create"), posted).content.decode()
    assert "4 fields need correcting" in page
    for name in ("alt", "ct", "full_name", "national_id"):
        assert find_all(str(field_wrapper(page, name)), class_="is-invalid"), name
    assert input_value(page, "hospital_number") == BASE["hospital_number"]
    assert input_value(page, "labs_date") == BASE["labs_date"]
    assert input_value(page, "alt") == "9000"
    assert not Referral.objects.exists()


def test_a_failed_edit_keeps_the_typed_values_and_changes_nothing(client_as):
    referral = create_referral(number=4)
    client = client_as("coordinator_wuwei")
    url = reverse("referral_edit", args=[referral.screening_number])
    posted = {**BASE, "platelets": "80", "ecog": "9"}
    page = client.post(url, posted).content.decode()
    assert "ECOG is a grade from 0 to 5." in text(field_wrapper(page, "ecog"))
    assert input_value(page, "platelets") == "80"
    referral.refresh_from_db()
    assert referral.platelets != 80
    assert referral.evaluations.count() == 1


def referral_form(**changes) -> ReferralForm:
    """The referral form bound to ``BASE`` with ``changes``, as the browser would post it."""
    return ReferralForm(data={**BASE, **changes}, protocol=ProtocolVersion.current())


# Each is read as some date by Django's default input formats, or by a person.
NOT_ISO_DATES = ("12/02/1955", "02/12/1955", "12/02/55", "1955/02/12", "02.12.1955",
                 "Oct 30 2025", "1955-2-12", "19550212")  # fmt: skip


@pytest.mark.parametrize("field", ["date_of_birth", "referral_date", "screening_date", "labs_date"])
@pytest.mark.parametrize("value", NOT_ISO_DATES)
def test_a_date_is_read_only_as_yyyy_mm_dd(db, field, value):
    form = referral_form(**{field: value})

    assert not form.is_valid()
    assert form.errors[field] == ["Enter the date as YYYY-MM-DD, for example 1955-02-12."]


def test_an_iso_date_with_surrounding_spaces_is_read(db):
    form = referral_form(date_of_birth=f" {BASE['date_of_birth']} ")

    assert form.is_valid(), form.errors
    assert form.cleaned_data["date_of_birth"].isoformat() == BASE["date_of_birth"]


NUMBER_FIELDS = (*units.LAB_KEYS, *MEASUREMENTS)
PLAIN_NUMBER = (
    "Enter a plain number such as 12.5: digits with an optional leading minus and decimal "
    "point, without thousands separators, decimal commas, exponents or spaces."
)
NOT_PLAIN_NUMBERS = (
    "1,500",
    "12,5",
    "3e1",
    "1E2",
    "1_50",
    "+3",
    "٣٠",
    "३०",
    "NaN",
    "nan",
    "Infinity",
    "-Infinity",
    "1 500",
    "1\u00a0500",
    "0x1E",
    "3.0.1",
    "-",
    ".",
)


@pytest.mark.parametrize("field", NUMBER_FIELDS)
def test_every_number_field_reads_only_plain_decimals(db, field):
    for value in NOT_PLAIN_NUMBERS:
        form = referral_form(**{field: value})

        assert not form.is_valid(), value
        assert form.errors[field] == [PLAIN_NUMBER], value


@pytest.mark.parametrize("field", NUMBER_FIELDS)
def test_full_width_digits_point_and_minus_are_read_as_ascii(db, field):
    typed, read = {"ecog": ("１", 1), "fev1_litres": ("２．５", Decimal("2.5"))}.get(
        field, ("　４５．５０ ", Decimal("45.5"))
    )

    form = referral_form(**{field: typed})
    negative = referral_form(**{field: "－１"})

    assert form.is_valid(), form.errors
    assert form.cleaned_data[field] == read
    # Read as -1, then refused by the field's range, not as text.
    assert not negative.is_valid()
    assert negative.errors[field] and PLAIN_NUMBER not in negative.errors[field]


def test_ecog_stays_a_whole_number(db):
    form = referral_form(ecog="1.5")

    assert form.errors["ecog"] == ["Enter a whole number."]


@pytest.mark.parametrize("key", units.UNIT_REQUIRED_IN_FILES)
def test_the_browser_form_without_a_unit_reads_si_but_a_file_row_needs_one(db, key):
    typed = {key: "100", f"{key}_unit": ""}

    from_browser = referral_form(**typed)
    from_file = ReferralForm(
        data={**BASE, **typed}, protocol=ProtocolVersion.current(), from_file=True
    )

    assert from_browser.is_valid(), from_browser.errors
    assert from_browser.cleaned_data[f"{key}_unit"] == units.SI_UNIT[key]
    assert not from_file.is_valid()
    assert list(from_file.errors) == [f"{key}_unit"]


@pytest.mark.parametrize(
    "field", ["hospital_number", "full_name", "national_id", "referring_physician"]
)
@pytest.mark.parametrize("character", ["\x01", "\t", "\n", "\x7f", "\u202e", "\u2066", "\u200f"])
def test_every_free_text_field_refuses_control_and_direction_characters(db, field, character):
    form = referral_form(**{field: f"{BASE.get(field) or 'x'}{character}1"})

    assert not form.is_valid()
    assert form.errors[field][0].startswith("Remove the invisible")
