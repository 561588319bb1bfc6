"""The referral page: the record, its judgement, the actions the user may take and the status
history."""

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from screening import services
from screening.models import RecordView
from tests.factories import create_referral
from tests.flows import amend, approve, enrol
from tests.pages import find, find_all, text


def test_the_referral_page_shows_the_record(client_as):
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
    client = client_as("coordinator_wuwei")
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


def test_the_referral_page_shows_the_stage_group(client_as):
    referral = create_referral(histology="squamous_cell_carcinoma", ct="T3", cn="N1", cm="M0")
    client = client_as("mdt")
    page = client.get(reverse("referral_detail", args=[referral.screening_number])).content.decode()
    assert '<strong class="text-body">III</strong>' in page


def test_edit_and_withdraw_buttons_only_for_those_allowed(client_as, wuwei_referral):
    number = wuwei_referral.screening_number
    edit_url = reverse("referral_edit", args=[number])
    for who, shown in (("coordinator_wuwei", True), ("mdt", False), ("data_manager", True)):
        page = client_as(who).get(reverse("referral_detail", args=[number])).content.decode()
        assert (edit_url in page) is shown, who
        assert ('id="withdraw-modal"' in page) is shown, who


def test_status_history_lists_each_change_with_who_made_it(client_as, wuwei_referral):
    client = client_as("coordinator_wuwei")
    number = wuwei_referral.screening_number
    client.post(reverse("referral_withdraw", args=[number]), {"code": "other", "reason": "moved"})
    page = client.get(reverse("referral_detail", args=[number])).content.decode()
    history = text(find(page, "ol", class_="status-history"))
    # Stored evaluated, the referral was in review from the start.
    assert "Screening" not in history
    assert history.index("MDT review") < history.index("Withdrawn")
    assert history.count("coord-wuwei") == 1  # the withdrawal; the test set the referral up


def test_opening_the_referral_page_is_recorded_and_a_refused_look_is_not(
    client_as, coordinator_wuwei, coordinator_lanzhou, wuwei_referral
):
    url = reverse("referral_detail", args=[wuwei_referral.screening_number])

    assert client_as("coordinator_wuwei").get(url).status_code == 200
    assert client_as("coordinator_lanzhou").get(url).status_code == 404

    view = RecordView.objects.get()
    assert (view.viewer, view.kind, view.referral) == (
        coordinator_wuwei,
        "referral",
        wuwei_referral,
    )
    assert view.viewed_at is not None


def test_referral_page_queries_do_not_grow_with_its_history(client_as, coordinator_wuwei):
    referral = create_referral(user=coordinator_wuwei)
    client = client_as("data_manager")
    url = reverse("referral_detail", args=[referral.screening_number])
    with CaptureQueriesContext(connection) as first:
        assert client.get(url).status_code == 200

    for alt in (40, 50, 60, 70, 80):
        services.referral_update(
            change_reason="Corrected from the source record.",
            referral=referral,
            data={"alt": alt},
            user=coordinator_wuwei,
        )
    with CaptureQueriesContext(connection) as later:
        response = client.get(url)

    # Both counts include the INSERT that records the view of the page.

    assert "ALT" in response.content.decode()
    assert referral.evaluations.count() == 6
    assert len(later.captured_queries) == len(first.captured_queries)


@pytest.fixture
def language_restored():
    """A request in Chinese leaves Chinese active in this thread: put English back after."""
    with translation.override("en"):
        yield


def test_the_referral_page_words_the_criteria_with_the_version_of_its_evaluation(
    client_as, coordinator_wuwei, data_manager, language_restored
):
    """After the upper age goes to 75, a referral evaluated again reads 18–75; a withdrawn
    one, not evaluated again, still reads 18–70 beside its reason."""
    open_referral = create_referral(user=coordinator_wuwei, number=1, age=72)
    withdrawn = create_referral(user=coordinator_wuwei, number=2, age=72, status="withdrawn")
    amend(data_manager, age_max=75, alt_max=120, labs_max_age_days=21)
    client = client_as("coordinator_wuwei")

    def criterion(referral, code):
        url = reverse("referral_detail", args=[referral.screening_number])
        return text(find(client.get(url).content.decode(), "tr", **{"data-code": code}))

    amended = criterion(open_referral, "I1")
    assert "Age 18–75 years (inclusive)" in amended
    assert "age 72 (18-75)" in amended
    assert "18–70" not in amended
    assert "ALT and AST ≤ 120 U/L" not in criterion(open_referral, "I4")  # AST stays 100
    assert "ALT ≤ 120 U/L, AST ≤ 100 U/L" in criterion(open_referral, "I4")
    assert "labs within 21 days" in criterion(open_referral, "I5")
    old = criterion(withdrawn, "I1")
    assert "Age 18–70 years (inclusive)" in old
    assert "age 72 is above 70" in old
    assert "18–75" not in old

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    assert "年龄 18–75 岁（含）" in criterion(open_referral, "I1")
    assert "年龄 18–70 岁（含）" in criterion(withdrawn, "I1")


