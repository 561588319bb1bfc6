"""The referral pages against the fixed cast (STYLE.md lesson 7), and what each page shows."""

import datetime
import json
from pathlib import Path

import pytest
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from screening import services, units
from screening.models import TRI_STATE_FIELDS, Evaluation, Referral
from tests.bulk import bulk_referrals
from tests.factories import PASSWORD, create_referral, form_data
from tests.pages import field_wrapper, find, find_all, input_value, text

EXAMPLES = Path(__file__).parent / "data" / "example_referrals.json"


@pytest.fixture
def wuwei_referral(db):
    return create_referral(site="wuwei", number=1)


# (who, expected status) per request; the referral is at Wuwei.
ACCESS = {
    "list": {
        "anonymous": 302,
        "coordinator_wuwei": 200,
        "coordinator_lanzhou": 200,
        "mdt": 200,
        "data_manager": 200,
    },
    "new": {
        "anonymous": 302,
        "coordinator_wuwei": 200,
        "coordinator_lanzhou": 200,
        "mdt": 403,
        "data_manager": 200,
    },
    "detail": {
        "anonymous": 302,
        "coordinator_wuwei": 200,
        "coordinator_lanzhou": 404,
        "mdt": 200,
        "data_manager": 200,
    },
    "edit": {
        "anonymous": 302,
        "coordinator_wuwei": 200,
        "coordinator_lanzhou": 404,
        "mdt": 403,
        "data_manager": 200,
    },
    "withdraw_confirm": {
        "anonymous": 302,
        "coordinator_wuwei": 200,
        "coordinator_lanzhou": 404,
        "mdt": 403,
        "data_manager": 200,
    },
    "withdraw": {
        "anonymous": 302,
        "coordinator_wuwei": 302,
        "coordinator_lanzhou": 404,
        "mdt": 403,
        "data_manager": 302,
    },
    "edit_save": {
        "anonymous": 302,
        "coordinator_wuwei": 302,
        "coordinator_lanzhou": 404,
        "mdt": 403,
        "data_manager": 302,
    },
    "evaluate_new": {
        "anonymous": 302,
        "coordinator_wuwei": 200,
        "coordinator_lanzhou": 200,
        "mdt": 403,
        "data_manager": 200,
    },
    "evaluate_edit": {
        "anonymous": 302,
        "coordinator_wuwei": 200,
        "coordinator_lanzhou": 404,
        "mdt": 403,
        "data_manager": 200,
    },
}
CAST = ("anonymous", "coordinator_wuwei", "coordinator_lanzhou", "mdt", "data_manager")


def _request(client, request, referral):
    number = referral.screening_number
    if request == "list":
        return client.get(reverse("referral_list"))
    if request == "new":
        return client.get(reverse("referral_create"))
    if request == "detail":
        return client.get(reverse("referral_detail", args=[number]))
    if request == "edit":
        return client.get(reverse("referral_edit", args=[number]))
    if request == "edit_save":
        data = form_data(number=1, ecog=0)
        return client.post(reverse("referral_edit", args=[number]), data)
    if request == "withdraw_confirm":
        return client.get(reverse("referral_withdraw", args=[number]))
    if request == "withdraw":
        return client.post(reverse("referral_withdraw", args=[number]), {"reason": "moved away"})
    if request == "evaluate_new":
        return client.post(reverse("referral_evaluate"), form_data(number=5))
    assert request == "evaluate_edit"
    url = reverse("referral_evaluate") + f"?referral={number}"
    return client.post(url, form_data(number=1))


# The cast's fixture names; anonymous has none.
USER_FIXTURES = {
    "coordinator_wuwei": "coordinator_wuwei",
    "coordinator_lanzhou": "coordinator_lanzhou",
    "mdt": "mdt_member",
    "data_manager": "data_manager",
}


@pytest.mark.parametrize("who", CAST)
@pytest.mark.parametrize("request_name", ACCESS)
def test_who_gets_what(client, request, wuwei_referral, request_name, who):
    if who in USER_FIXTURES:
        client.force_login(request.getfixturevalue(USER_FIXTURES[who]))
    response = _request(client, request_name, wuwei_referral)
    assert response.status_code == ACCESS[request_name][who]
    if who == "anonymous":
        assert response.url.startswith(reverse("login") + "?next=")


