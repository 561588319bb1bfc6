"""The new-referral form: what it offers, and the referral a post of it saves, judged as the
protocol says."""

import csv
import datetime
import json
from pathlib import Path

import pytest
from django.db import IntegrityError
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from screening import services, units
from screening.imports import validate_rows
from screening.models import TRI_STATE_FIELDS, ProtocolVersion, Referral
from tests.factories import form_data, referral_data
from tests.pages import field_wrapper, find, find_all, input_value, text

EXAMPLES = Path(__file__).parent / "data" / "example_referrals.json"


def _screening_day():
    """Two days ago, or three when that is 29 February (so birthdays exist every year)."""
    day = timezone.localdate() - datetime.timedelta(days=2)
    return day - datetime.timedelta(days=1) if (day.month, day.day) == (2, 29) else day


def _before_screening(days):
    return (_screening_day() - datetime.timedelta(days=days)).isoformat()


def _dob_for_age(age):
    """Born ``age`` years to the day before the screening day."""
    screening = _screening_day()
    return screening.replace(year=screening.year - age).isoformat()


# Cases worked out by hand from PROTOCOL section 4, not by calling the rules.
ALL_PASS = dict.fromkeys(("I1", "I2", "I3", "I4", "I5", "I6", "E1", "E3", "E4", "E5", "E6"), "pass")


HAND_CASES = [
    ("eligible", {}, "potentially_eligible", {**ALL_PASS, "E2": "unknown"}),
    (
        "71 on the day of screening",
        {"date_of_birth": _dob_for_age(71)},
        "ineligible",
        {**ALL_PASS, "I1": "fail", "E2": "unknown"},
    ),
    (
        "aged exactly 70",
        {"date_of_birth": _dob_for_age(70)},
        "potentially_eligible",
        {**ALL_PASS, "E2": "unknown"},
    ),
    (
        "cT2N0M0",
        {"ct": "T2", "cn": "N0"},
        "ineligible",
        {**ALL_PASS, "I2": "fail", "E2": "unknown"},
    ),
    (
        "creatinine 2 mg/dL without clearance",
        {"creatinine": "2", "creatinine_unit": "mg/dL"},
        "ineligible",
        {**ALL_PASS, "I4": "fail", "E2": "unknown"},
    ),
    (
        "creatinine 2 mg/dL with clearance 70",
        {"creatinine": "2", "creatinine_unit": "mg/dL", "creatinine_clearance": "70"},
        "potentially_eligible",
        {**ALL_PASS, "E2": "unknown"},
    ),
    (
        "hemoglobin 8.5 g/dL",
        {"hemoglobin": "8.5", "hemoglobin_unit": "g/dL"},
        "ineligible",
        {**ALL_PASS, "I5": "fail", "E2": "unknown"},
    ),
    (
        "labs 29 days old",
        {"labs_date": _before_screening(29)},
        "incomplete",
        {**ALL_PASS, "I4": "unknown", "I5": "unknown", "E2": "unknown"},
    ),
    (
        "pregnancy answered yes for a man",
        {"sex": "M", "pregnant_or_breastfeeding": "yes"},
        "potentially_eligible",
        {**ALL_PASS, "E2": "unknown"},
    ),
    (
        "pregnant woman",
        {"sex": "F", "pregnant_or_breastfeeding": "yes"},
        "ineligible",
        {**ALL_PASS, "E6": "fail", "E2": "unknown"},
    ),
    (
        "dosimetry feasible",
        {"dosimetry_status": "feasible"},
        "potentially_eligible",
        {**ALL_PASS, "E2": "pass"},
    ),
    (
        "cord dose over limit",
        {
            "lung_v20_percent": "20",
            "lung_mean_dose_gy": "15",
            "heart_v30_percent": "30",
            "spinal_cord_max_gy": "46",
        },
        "ineligible",
        {**ALL_PASS, "E2": "fail"},
    ),
    (
        "ECOG missing and pathology pending",
        {"ecog": "", "pathology_confirmed": "unknown"},
        "incomplete",
        {**ALL_PASS, "I6": "unknown", "E1": "unknown", "E2": "unknown"},
    ),
]


@pytest.mark.parametrize(
    ("overrides", "outcome", "expected"),
    [case[1:] for case in HAND_CASES],
    ids=[case[0] for case in HAND_CASES],
)
def test_posting_the_form_creates_a_referral_judged_as_the_protocol_says(
    client_as, coordinator_wuwei, overrides, outcome, expected
):
    client = client_as("coordinator_wuwei")
    # Referral, labs and screening within days of each other, so only the overrides decide.
    dates = {
        "referral_date": _before_screening(1),
        "screening_date": _screening_day().isoformat(),
        "labs_date": _before_screening(1),
        "date_of_birth": _dob_for_age(60),
    }
    data = form_data(number=7, **{**dates, **overrides})
    response = client.post(reverse("referral_create"), data)
    referral = Referral.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("referral_detail", args=[referral.screening_number])
    assert referral.outcome == outcome
    results = referral.evaluation.results
    assert {code: results[code]["result"] for code in results} == expected
    assert referral.created_by == coordinator_wuwei