def test_the_outcome_card_names_the_failing_criteria_and_why(
    client_as, coordinator_wuwei, language_restored
):
    referral = create_referral(user=coordinator_wuwei, age=80, ct="T2", cn="N0")
    client = client_as("coordinator_wuwei")
    url = reverse("referral_detail", args=[referral.screening_number])

    card = text(find(client.get(url).content.decode(), "section", class_="outcome-card"))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    chinese = text(find(client.get(url).content.decode(), "section", class_="outcome-card"))

    assert (
        "Ineligible: I1 and I2 fail (I1: age 80 is above 70; "
        "I2: cT2N0 is excluded (cT1-2N0M0))." in card
    )
    assert (
        "不符合入组条件：I1 和 I2 未通过（I1：年龄 80 岁，高于 70 岁；"
        "I2：cT2N0 属排除范围（cT1-2N0M0））。" in chinese
    )


# The referral page keeps what it draws of the evaluation, the decisions and signatures and the
# referral's data (views.referrals: kept.kept_drawing); each test opens the page before the
# change, so that a drawing kept of the old state would be shown after it.


def test_a_new_evaluation_is_shown_on_a_page_opened_before_it(client_as, coordinator_wuwei):
    referral = create_referral(user=coordinator_wuwei, alt=80)
    client = client_as("coordinator_wuwei")
    url = reverse("referral_detail", args=[referral.screening_number])
    before = client.get(url).content.decode()
    assert find_all(before, "tr", class_="criterion-pass", **{"data-code": "I4"})

    services.referral_update(
        referral=referral,
        data={"alt": 180},
        change_reason="Corrected from the source record.",
        user=coordinator_wuwei,
    )
    after = client.get(url).content.decode()

    assert find_all(after, "tr", class_="criterion-fail", **{"data-code": "I4"})
    assert "Ineligible: I4 fails" in text(find(after, "section", class_="outcome-card"))
    assert "180 U/L" in text(find(after, "section", **{"aria-labelledby": "data-heading"}))
    assert "Screen failed" in text(find(after, "h1"))


def test_an_amendment_is_shown_on_a_page_opened_before_it(
    client_as, coordinator_wuwei, data_manager
):
    referral = create_referral(user=coordinator_wuwei, age=72)
    client = client_as("coordinator_wuwei")
    url = reverse("referral_detail", args=[referral.screening_number])
    before = text(find(client.get(url).content.decode(), "tr", **{"data-code": "I1"}))
    assert "Age 18–70 years (inclusive)" in before

    amend(data_manager, age_max=75)

    after = text(find(client.get(url).content.decode(), "tr", **{"data-code": "I1"}))
    assert "Age 18–75 years (inclusive)" in after
    assert "age 72 (18-75)" in after


def test_the_page_is_drawn_in_each_language_it_is_asked_in(
    client_as, coordinator_wuwei, mdt_member, language_restored
):
    referral = create_referral(user=coordinator_wuwei)
    approve(referral, mdt_member)
    client = client_as("coordinator_wuwei")
    url = reverse("referral_detail", args=[referral.screening_number])

    pages = {}
    for language in ("en", "zh-hans", "en"):
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        pages.setdefault(language, []).append(client.get(url).content.decode())

    for language, shown in pages.items():
        with translation.override(language):
            words = [
                translation.gettext("Hospital number"),  # the facts
                translation.gettext("Values used"),  # the criteria table
                translation.gettext("MDT decisions"),  # the decisions
                translation.gettext("Diagnosis and staging"),  # the data cards
            ]
        for page in shown:
            for word in words:
                assert word in page, (language, word)
    assert "Hospital number" not in pages["zh-hans"][0]


def test_a_decision_its_voiding_and_an_enrolment_show_on_a_page_opened_before_them(
    client_as, coordinator_wuwei, mdt_member
):
    referral = create_referral(user=coordinator_wuwei)
    client = client_as("coordinator_wuwei")
    url = reverse("referral_detail", args=[referral.screening_number])
    assert "MDT decisions" not in client.get(url).content.decode()

    approve(referral, mdt_member)
    decided = client.get(url).content.decode()
    assert "Approved" in text(find(decided, "section", class_="mdt-decisions"))
    assert "Meaning: approved for the trial" in text(find(decided, "ul", class_="signatures"))

    services.mdt_decision_void(referral=referral, user=mdt_member, reason="Wrong patient file.")
    voided = client.get(url).content.decode()
    assert "Wrong patient file." in text(find(voided, "section", class_="mdt-decisions"))
    assert "Meaning: decision voided" in text(find(voided, "ul", class_="signatures"))

    approve(referral, mdt_member)
    client.get(url)
    enrolment = enrol(referral, coordinator_wuwei)
    enrolled = client.get(url).content.decode()
    assert enrolment.study_number in text(find(enrolled, "dl", class_="referral-facts"))