def test_another_sites_referral_is_404_on_every_referral_url(
    client, coordinator_lanzhou, wuwei_referral
):
    client.force_login(coordinator_lanzhou)
    number = wuwei_referral.screening_number
    for name in ("referral_detail", "referral_edit", "referral_withdraw"):
        assert client.get(reverse(name, args=[number])).status_code == 404
    for name in ("referral_edit", "referral_withdraw"):
        assert client.post(reverse(name, args=[number]), {"reason": "x"}).status_code == 404
    wuwei_referral.refresh_from_db()
    assert wuwei_referral.status != Referral.Status.WITHDRAWN


def test_mdt_cannot_withdraw_or_edit(client, mdt_member, wuwei_referral):
    client.force_login(mdt_member)
    number = wuwei_referral.screening_number
    edit = client.post(reverse("referral_edit", args=[number]), form_data(number=1, ecog=3))
    withdraw = client.post(reverse("referral_withdraw", args=[number]), {"reason": "x"})
    assert (edit.status_code, withdraw.status_code) == (403, 403)
    wuwei_referral.refresh_from_db()
    assert (wuwei_referral.ecog, wuwei_referral.status) != (3, Referral.Status.WITHDRAWN)


def test_healthz_answers_without_sign_in(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok"


def test_login_page_is_open_and_signs_in(client, coordinator_wuwei):
    assert client.get(reverse("login")).status_code == 200
    response = client.post(reverse("login"), {"username": "coord-wuwei", "password": PASSWORD})
    assert response.status_code == 302
    assert response.url == reverse("dashboard")


# --- creating referrals -----------------------------------------------------------------------


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
    client, coordinator_wuwei, overrides, outcome, expected
):
    client.force_login(coordinator_wuwei)
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
    client, data_manager, case
):
    client.force_login(data_manager)
    data = {key: "" if value is None else str(value) for key, value in case["referral"].items()}
    response = client.post(reverse("referral_create"), data)
    assert response.status_code == 302
    referral = Referral.objects.get()
    expected = dict(case["expected"])
    assert referral.outcome == expected.pop("outcome")
    results = referral.evaluation.results
    assert {code: results[code]["result"] for code in expected} == expected


def test_the_site_choice_is_limited_to_the_coordinators_sites(client, coordinator_wuwei):
    client.force_login(coordinator_wuwei)
    page = client.get(reverse("referral_create")).content.decode()
    assert 'value="wuwei"' in page
    assert 'value="lanzhou"' not in page
    response = client.post(reverse("referral_create"), form_data(site="lanzhou"))
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Referral.objects.exists()


def test_a_data_manager_may_enter_a_referral_at_any_site(client, data_manager):
    client.force_login(data_manager)
    response = client.post(reverse("referral_create"), form_data(site="lanzhou"))
    assert response.status_code == 302
    assert Referral.objects.get().site.code == "lanzhou"


def test_the_new_referral_form_offers_units_and_unknown_answers(client, coordinator_wuwei):
    client.force_login(coordinator_wuwei)
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


def test_a_save_with_only_the_required_fields_is_an_incomplete_draft(client, coordinator_wuwei):
    client.force_login(coordinator_wuwei)
    required = ("site", "hospital_number", "full_name", "sex", "date_of_birth", "referral_date")
    data = {key: value for key, value in form_data().items() if key in required}
    response = client.post(reverse("referral_create"), data)
    assert response.status_code == 302
    referral = Referral.objects.get()
    assert (referral.status, referral.outcome) == ("screening", "incomplete")


