"""MDT members decide on a candidate in a real browser."""

import pytest
from playwright.sync_api import expect

from screening.models import MdtDecision, Referral
from tests.e2e.conftest import printed_pages, screenshot, serious_accessibility_violations, sign_in
from tests.factories import PASSWORD, UserFactory, create_referral

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_mdt_member_approves_and_a_late_second_decision_is_refused(new_page):
    coordinator = UserFactory(username="coord-wuwei", role="coordinator", site_codes=["wuwei"])
    UserFactory(username="mdt-li", role="mdt")
    UserFactory(username="mdt-wang", role="mdt")
    referral = create_referral(user=coordinator, hospital_number="WW-300017")
    number = referral.screening_number
    assert referral.status == Referral.Status.MDT_REVIEW

    # A second member opens the same candidate first and is slower to decide.
    late = new_page()
    sign_in(late, "mdt-wang")
    late.goto(f"/referrals/{number}/decision/")
    expect(late.get_by_role("button", name="Approve")).to_be_visible()

    page = new_page()
    sign_in(page, "mdt-li")
    page.get_by_role("navigation").get_by_role("link", name="MDT review queue").click()
    queue = page.get_by_role("table")
    expect(queue.get_by_role("row")).to_have_count(2)  # the header and the one candidate
    expect(queue).to_contain_text(number)
    expect(queue).to_contain_text("dosimetry not assessed")
    assert serious_accessibility_violations(page) == []
    screenshot(page, "mdt-1-queue")

    # Reads the referral, then decides.
    queue.get_by_role("link", name=number, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(number)
    expect(page.locator("#outcome-heading")).to_contain_text("Potentially eligible")
    screenshot(page, "mdt-2-referral")
    assert printed_pages(page, "mdt-2-referral-print") == 1
    page.go_back()
    page.get_by_role("link", name=f"Decide {number}").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"MDT decision on {number}")
    assert serious_accessibility_violations(page) == []
    page.get_by_label("Rationale").fill("cT3N1M0 squamous, fit; dosimetry to follow the MDT.")
    page.get_by_label("Attending members").fill("Li (radiation oncology), Zhou (surgery)")
    page.get_by_label("Your password, to sign").fill(PASSWORD)
    screenshot(page, "mdt-3-decision")
    page.get_by_role("button", name="Approve").click()

    page.wait_for_url("**/mdt/")
    expect(page.get_by_role("alert")).to_contain_text(f"{number} approved by the MDT.")
    expect(page.get_by_text("No referral awaits the MDT.")).to_be_visible()
    screenshot(page, "mdt-4-queue-after")

    # The late member's decision is refused and says who decided first.
    late.get_by_label("Rationale").fill("Eligible; fit for carbon-ion boost.")
    late.get_by_label("Your password, to sign").fill(PASSWORD)
    late.get_by_role("button", name="Approve").click()
    refusal = late.get_by_role("alert")
    expect(refusal).to_contain_text(f"{number} was already decided by mdt-li")
    assert serious_accessibility_violations(late) == []
    screenshot(late, "mdt-5-already-decided")

    decision = MdtDecision.objects.get(referral=referral)
    assert decision.decided_by.username == "mdt-li"
    assert decision.rationale == "cT3N1M0 squamous, fit; dosimetry to follow the MDT."
    referral.refresh_from_db()
    assert referral.status == Referral.Status.MDT_APPROVED


def test_the_longest_referral_page_prints_on_one_a4_page(new_page):
    """An incomplete referral failing several criteria: the most a page has to print."""
    coordinator = UserFactory(username="coord-wuwei", role="coordinator", site_codes=["wuwei"])
    UserFactory(username="mdt-li", role="mdt")
    referral = create_referral(
        user=coordinator,
        sex="F",
        labs_date=None,
        ecog=2,
        lvef_percent=45,
        fev1_litres=1.1,
        cardiac_event_within_6_months="yes",
        uncontrolled_arrhythmia="unknown",
        interstitial_lung_disease="unknown",
        pathology_confirmed="unknown",
        cn="NX",
        prior_esophageal_surgery="unknown",
        dosimetry_status="not_feasible",
        lung_v20_percent=31,
        heart_v30_percent=44,
        fistula_or_perforation="unknown",
        deep_ulceration="yes",
        perforation_risk_other="unknown",
        pregnant_or_breastfeeding="unknown",
        active_connective_tissue_disease="unknown",
        prior_thoracic_radiotherapy_overlap="unknown",
        other_absolute_rt_contraindication="unknown",
    )
    page = new_page()
    sign_in(page, "mdt-li")
    page.goto(f"/referrals/{referral.screening_number}/")
    expect(page.locator("#outcome-heading")).to_contain_text("Ineligible")
    expect(page.locator("#todo-heading")).to_be_visible()

    assert printed_pages(page, "print-longest-referral") == 1
    page.emulate_media(media="print")
    for hidden in ("navigation", "button"):
        expect(page.get_by_role(hidden)).to_have_count(0)
    expect(page.locator("#todo-heading")).to_be_visible()
    expect(page.locator(".criteria-table tbody tr")).to_have_count(12)
    screenshot(page, "print-longest-referral")
