"""A coordinator enters a referral section by section in a real browser."""

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from screening.models import Referral
from tests.e2e.conftest import screenshot, serious_accessibility_violations, sign_in
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def days_ago(days: int) -> str:
    return (timezone.localdate() - datetime.timedelta(days=days)).isoformat()


def answer(page, question: str, choice: str) -> None:
    """Tick ``choice`` (Yes / No / Unknown) of the tri-state question named ``question``."""
    page.locator(f"#div_id_{question}").get_by_label(choice, exact=True).check()


def test_coordinator_enters_a_referral_section_by_section(new_page):
    UserFactory(username="coord-wuwei", role="coordinator", site_codes=["wuwei"])
    page = new_page()
    page.goto("/accounts/login/")
    assert serious_accessibility_violations(page) == []
    sign_in(page, "coord-wuwei")
    assert serious_accessibility_violations(page) == []

    page.get_by_role("link", name="New referral").click()
    # The live panel listens once the page has loaded.
    page.wait_for_url("**/referrals/new/")
    panel = page.locator("#eligibility-panel")
    outcome = panel.locator(".panel-outcome")
    expect(outcome).to_contain_text("Incomplete")
    assert serious_accessibility_violations(page) == []

    # Patient
    page.get_by_label("Hospital number").fill("WW-204411")
    page.get_by_label("Full name").fill("张建国")
    page.get_by_label("Sex").select_option("M")
    page.get_by_label("Date of birth").fill("1961-09-02")
    # Referral
    page.get_by_label("Referral date").fill(days_ago(3))
    page.get_by_label("Referring physician").fill("赵医生")
    expect(panel.locator('tr[data-code="I1"]')).to_contain_text("Pass")
    expect(outcome).to_contain_text("Incomplete")

    # Diagnosis and staging
    answer(page, "pathology_confirmed", "Yes")
    page.get_by_label("Histology").select_option("squamous_cell_carcinoma")
    page.get_by_label("Tumour location").select_option("middle_thoracic")
    page.get_by_label("Clinical T (cT)").select_option("T3")
    page.get_by_label("Clinical N (cN)").select_option("N1")
    page.get_by_label("Clinical M (cM)").select_option("M0")
    expect(panel).to_contain_text("III")
    expect(panel.locator('tr[data-code="I2"]')).to_contain_text("Pass")

    # Prior treatment
    answer(page, "prior_esophageal_radiotherapy", "No")
    answer(page, "prior_esophageal_surgery", "No")

    # Blood panel; hemoglobin 12.4 is g/dL, but the unit stays at its default g/L.
    page.get_by_label("Blood panel date").fill(days_ago(5))
    for key, value in {
        "alt": "35",
        "ast": "28",
        "total_bilirubin": "12.5",
        "creatinine": "78",
        "wbc": "6.2",
        "anc": "3.9",
        "platelets": "215",
        "hemoglobin": "12.4",
    }.items():
        page.locator(f"#id_{key}").fill(value)
    expect(panel).to_contain_text("1 field has an error and counts as not given")
    expect(panel.locator('tr[data-code="I5"]')).to_contain_text("Unknown")

    # Cardiopulmonary
    page.get_by_label("ECOG performance status").fill("1")
    page.get_by_label("LVEF (%)").fill("62")
    for question in (
        "cardiac_event_within_6_months",
        "uncontrolled_arrhythmia",
        "interstitial_lung_disease",
    ):
        answer(page, question, "No")

    # Exclusion checks: the pregnancy question is not asked of a man.
    expect(page.locator("#div_id_pregnant_or_breastfeeding")).to_be_hidden()
    for question in (
        "fistula_or_perforation",
        "deep_ulceration",
        "perforation_risk_other",
        "abdominal_lymph_node_metastasis",
        "cardiac_implantable_device",
        "metal_implant_in_treatment_region",
        "active_connective_tissue_disease",
        "prior_thoracic_radiotherapy_overlap",
        "other_absolute_rt_contraindication",
    ):
        answer(page, question, "No")
    # Only the bone marrow criterion still waits: for the hemoglobin the form refused.
    expect(panel.locator(".todo li")).to_have_count(1)
    expect(panel.locator(".todo li")).to_contain_text("I5: hemoglobin")
    expect(outcome).to_contain_text("Incomplete")
    screenshot(page, "coordinator-1-form-wrong-unit")

    # Saving shows the field error that names the value and the unit.
    page.get_by_role("button", name="Save referral").click()
    expect(page.get_by_text("Nothing was saved.")).to_be_visible()
    hemoglobin = page.locator("#id_hemoglobin")
    expect(hemoglobin).to_have_attribute("aria-invalid", "true")
    error_id = hemoglobin.get_attribute("aria-describedby").split()[0]
    expect(page.locator(f"#{error_id}")).to_contain_text("check the unit")
    assert serious_accessibility_violations(page) == []
    screenshot(page, "coordinator-2-field-error")

    # Everything typed is still there; choosing g/dL fixes the value.
    expect(page.get_by_label("Full name")).to_have_value("张建国")
    page.locator("#id_hemoglobin_unit").select_option("g/dL")
    expect(panel.locator('tr[data-code="I5"]')).to_contain_text("Pass")
    expect(outcome).to_contain_text("Potentially eligible")
    expect(panel.locator('tr[data-code="E2"]')).to_contain_text("MDT to confirm")
    screenshot(page, "coordinator-3-potentially-eligible")

    page.get_by_role("button", name="Save referral").click()
    page.wait_for_url("**/referrals/*/")
    referral = Referral.objects.get(hospital_number="WW-204411")
    expect(page.get_by_role("heading", level=1)).to_contain_text(referral.screening_number)
    expect(page.get_by_role("alert")).to_contain_text(
        f"Referral {referral.screening_number} saved: Potentially eligible."
    )
    expect(page.locator("#outcome-heading")).to_contain_text("Potentially eligible")
    assert referral.hemoglobin == 124
    assert referral.hemoglobin_unit == "g/dL"
    assert referral.status == Referral.Status.MDT_REVIEW
    assert serious_accessibility_violations(page) == []
    screenshot(page, "coordinator-4-referral-page")

    page.get_by_role("navigation").get_by_role("link", name="Referrals").click()
    row = page.get_by_role("row").filter(has_text=referral.screening_number)
    expect(row).to_contain_text("张建国")
    expect(row).to_contain_text("Potentially eligible")
    assert serious_accessibility_violations(page) == []
    screenshot(page, "coordinator-5-referral-list")
