"""The demo of ``make run``: a trial six months into accrual, shown to each demo user."""

import csv
import datetime
import io
import re
from collections import Counter
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from screening import persons, rules
from screening.demo import demo_cases
from screening.models import Enrolment, MdtDecision, Referral, Signature
from tests.pages import find, text

Status = Referral.Status
COORDINATORS = {"wuwei": "coordinator-wuwei", "lanzhou": "coordinator-lanzhou"}


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """``load_demo``'s output; the demo is loaded once for the module, whose tests read it (each
    in a savepoint of its own), and rolled back when they are done."""
    hasher = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with (
        django_db_blocker.unblock(),
        override_settings(PASSWORD_HASHERS=hasher),
        transaction.atomic(),
    ):
        output = StringIO()
        call_command("load_demo", stdout=output)
        yield output.getvalue()
        transaction.set_rollback(True)


@pytest.fixture
def referrals(demo, db):
    return list(
        Referral.objects.select_related("site", "created_by", "evaluation").order_by(
            "screening_number"
        )
    )


def signed_in(username: str) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def test_every_status_and_outcome_is_there(referrals):
    statuses = Counter(referral.status for referral in referrals)
    assert set(statuses) == set(Status.values)
    assert statuses[Status.MDT_REVIEW] >= 5
    assert 55 <= len(referrals) <= 70
    assert {referral.outcome for referral in referrals} == set(Referral.Outcome.values)


def test_referrals_fail_every_criterion_and_miss_a_variety_of_data(referrals):
    def codes(result, status):
        return {
            code
            for referral in referrals
            if referral.status == status
            for code, found in referral.evaluation.results.items()
            if found["result"] == result
        }

    assert codes("fail", Status.SCREEN_FAILED) == set(rules.CODES)
    assert len(codes("unknown", Status.SCREENING) - {"E2"}) >= 6


def test_each_site_enters_its_referrals_with_its_own_coordinator(referrals):
    by_site = Counter(referral.site.code for referral in referrals)
    assert by_site["wuwei"] >= 20 and by_site["lanzhou"] >= 15
    for referral in referrals:
        assert referral.created_by.username == COORDINATORS[referral.site.code]
    for enrolment in Enrolment.objects.select_related("referral__site", "enrolled_by"):
        assert enrolment.enrolled_by.username == COORDINATORS[enrolment.referral.site.code]


def test_patients_vary_in_age_sex_tumour_and_referral_date(referrals):
    ages = [referral.age() for referral in referrals]
    assert (min(ages), max(ages)) == (30, 78)
    assert sum(age > 70 for age in ages) >= 3
    assert {referral.sex for referral in referrals} == {"M", "F"}
    assert {referral.histology for referral in referrals} == set(Referral.Histology.values)
    assert len({(referral.ct, referral.cn, referral.cm) for referral in referrals}) >= 10
    dates = [referral.referral_date for referral in referrals]
    today = timezone.localdate()
    assert max(dates) <= today
    assert (max(dates) - min(dates)).days >= 150
    # Referred in every month of the six.
    assert len({(date.year, date.month) for date in dates}) >= 6
    # Screening numbers are given in the order patients were referred.
    assert dates == sorted(dates)


def test_mdt_decisions_come_a_few_days_after_referral_with_reasons(demo, db):
    decisions = list(MdtDecision.objects.select_related("referral", "decided_by"))
    today = timezone.localdate()
    for decision in decisions:
        assert decision.referral.referral_date <= decision.meeting_date <= today
        assert (decision.meeting_date - decision.referral.referral_date).days <= 12
        assert decision.decided_by.username == "mdt"
        assert decision.rationale and decision.attendees
    rejections = [d for d in decisions if d.decision == "reject" and d.superseded_at is None]
    assert len({decision.reason_code for decision in rejections}) >= 3
    assert Signature.objects.filter(meaning=Signature.Meaning.APPROVED).count() >= 10


def test_a_voided_decision_went_back_to_review_and_another_was_decided_again(demo, db):
    voided = MdtDecision.objects.exclude(voided_by=None).select_related("referral")
    assert {decision.referral.status for decision in voided} == {
        Status.MDT_REVIEW,
        Status.ENROLLED,
    }
    for decision in voided:
        assert decision.void_reason
        assert decision.signatures.filter(meaning=Signature.Meaning.VOIDED).exists()
    redecided = next(d.referral for d in voided if d.referral.status == Status.ENROLLED)
    assert redecided.current_decision().meeting_date > next(
        d.meeting_date for d in voided if d.referral == redecided
    )


def test_withdrawals_are_coded_and_one_patient_declined_consent(referrals):
    withdrawn = [referral for referral in referrals if referral.status == Status.WITHDRAWN]
    codes = Counter(referral.withdrawal_code for referral in withdrawn)
    assert codes["declined_consent"] >= 1
    assert len(codes) >= 5
    for referral in withdrawn:
        if referral.withdrawal_code == "declined_consent":
            assert referral.decisions.get().decision == "approve"
        else:
            assert referral.withdrawal_reason


def test_possible_duplicates_and_a_linked_re_referral(referrals):
    flagged = [referral for referral in referrals if referral.possible_duplicate]
    assert len(flagged) == 4
    by_person = Counter(persons.Person.of(referral).duplicate_key() for referral in flagged)
    assert sorted(by_person.values()) == [2, 2]
    assert {referral.site.code for referral in flagged} == {"wuwei", "lanzhou"}
    (again,) = [referral for referral in referrals if referral.previous_referral_id]
    earlier = again.previous_referral
    assert earlier.status == Status.MDT_REJECTED
    assert (earlier.site, earlier.hospital_number) == (again.site, again.hospital_number)
    assert earlier.referral_date < again.referral_date
    assert earlier.current_decision().meeting_date < again.referral_date


