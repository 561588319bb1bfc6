"""A data manager previews raising the upper age to 75, adopts it, and the criteria read
18–75 from then on."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from screening.models import ProtocolVersion, Referral
from tests.e2e.conftest import screenshot, serious_accessibility_violations, sign_in
from tests.factories import UserFactory, create_referral

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def born_aged(age: int) -> str:
    """A date of birth making the patient ``age`` at a screening date of today."""
    return f"{timezone.localdate().year - age}-01-01"


def test_an_amended_upper_age_reads_in_the_criteria_and_the_live_panel(new_page):
    coordinator = UserFactory(username="coord-wuwei", role="coordinator", site_codes=["wuwei"])
    UserFactory(username="data-manager", role="admin")
    referral = create_referral(user=coordinator, age=72, hospital_number="WW-300072")
    assert referral.outcome == Referral.Outcome.INELIGIBLE

    # The data manager amends the protocol in the admin: version 2, upper age 75.
    manager = new_page()
    sign_in(manager, "data-manager")
    manager.goto("/admin/screening/protocolversion/add/")
    manager.locator("#id_note").fill("Amendment 1:\nupper age raised to 75.")
    manager.locator("#id_age_max").fill("75")
    manager.get_by_role("button", name="Preview the amendment").click()
    # The preview says whose outcome would change, and adopts nothing yet.
    changes = manager.locator("#outcome-changes")
    expect(changes).to_contain_text(referral.screening_number)
    expect(changes).to_contain_text("Ineligible → Potentially eligible")
    expect(changes).to_contain_text("Screen failed → MDT review")
    assert ProtocolVersion.objects.count() == 1
    for width in (390, 768, 1280):
        manager.set_viewport_size({"width": width, "height": 900})
        assert manager.evaluate("document.documentElement.scrollWidth") <= width, width
    assert serious_accessibility_violations(manager) == []
    screenshot(manager, "amendment-0-preview")
    manager.get_by_role("button", name="Adopt amendment").click()
    manager.wait_for_url("**/outcome-changes/")
    expect(manager.locator("#content-main")).to_contain_text(referral.screening_number)
    screenshot(manager, "amendment-1-outcome-changes")
    assert ProtocolVersion.current().age_max == 75

    # The referral evaluated again reads the new range beside its reason.
    page = new_page()
    sign_in(page, "coord-wuwei")
    page.goto(f"/referrals/{referral.screening_number}/")
    i1 = page.locator('tr[data-code="I1"]')
    expect(i1).to_contain_text("Age 18–75 years (inclusive)")
    expect(i1).to_contain_text("age 72 (18-75)")
    expect(i1).not_to_contain_text("18–70")
    expect(page.locator("#outcome-heading")).to_contain_text("Potentially eligible")
    expect(page.locator(".outcome-card")).to_contain_text("protocol version 2")
    assert serious_accessibility_violations(page) == []
    screenshot(page, "amendment-2-referral-page")

    # A new referral: the live panel words I1 with the amended limit, and names a failure.
    page.get_by_role("link", name="New referral").click()
    page.wait_for_url("**/referrals/new/")
    panel = page.locator("#eligibility-panel")
    page.get_by_label("Date of birth").fill(born_aged(73))
    page.get_by_label("Referral date").fill(timezone.localdate().isoformat())
    panel_i1 = panel.locator('tr[data-code="I1"]')
    expect(panel_i1).to_contain_text("Age 18–75 years (inclusive)")
    expect(panel_i1).to_contain_text("Pass")
    screenshot(page, "amendment-3-live-panel")

    page.get_by_label("Date of birth").fill(born_aged(80))
    expect(panel.locator(".panel-outcome")).to_contain_text(
        "Ineligible: I1 fails (age 80 is above 75)."
    )
    failing = panel.locator(".failing li")
    expect(failing).to_have_count(1)
    expect(failing).to_contain_text("I1 Age 18–75 years (inclusive): age 80 is above 75")
    # The failure comes before the long to-do list of the half-filled form.
    assert (
        panel.locator(".failing").bounding_box()["y"] < (panel.locator(".todo").bounding_box()["y"])
    )
    assert serious_accessibility_violations(page) == []
    screenshot(page, "amendment-4-live-panel-failing")