def test_a_race_for_the_same_patient_keeps_the_typed_values(client, coordinator_wuwei, monkeypatch):
    def collides(**kwargs):
        raise IntegrityError("screening_referral_one_open_per_patient")

    monkeypatch.setattr(services, "referral_create", collides)
    client.force_login(coordinator_wuwei)
    response = client.post(reverse("referral_create"), form_data(full_name="赵敏"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "already has an open referral at this site" in text(
        field_wrapper(page, "hospital_number")
    )
    assert input_value(page, "full_name") == "赵敏"


# --- editing and withdrawing ------------------------------------------------------------------


def test_editing_saves_the_changed_values_and_re_evaluates(
    client, coordinator_wuwei, wuwei_referral
):
    assert wuwei_referral.outcome == "potentially_eligible"
    client.force_login(coordinator_wuwei)
    data = {
        **form_data(number=1),
        "platelets": "80",
        "hemoglobin": "9.5",
        "hemoglobin_unit": "g/dL",
    }
    response = client.post(reverse("referral_edit", args=[wuwei_referral.screening_number]), data)
    assert response.status_code == 302
    wuwei_referral.refresh_from_db()
    assert wuwei_referral.platelets == 80
    assert (wuwei_referral.hemoglobin, wuwei_referral.hemoglobin_unit) == (95, "g/dL")
    assert wuwei_referral.outcome == "ineligible"
    assert wuwei_referral.status == "screen_failed"
    assert wuwei_referral.evaluation.results["I5"]["result"] == "fail"
    assert Evaluation.objects.filter(referral=wuwei_referral).count() == 2


def test_the_edit_form_shows_labs_in_the_unit_they_were_entered_in(client, data_manager):
    referral = create_referral(hemoglobin=12.1, hemoglobin_unit="g/dL")
    client.force_login(data_manager)
    page = client.get(reverse("referral_edit", args=[referral.screening_number])).content.decode()
    assert (input_value(page, "hemoglobin"), input_value(page, "hemoglobin_unit")) == (
        "12.1",
        "g/dL",
    )


def test_the_edit_form_comes_filled_in_and_saves_unchanged(client, coordinator_wuwei):
    referral = create_referral(number=1)
    client.force_login(coordinator_wuwei)
    url = reverse("referral_edit", args=[referral.screening_number])
    page = client.get(url).content.decode()
    stored = form_data(number=1)
    shown = {name: input_value(page, name) for name in stored}
    assert shown == stored
    assert "Needed to save" not in text(find(page, id="eligibility-panel"))
    # Saving the page as it came changes nothing but still records a new evaluation.
    response = client.post(url, shown)
    assert response.status_code == 302
    assert referral.evaluations.count() == 2


def test_a_withdrawn_referral_can_no_longer_be_edited(client, coordinator_wuwei, wuwei_referral):
    services.referral_withdraw(referral=wuwei_referral, reason="declined")
    client.force_login(coordinator_wuwei)
    number = wuwei_referral.screening_number
    response = client.post(reverse("referral_edit", args=[number]), form_data(number=1, ecog=3))
    assert response.status_code == 302
    assert response.url == reverse("referral_detail", args=[number])
    wuwei_referral.refresh_from_db()
    assert wuwei_referral.ecog != 3
    page = client.get(response.url).content.decode()
    assert "can no longer change" in page
    assert reverse("referral_edit", args=[number]) not in page


def test_withdrawal_asks_for_confirmation_with_a_reason(client, coordinator_wuwei, wuwei_referral):
    client.force_login(coordinator_wuwei)
    url = reverse("referral_withdraw", args=[wuwei_referral.screening_number])
    confirm = client.get(url).content.decode()
    assert "This cannot be undone" in confirm
    assert 'name="reason"' in confirm

    blank = client.post(url, {"reason": "   "})
    assert blank.status_code == 200
    assert "Give the reason for the withdrawal." in blank.content.decode()
    wuwei_referral.refresh_from_db()
    assert wuwei_referral.status == "mdt_review"

    done = client.post(url, {"reason": "patient declined carbon-ion therapy"})
    assert done.status_code == 302
    wuwei_referral.refresh_from_db()
    assert wuwei_referral.status == "withdrawn"
    assert wuwei_referral.withdrawal_reason == "patient declined carbon-ion therapy"
    page = client.get(done.url).content.decode()
    assert "patient declined carbon-ion therapy" in page
    assert 'id="withdraw-modal"' not in page


def test_a_withdrawal_reason_keeps_line_breaks_but_no_control_characters(
    client, coordinator_wuwei, wuwei_referral
):
    client.force_login(coordinator_wuwei)
    url = reverse("referral_withdraw", args=[wuwei_referral.screening_number])

    refused = client.post(url, {"reason": "moved\x07 away"})
    wuwei_referral.refresh_from_db()
    assert refused.status_code == 200
    assert "Remove the invisible control character U+0007" in refused.content.decode()
    assert wuwei_referral.status == "mdt_review"

    done = client.post(url, {"reason": "moved away\r\nto Lanzhou"})
    wuwei_referral.refresh_from_db()
    assert done.status_code == 302
    assert wuwei_referral.withdrawal_reason == "moved away\r\nto Lanzhou"


def test_withdrawing_twice_is_refused_with_a_message(client, data_manager, wuwei_referral):
    services.referral_withdraw(referral=wuwei_referral, reason="first")
    client.force_login(data_manager)
    url = reverse("referral_withdraw", args=[wuwei_referral.screening_number])
    response = client.post(url, {"reason": "second"}, follow=True)
    assert "cannot be withdrawn" in response.content.decode()
    wuwei_referral.refresh_from_db()
    assert wuwei_referral.withdrawal_reason == "first"


def _withdrawn_by_someone_else_first(monkeypatch, service_name):
    """Make ``services.<service_name>`` find the referral withdrawn by another user just
    before it runs, as when two people act on the same referral at once."""
    real_service = getattr(services, service_name)
    real_withdraw = services.referral_withdraw

    def raced(**kwargs):
        stored = Referral.objects.get(pk=kwargs["referral"].pk)
        real_withdraw(referral=stored, reason="withdrawn at the other desk")
        return real_service(**kwargs)

    monkeypatch.setattr(services, service_name, raced)


def test_an_edit_racing_a_withdrawal_is_refused_with_a_message(
    client, coordinator_wuwei, wuwei_referral, monkeypatch
):
    _withdrawn_by_someone_else_first(monkeypatch, "referral_update")
    client.force_login(coordinator_wuwei)
    url = reverse("referral_edit", args=[wuwei_referral.screening_number])
    response = client.post(url, form_data(number=1, ecog=3), follow=True)
    assert "its data can no longer change" in response.content.decode()
    wuwei_referral.refresh_from_db()
    assert wuwei_referral.status == "withdrawn"
    assert wuwei_referral.ecog != 3


def test_a_withdrawal_racing_another_is_refused_with_a_message(
    client, coordinator_wuwei, wuwei_referral, monkeypatch
):
    _withdrawn_by_someone_else_first(monkeypatch, "referral_withdraw")
    client.force_login(coordinator_wuwei)
    url = reverse("referral_withdraw", args=[wuwei_referral.screening_number])
    response = client.post(url, {"reason": "mine"}, follow=True)
    assert "cannot be withdrawn" in response.content.decode()
    wuwei_referral.refresh_from_db()
    assert wuwei_referral.withdrawal_reason == "withdrawn at the other desk"


# --- the referral page ------------------------------------------------------------------------


def test_the_referral_page_shows_the_record(client, coordinator_wuwei):
    referral = create_referral(
        number=3,
        cn="NX",
        ecog=None,
        full_name="王建国",
        hospital_number="WU777",
        hemoglobin=12.1,
        hemoglobin_unit="g/dL",
        histology="squamous_cell_carcinoma",
        ct="T3",
        cm="M0",
    )
    client.force_login(coordinator_wuwei)
    page = client.get(reverse("referral_detail", args=[referral.screening_number])).content.decode()
    for expected in (
        referral.screening_number,
        "王建国",
        "WU777",
        "62 years",
        "Wuwei Heavy Ion Center",
        "Screening",  # status badge
        "Incomplete: no criterion fails, but data is missing.",
        "To do: missing data",
        "Organs at risk cannot meet dose constraint requirements",
        "MDT to confirm",
        "cNX: regional nodes not assessed",
        "protocol version 1",
        "12.1 g/dL (= 121 g/L)",
        "Status history",
        referral.referral_date.isoformat(),
    ):
        assert expected in page, expected
    assert page.count('class="criterion criterion-') == 12
    # The to-do list names what is missing: cN for I2, ECOG for I6.
    todo = page[page.index("To do: missing data") : page.index('id="criteria-heading"')]
    assert "cN" in todo
    assert "ECOG" in todo
    # NX is not assignable, so no stage group either.
    assert 'AJCC 8th clinical stage group: <strong class="text-body">not assignable' in page


def test_the_referral_page_shows_the_stage_group(client, mdt_member):
    referral = create_referral(histology="squamous_cell_carcinoma", ct="T3", cn="N1", cm="M0")
    client.force_login(mdt_member)
    page = client.get(reverse("referral_detail", args=[referral.screening_number])).content.decode()
    assert '<strong class="text-body">III</strong>' in page


def test_edit_and_withdraw_buttons_only_for_those_allowed(client, cast, wuwei_referral):
    number = wuwei_referral.screening_number
    edit_url = reverse("referral_edit", args=[number])
    for who, shown in (("coordinator_wuwei", True), ("mdt", False), ("data_manager", True)):
        client.force_login(cast[who])
        page = client.get(reverse("referral_detail", args=[number])).content.decode()
        assert (edit_url in page) is shown, who
        assert ('id="withdraw-modal"' in page) is shown, who


def test_status_history_lists_each_change_with_who_made_it(
    client, coordinator_wuwei, wuwei_referral
):
    client.force_login(coordinator_wuwei)
    number = wuwei_referral.screening_number
    client.post(reverse("referral_withdraw", args=[number]), {"reason": "moved away"})
    page = client.get(reverse("referral_detail", args=[number])).content.decode()
    history = text(find(page, "ol", class_="status-history"))
    assert history.index("Screening") < history.index("MDT review") < history.index("Withdrawn")
    assert history.count("coord-wuwei") == 1  # the withdrawal; the test set the referral up


# --- the live panel ---------------------------------------------------------------------------


def test_the_live_panel_judges_the_posted_data_without_saving(client, coordinator_wuwei):
    client.force_login(coordinator_wuwei)
    data = form_data(number=9, alt="250", ct="T2", cn="N0")
    response = client.post(reverse("referral_evaluate"), data)
    panel = response.content.decode()
    assert response.status_code == 200
    assert "Ineligible" in panel
    assert "ALT 250 U/L is above 100" in panel
    assert "cT2N0 is excluded (cT1-2N0M0)" in panel
    assert panel.count('class="criterion criterion-') == 12
    assert not Referral.objects.exists()
    assert not Evaluation.objects.exists()


def test_the_live_panel_judges_what_is_valid_and_counts_the_errors(client, coordinator_wuwei):
    client.force_login(coordinator_wuwei)
    # Hemoglobin 130 g/dL is 1300 g/L: refused, so I5 is unknown; everything else still counts.
    data = form_data(number=9, hemoglobin="130", hemoglobin_unit="g/dL", full_name="")
    panel = client.post(reverse("referral_evaluate"), data).content.decode()
    assert "1 field has an error and counts as not given" in panel
    assert 'href="#div_id_hemoglobin"' in panel
    assert "Needed to save" in panel
    assert 'href="#div_id_full_name"' in panel
    assert "Incomplete" in panel
    assert "missing: hemoglobin" in panel
    assert "age 62 (18-70)" in panel


def test_the_live_panel_lists_what_is_missing(client, data_manager):
    client.force_login(data_manager)
    panel = client.post(reverse("referral_evaluate"), {"sex": "F"}).content.decode()
    assert "To do" in panel
    for key in ("date_of_birth", "ct", "labs_date", "ecog", "pregnant_or_breastfeeding"):
        assert f'href="#div_id_{key}"' in panel, key


def test_the_live_panel_for_an_edit_does_not_count_the_referral_as_its_own_duplicate(
    client, coordinator_wuwei, wuwei_referral
):
    client.force_login(coordinator_wuwei)
    url = reverse("referral_evaluate") + f"?referral={wuwei_referral.screening_number}"
    panel = client.post(url, form_data(number=1)).content.decode()
    assert "has an error" not in panel
    assert "Potentially eligible" in panel
    new_panel = client.post(reverse("referral_evaluate"), form_data(number=1)).content.decode()
    assert 'href="#div_id_hospital_number"' in new_panel


def test_the_live_panel_refuses_get(client, coordinator_wuwei):
    client.force_login(coordinator_wuwei)
    assert client.get(reverse("referral_evaluate")).status_code == 405


# --- the list ---------------------------------------------------------------------------------


def test_a_coordinator_lists_only_their_sites_referrals(client, coordinator_lanzhou):
    wuwei = create_referral(site="wuwei", number=1)
    lanzhou = create_referral(site="lanzhou", number=2)
    client.force_login(coordinator_lanzhou)
    page = client.get(reverse("referral_list")).content.decode()
    assert lanzhou.screening_number in page
    assert wuwei.screening_number not in page
    assert 'value="wuwei"' not in page  # not even as a site filter choice


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"q": "王"}, {"wang"}),
        ({"q": "wu-77"}, {"wang"}),
        ({"site": "lanzhou"}, {"li"}),
        ({"status": "screen_failed"}, {"li"}),
        ({"outcome": "incomplete"}, {"zhang"}),
        ({"referred_from": "2026-01-10"}, {"wang", "li"}),
        ({"referred_to": "2025-12-31"}, {"zhang"}),
        ({"referred_from": "2026-01-01", "referred_to": "2026-01-15"}, {"wang"}),
    ],
)
def test_list_filters_and_search(client, data_manager, query, expected, monkeypatch):
    referrals = {
        "wang": create_referral(
            number=1,
            full_name="王建国",
            hospital_number="WU-77",
            referral_date="2026-01-10",
            screening_date="2026-01-10",
            labs_date="2026-01-05",
        ),
        "li": create_referral(
            number=2,
            site="lanzhou",
            full_name="李秀英",
            cm="M1",
            referral_date="2026-02-01",
            screening_date="2026-02-01",
            labs_date="2026-01-30",
        ),
        "zhang": create_referral(
            number=3,
            full_name="张伟",
            ecog=None,
            referral_date="2025-12-01",
            screening_date="2025-12-01",
            labs_date="2025-11-30",
        ),
    }
    client.force_login(data_manager)
    page = client.get(reverse("referral_list"), query).content.decode()
    shown = {name for name, referral in referrals.items() if referral.screening_number in page}
    assert shown == expected


