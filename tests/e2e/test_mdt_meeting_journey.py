"""The MDT meeting in a real browser: a decision typed in days after the meeting, consent
bounded by the meeting, a voided decision, and the referral page afterwards."""

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from screening import services
from screening.models import Enrolment, MdtDecision, Referral
from tests.e2e.conftest import screenshot, serious_accessibility_violations, sign_in
from tests.factories import PASSWORD, UserFactory, create_referral

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _days_ago(days: int) -> datetime.date:
    return timezone.localdate() - datetime.timedelta(days=days)


@pytest.fixture
def cast():
    coordinator = UserFactory(username="coord-wuwei", role="coordinator", site_codes=["wuwei"])
    mdt_member = UserFactory(username="mdt-li", role="mdt", first_name="Li", last_name="Wei")
    return coordinator, mdt_member


def test_a_decision_typed_in_after_the_meeting_and_consent_between_them(new_page, cast):
    coordinator, _mdt_member = cast
    referral = create_referral(
        user=coordinator,
        full_name="欧阳明",
        hospital_number="WW-510001",
        referral_date=_days_ago(12),
        screening_date=_days_ago(11),
        labs_date=_days_ago(11),
    )
    number = referral.screening_number
    met_on, consented_on = _days_ago(3), _days_ago(2)

    # The MDT met three days ago; a member types the decision in today.
    page = new_page()
    sign_in(page, "mdt-li")
    page.goto(f"/referrals/{number}/decision/")
    expect(page.locator(".referral-facts")).to_contain_text("欧阳明")
    expect(page.locator(".referral-facts")).to_contain_text("WW-510001")
    page.get_by_label("Meeting date").fill(met_on.isoformat())
    page.get_by_label("Rationale").fill("cT3N1M0 squamous; fit for carbon-ion boost.")
    page.get_by_label("Attending members").fill("Li (radiation oncology), Zhou (surgery)")
    page.get_by_label("Your password, to sign").fill(PASSWORD)
    screenshot(page, "meeting-1-decision-typed-in-later")
    page.get_by_role("button", name="Approve").click()
    page.wait_for_url("**/mdt/")
    assert MdtDecision.objects.get(referral=referral).meeting_date == met_on

    # The coordinator enrols with consent given the day after the meeting.
    page = new_page()
    sign_in(page, "coord-wuwei")
    page.goto(f"/referrals/{number}/")
    headline = page.locator(".status-headline")
    expect(headline).to_contain_text(f"Approved by the MDT on {met_on.isoformat()}")
    expect(page.locator(".mdt-decisions")).to_contain_text("Li Wei")
    page.get_by_role("link", name="Enrol").click()
    expect(page.locator(".referral-facts")).to_contain_text("欧阳明")
    expect(page.locator(".referral-facts")).to_contain_text("WW-510001")
    expect(page.get_by_text(f"Approved at the MDT meeting of {met_on.isoformat()}")).to_be_visible()
    page.get_by_label("Consent date").fill(consented_on.isoformat())
    page.get_by_label("Consent date").dispatch_event("change")
    recheck = page.locator("#consent-eligibility")
    expect(recheck).to_contain_text(f"Eligibility if consent were given on {consented_on}")
    expect(recheck).to_contain_text("enrolment would be accepted")
    page.get_by_label("Your password, to sign").fill(PASSWORD)
    assert serious_accessibility_violations(page) == []
    screenshot(page, "meeting-2-enrol")
    page.get_by_role("button", name="Enrol participant").click()

    page.wait_for_url(f"**/referrals/{number}/")
    expect(headline).to_contain_text("Enrolled as EC-001")
    expect(headline).to_contain_text(f"Consent signed on {consented_on.isoformat()}")
    facts = page.locator(".referral-facts")
    expect(facts).to_contain_text("EC-001")
    expect(facts).to_contain_text(consented_on.isoformat())
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)
    expect(page.get_by_role("link", name="Withdraw")).to_have_count(0)
    screenshot(page, "meeting-3-enrolled-referral")
    # The print view keeps what every CRF needs.
    page.emulate_media(media="print")
    expect(headline).to_be_visible()
    expect(facts).to_contain_text("EC-001")
    expect(page.locator(".mdt-decisions")).to_be_visible()
    page.emulate_media(media="screen")
    assert Enrolment.objects.get(referral=referral).consent_date == consented_on

    page.get_by_role("navigation").get_by_role("link", name="Referrals").click()
    row = page.get_by_role("row").filter(has_text=number)
    expect(row).to_contain_text("EC-001")
    expect(row).to_contain_text(consented_on.isoformat())


def test_a_rejected_referral_reads_as_rejected(new_page, cast):
    coordinator, mdt_member = cast
    referral = create_referral(user=coordinator, hospital_number="WW-510002")
    services.mdt_decision_record(
        referral=referral,
        user=mdt_member,
        decision="reject",
        reason_code="E3",
        rationale="Deep ulceration on endoscopy.",
    )

    page = new_page()
    sign_in(page, "coord-wuwei")
    page.goto(f"/referrals/{referral.screening_number}/")

    headline = page.locator(".status-headline")
    expect(headline).to_contain_text("Rejected by the MDT on")
    expect(headline).to_contain_text("E3 · High risk of esophageal perforation")
    expect(headline).to_contain_text("Deep ulceration on endoscopy.")
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)
    expect(page.get_by_role("link", name="Withdraw")).to_have_count(0)
    assert serious_accessibility_violations(page) == []
    screenshot(page, "meeting-4-rejected-referral")


def test_an_mdt_member_voids_a_mis_clicked_decision(new_page, cast):
    coordinator, mdt_member = cast
    referral = create_referral(user=coordinator, hospital_number="WW-510003")
    services.mdt_decision_record(
        referral=referral, user=mdt_member, decision="reject", reason_code="other", rationale="x"
    )
    number = referral.screening_number

    page = new_page()
    sign_in(page, "mdt-li")
    page.goto(f"/referrals/{number}/")
    page.get_by_role("link", name="Void the decision").click()
    page.get_by_label("Reason for voiding the decision").fill("Reject pressed instead of approve.")
    page.get_by_label("Your password, to sign").fill(PASSWORD)
    screenshot(page, "meeting-5-void")
    page.get_by_role("button", name="Void the decision").click()

    page.wait_for_url(f"**/referrals/{number}/")
    expect(page.get_by_role("alert")).to_contain_text(f"The MDT decision on {number} is voided")
    expect(page.locator(".status-headline")).to_contain_text("Awaiting the MDT's decision")
    decisions = page.locator(".mdt-decisions")
    expect(decisions).to_contain_text("voided")
    expect(decisions).to_contain_text("Reject pressed instead of approve.")
    screenshot(page, "meeting-6-voided")
    assert Referral.objects.get(pk=referral.pk).status == Referral.Status.MDT_REVIEW
    # Back in the queue for a new decision.
    page.goto("/mdt/")
    expect(page.get_by_role("table")).to_contain_text(number)