def _example_cases():
    return json.loads(EXAMPLES.read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", _example_cases(), ids=lambda case: case["referral"]["full_name"])
def test_the_example_referrals_posted_through_the_browser_get_their_expected_results(
    client_as, case
):
    client = client_as("data_manager")
    data = {key: "" if value is None else str(value) for key, value in case["referral"].items()}
    response = client.post(reverse("referral_create"), data)
    assert response.status_code == 302
    referral = Referral.objects.get()
    expected = dict(case["expected"])
    assert referral.outcome == expected.pop("outcome")
    results = referral.evaluation.results
    assert {code: results[code]["result"] for code in expected} == expected


def test_the_site_choice_is_limited_to_the_coordinators_sites(client_as):
    client = client_as("coordinator_wuwei")
    page = client.get(reverse("referral_create")).content.decode()
    assert 'value="wuwei"' in page
    assert 'value="lanzhou"' not in page
    response = client.post(reverse("referral_create"), form_data(site="lanzhou"))
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Referral.objects.exists()


def test_a_data_manager_may_enter_a_referral_at_any_site(client_as):
    client = client_as("data_manager")
    response = client.post(reverse("referral_create"), form_data(site="lanzhou"))
    assert response.status_code == 302
    assert Referral.objects.get().site.code == "lanzhou"


def test_the_new_referral_form_offers_units_and_unknown_answers(client_as):
    client = client_as("coordinator_wuwei")
    page = client.get(reverse("referral_create")).content.decode()
    # The coordinator's only site is preselected.
    assert input_value(page, "site") == "wuwei"
    # Every analyte has a unit selector offering the accepted units, SI preselected.
    for key in units.LAB_KEYS:
        assert input_value(page, f"{key}_unit") == units.SI_UNIT[key]
        unit_select = find(page, "select", name=f"{key}_unit")
        offered = [dict(o.attributes)["value"] for o in find_all(str(unit_select), "option")]
        assert offered == list(units.UNIT_FACTORS[key])
    # Every yes/no question is a set of radios starting at "unknown".
    for name in TRI_STATE_FIELDS:
        radios = find_all(page, "input", type="radio", name=name)
        assert [dict(r.attributes)["value"] for r in radios] == ["yes", "no", "unknown"]
        assert input_value(page, name) == "unknown"
    # The pregnancy question sits in the block the form's script shows only for women.
    assert find_all(str(find(page, id="pregnancy-question")), name="pregnant_or_breastfeeding")
    assert find_all(page, "script", src="/static/js/referral_form.js")
    form = find(page, "form", id="referral-form")
    assert dict(form.attributes)["hx-post"] == reverse("referral_evaluate")


def test_a_save_with_only_the_required_fields_is_an_incomplete_draft(client_as):
    client = client_as("coordinator_wuwei")
    required = ("site", "hospital_number", "full_name", "sex", "date_of_birth", "referral_date")
    data = {key: value for key, value in form_data().items() if key in required}
    response = client.post(reverse("referral_create"), data)
    assert response.status_code == 302
    referral = Referral.objects.get()
    assert (referral.status, referral.outcome) == ("screening", "incomplete")


def test_a_race_for_the_same_patient_keeps_the_typed_values(client_as, monkeypatch):
    def collides(**kwargs):
        raise IntegrityError("screening_referral_one_open_per_patient")

    monkeypatch.setattr(services, "referral_create", collides)
    client = client_as("coordinator_wuwei")
    response = client.post(reverse("referral_create"), form_data(full_name="赵敏"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "already has an open referral at this site" in text(
        field_wrapper(page, "hospital_number")
    )
    assert input_value(page, "full_name") == "赵敏"


@pytest.mark.parametrize(
    "text",
    [
        "tab\there",
        "line\nbreak and\r\nreturn",
        "a line of its own:\n\\.\nCOPY's end-of-data marker",
        "back\\slash and \\N",
        '"quoted", with a comma',
        "\x1f unit separators \x1f\x1f",
        "  王建国  ",
    ],
)
def test_any_text_is_stored_exactly_as_given(db, text):
    # Rows are stored by COPY, whose format gives tabs, line breaks, backslashes and quotes a
    # meaning of their own. The form refuses control characters; the service still must not
    # change them.
    [row], errors = validate_rows([referral_data()], protocol=ProtocolVersion.current())
    assert not errors
    row |= {"full_name": text, "referring_physician": text, "national_id": ""}

    [created] = services.referrals_create(rows=[row])

    stored = Referral.objects.get(pk=created.pk)
    assert (stored.full_name, stored.referring_physician) == (text, text)
    assert stored.national_id == ""
    assert stored.lvef_percent is None  # left empty: NULL, not an empty text


@given(st.text())
def test_a_long_text_goes_to_copy_as_the_csv_module_would_read_it_back(text):
    # The evaluations' JSON skips the csv module on its way to COPY (services._quoted).
    line = services._quoted(text) + "\tnext\n"
    reader = csv.reader([line], delimiter="\t", quotechar=services.COPY_QUOTE)
    assert next(reader) == [text, "next"]
