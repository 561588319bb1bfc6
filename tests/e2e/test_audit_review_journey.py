"""A data manager reviews the audit trail on a phone: the page fits 390 px, its table scrolls."""

import pytest
from axes.models import AccessFailureLog
from playwright.sync_api import expect

from screening import services
from tests.e2e.conftest import screenshot, serious_accessibility_violations, sign_in
from tests.factories import UserFactory, create_referral

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_data_manager_reviews_the_audit_trail_on_a_phone(new_page):
    coordinator = UserFactory(username="coord-wuwei", role="coordinator", site_codes=["wuwei"])
    mdt_member = UserFactory(username="mdt-li", role="mdt")
    UserFactory(username="data-manager", role="admin")
    referral = create_referral(user=coordinator, hospital_number="WW-600041")
    services.mdt_decision_record(
        referral=referral, user=mdt_member, decision="approve", rationale="Eligible."
    )
    services.referral_update(
        referral=referral,
        data={"referring_physician": "Dr Zhao Wenjing, Department of Radiation Oncology"},
        change_reason="Physician's name corrected from the referral letter.",
        user=coordinator,
    )
    services.record_view_create(user=coordinator, kind="history", referral=referral)
    AccessFailureLog.objects.create(
        username="coord-wuwei", ip_address="10.20.30.40", path_info="/accounts/login/"
    )

    page = new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, "data-manager")
    page.get_by_role("button", name="Toggle navigation").click()
    page.get_by_role("navigation").get_by_role("link", name="Audit review").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Audit review")
    table = page.locator(".table-responsive table")
    expect(table).to_contain_text("changed referring physician")
    expect(table).to_contain_text("Physician's name corrected from the referral letter.")
    expect(table).to_contain_text("Failed sign-in")
    # The page itself does not scroll sideways; the wide table scrolls inside its box.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.evaluate(
        "(() => { const box = document.querySelector('.table-responsive');"
        " return box.scrollWidth > box.clientWidth; })()"
    )
    assert serious_accessibility_violations(page) == []
    screenshot(page, "audit-1-phone")

    page.get_by_label("What").select_option("change")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(".table-responsive table tbody tr")).to_have_count(2)
    screenshot(page, "audit-2-changes")