def test_list_sorts_by_referral_date_both_ways(client, data_manager):
    old = create_referral(
        number=1, referral_date="2025-12-01", screening_date="2025-12-01", labs_date="2025-11-30"
    )
    new = create_referral(
        number=2, referral_date="2026-02-01", screening_date="2026-02-01", labs_date="2026-01-30"
    )
    client.force_login(data_manager)
    newest = client.get(reverse("referral_list")).content.decode()
    oldest = client.get(reverse("referral_list"), {"sort": "oldest"}).content.decode()
    assert newest.index(new.screening_number) < newest.index(old.screening_number)
    assert oldest.index(old.screening_number) < oldest.index(new.screening_number)


def test_list_counts_per_status_and_paginates(client, data_manager):
    bulk_referrals(55)
    bulk_referrals(3, site="lanzhou", cm="M1")
    client.force_login(data_manager)
    first = client.get(reverse("referral_list")).content.decode()
    assert (
        'data-status="mdt_review">MDT review <span class="badge text-bg-light border">55<' in first
    )
    assert (
        'data-status="screen_failed">Screen failed <span class="badge text-bg-light border">3<'
        in first
    )
    assert "58 referrals" in first
    assert "Page 1 of 2" in first
    assert first.count('<tr>\n  <th scope="row"><a href="/referrals/S-') == 50
    second = client.get(reverse("referral_list"), {"page": 2}).content.decode()
    assert second.count('<tr>\n  <th scope="row"><a href="/referrals/S-') == 8


