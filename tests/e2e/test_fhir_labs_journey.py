"""A coordinator takes in a referral's blood panel from the laboratory system's FHIR Bundle."""

import pytest
from playwright.sync_api import expect

from screening import units
from tests import fhir_bundles
from tests.e2e.conftest import (
    DASHBOARD,
    screenshot,
    serious_accessibility_violations,
    sign_in,
)
from tests.factories import PASSWORD, UserFactory, create_referral

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

NO_LABS = {
    "labs_date": None,
    **dict.fromkeys(units.LAB_KEYS),
    **{f"{key}_unit": None for key in units.LAB_KEYS},
}


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_coordinator_imports_labs_and_the_referral_becomes_potentially_eligible(new_page, tmp_path):
    UserFactory(username="coord-wuwei", role="coordinator", site_codes=["wuwei"])
    referral = create_referral(**NO_LABS)
    number = referral.screening_number
    bundle = tmp_path / "lab-export.json"
    bundle.write_text(
        fhir_bundles.bundle(
            referral,
            fhir_bundles.panel(fhir_bundles.CONVENTIONAL_PANEL, day=referral.screening_date),
        ),
        encoding="utf-8",
    )
    page = new_page()
    sign_in(page, "coord-wuwei")
    page.goto(f"/referrals/{number}/")
    expect(page.locator(".outcome-card")).to_contain_text("Incomplete")
    page.get_by_role("link", name="Import labs (FHIR)").click()
    page.wait_for_url(f"**/referrals/{number}/labs/")
    assert serious_accessibility_violations(page) == []

    page.get_by_label("Bundle file (JSON)").set_input_files(bundle)
    page.get_by_role("button", name="Read the results").click()
    expect(page.get_by_text("Read from lab-export.json")).to_be_visible()
    panel = page.locator("#eligibility-panel")
    expect(panel).to_contain_text("Now: Incomplete.")
    expect(panel.locator(".panel-outcome")).to_contain_text("Potentially eligible")
    expect(page.locator('tr[data-key="total_bilirubin"]')).to_contain_text("0.8 mg/dL")
    expect(page.locator('tr[data-key="total_bilirubin"]')).to_contain_text("13.68 umol/L")
    expect(page.get_by_label("Reason for the change")).to_have_value(
        "Results from the laboratory system"
    )
    assert serious_accessibility_violations(page) == []
    for width in (390, 768, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        assert no_sideways_scroll(page), width
        screenshot(page, f"fhir-labs-preview-{width}")

    page.get_by_role("button", name="Save the accepted values").click()
    page.wait_for_url(f"**/referrals/{number}/")
    expect(page.locator(".alert-success")).to_contain_text("saved from lab-export.json")
    expect(page.locator(".outcome-card")).to_contain_text("Potentially eligible")
    data = page.locator("#data-heading + .row")
    expect(data).to_contain_text("0.8 mg/dL (= 13.68 umol/L)")
    expect(data).to_contain_text("13.2 g/dL (= 132 g/L)")
    expect(data).to_contain_text("FHIR Bundle lab-export.json, Observation obs-1")

    page.goto(f"/referrals/{number}/history/")
    expect(page.locator(".data-source").first).to_contain_text(
        "FHIR Bundle lab-export.json, Observation obs-1"
    )


def test_the_preview_fits_a_phone_in_chinese(new_page, tmp_path):
    UserFactory(username="coord-wuwei", role="coordinator", site_codes=["wuwei"])
    referral = create_referral(**NO_LABS)
    page = new_page(locale="zh-CN")
    page.set_viewport_size({"width": 390, "height": 900})
    sign_in_chinese = page.goto("/accounts/login/")
    assert sign_in_chinese.ok
    page.locator("#id_username").fill("coord-wuwei")
    page.locator("#id_password").fill(PASSWORD)
    # The sign-in form's button; the navigation's language form has one too.
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(DASHBOARD)
    page.goto(f"/referrals/{referral.screening_number}/labs/")
    page.locator("#id_bundle").fill(
        fhir_bundles.bundle(referral, fhir_bundles.panel(day=referral.screening_date))
    )
    page.get_by_role("button", name="读取结果").click()
    expect(page.get_by_role("button", name="保存接受的数值")).to_be_visible()
    expect(page.locator("#eligibility-panel")).to_contain_text("当前：")
    assert no_sideways_scroll(page)
    screenshot(page, "fhir-labs-preview-zh-390")