def test_enrolments_are_numbered_in_consent_order_within_the_protocol(demo, db):
    enrolments = list(Enrolment.objects.select_related("referral").order_by("sequence"))
    assert 5 <= len(enrolments) <= 8
    assert [e.study_number for e in enrolments] == [
        f"EC-{n:03d}" for n in range(1, len(enrolments) + 1)
    ]
    consent_dates = [enrolment.consent_date for enrolment in enrolments]
    assert consent_dates == sorted(consent_dates)
    for enrolment in enrolments:
        referral = enrolment.referral
        assert referral.current_decision().meeting_date <= enrolment.consent_date
        assert enrolment.consent_date <= timezone.localdate()
        assert 0 <= (enrolment.consent_date - referral.labs_date).days <= 28
        assert enrolment.eligibility["outcome"] == rules.Outcome.POTENTIALLY_ELIGIBLE


def test_edits_keep_their_reasons_in_the_history(demo, db):
    # An ALT typed as 800 and corrected: the referral went from screen failed to the MDT.
    corrected = Referral.objects.get(status=Status.MDT_REVIEW, evaluations__outcome="ineligible")
    client = signed_in(COORDINATORS[corrected.site.code])

    page = client.get(reverse("referral_history", args=[corrected.screening_number]))

    assert "ALT was typed as 800" in page.content.decode()


def test_the_mdt_queue_shows_referrals_waiting_for_days_and_weeks(demo, db):
    page = signed_in("mdt").get(reverse("mdt_queue")).content.decode()

    in_review = Referral.objects.filter(status=Status.MDT_REVIEW).count()
    assert f"{in_review} referrals await the MDT." in page
    waiting = [int(days) for days in re.findall(r'data-label="Days waiting">(\d+)</td>', page)]
    assert len(waiting) == in_review
    assert min(waiting) < 7 and max(waiting) > 14
    assert "Possible duplicate" in page


def test_the_enrol_page_offers_consent_for_an_approval_with_fresh_labs(demo, db):
    today = timezone.localdate()
    awaiting = Referral.objects.filter(status=Status.MDT_APPROVED).select_related("site")
    fresh = [r for r in awaiting if (today - r.labs_date).days <= 28]
    stale = [r for r in awaiting if (today - r.labs_date).days > 28]
    assert fresh and stale

    def eligibility(referral):
        client = signed_in(COORDINATORS[referral.site.code])
        page = client.get(reverse("referral_enrol", args=[referral.screening_number]))
        assert page.status_code == 200
        return text(
            find(
                page.content.decode(), "section", **{"aria-labelledby": "eligibility-as-of-heading"}
            )
        )

    assert "enrolment would be accepted" in eligibility(fresh[0])
    assert "enter a new blood panel" in eligibility(stale[0])


def test_the_consort_page_shows_the_whole_flow(demo, db):
    page = signed_in("datamanager").get(reverse("consort")).content.decode()

    enrolled = Enrolment.objects.count()
    assert f"Enrolled (n = {enrolled})" in page
    for box in ("Declined consent", "Rejected by the MDT", "Awaiting an MDT decision"):
        row = re.search(rf"{box}</th>(.*?)</tr>", page, re.S).group(1)
        overall = int(re.findall(r">(\d+)<", row)[0])
        assert overall >= 1, box


def test_the_exports_page_counts_and_downloads_the_demo(demo, db):
    client = signed_in("datamanager")
    page = client.get(reverse("exports")).content.decode()

    counts = re.findall(r'<td class="text-end">(\d+)</td>', page)
    enrolled, referred = Enrolment.objects.count(), Referral.objects.count()
    # The enrolment list, then the screening log, the identification list and the ODM export.
    assert counts == [str(enrolled), str(referred), str(referred), str(referred)]
    download = client.get(reverse("export_enrolment_csv"))
    content = b"".join(download.streaming_content).decode("utf-8-sig")
    assert len(list(csv.DictReader(io.StringIO(content)))) == enrolled


def test_loading_again_changes_nothing(demo, db):
    before = Counter(Referral.objects.values_list("status", flat=True))
    output = StringIO()

    call_command("load_demo", stdout=output)

    assert "demo data already loaded" in output.getvalue()
    assert Counter(Referral.objects.values_list("status", flat=True)) == before
    assert get_user_model().objects.count() == 4
    assert f"loaded {sum(before.values())} demo referrals" in demo


def test_the_demo_is_the_same_every_time():
    today = datetime.date(2027, 3, 1)
    assert demo_cases(today) == demo_cases(today)
    shifted = demo_cases(today + datetime.timedelta(days=10))
    assert [case.row["full_name"] for case in shifted] == [
        case.row["full_name"] for case in demo_cases(today)
    ]


@pytest.mark.parametrize("username", [*COORDINATORS.values(), "mdt", "datamanager"])
def test_every_demo_user_sees_the_dashboard_and_the_referrals_of_their_sites(demo, db, username):
    client = signed_in(username)

    assert client.get(reverse("dashboard")).status_code == 200
    page = client.get(reverse("referral_list")).content.decode()
    # The newest twenty: on the list's first page whoever reads it.
    for referral in Referral.objects.select_related("site").order_by("-referral_date")[:20]:
        visible = username not in COORDINATORS.values() or (
            COORDINATORS[referral.site.code] == username
        )
        assert (referral.screening_number in page) == visible, referral.screening_number