# Session, user, roles, the user's sites, then the page's own: row count, the page's ids, its
# rows, status counts, the site filter's choices.
LIST_QUERIES = {"coordinator_wuwei": 9, "mdt": 8, "data_manager": 8}


@pytest.mark.parametrize("who", LIST_QUERIES)
def test_list_queries_do_not_grow_with_rows(client, cast, who, django_assert_num_queries):
    client.force_login(cast[who])
    url = reverse("referral_list")
    bulk_referrals(10)
    with django_assert_num_queries(LIST_QUERIES[who]):
        assert client.get(url, {"q": "S-", "sort": "oldest"}).status_code == 200
    bulk_referrals(990, first=10)
    with django_assert_num_queries(LIST_QUERIES[who]):
        response = client.get(url, {"q": "S-", "sort": "oldest"})
    assert "1000 referrals" in response.content.decode()


def test_referral_page_queries_do_not_grow_with_its_history(
    client, coordinator_wuwei, data_manager
):
    referral = create_referral(user=coordinator_wuwei)
    client.force_login(data_manager)
    url = reverse("referral_detail", args=[referral.screening_number])
    with CaptureQueriesContext(connection) as first:
        assert client.get(url).status_code == 200

    for alt in (40, 50, 60, 70, 80):
        services.referral_update(referral=referral, data={"alt": alt}, user=coordinator_wuwei)
    with CaptureQueriesContext(connection) as later:
        response = client.get(url)

    assert "ALT" in response.content.decode()
    assert referral.evaluations.count() == 6
    assert len(later.captured_queries) == len(first.captured_queries)
