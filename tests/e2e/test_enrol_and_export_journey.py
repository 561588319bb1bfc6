"""A coordinator enrols an approved candidate; the data manager downloads and reads the lists."""

import csv
import io

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from screening import services
from screening.models import Referral
from tests.e2e.conftest import screenshot, serious_accessibility_violations, sign_in
from tests.factories import PASSWORD, UserFactory, create_referral

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def download_csv(page, button_name: str) -> list[dict]:
    """Click a download button and read the file it saves, as Excel would (UTF-8 with a BOM)."""
    with page.expect_download() as started:
        page.get_by_role("button", name=button_name).click()
    content = started.value.path().read_bytes()
    assert content.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def test_coordinator_enrols_and_data_manager_downloads_the_lists(new_page):
    coordinator = UserFactory(username="coord-wuwei", role="coordinator", site_codes=["wuwei"])
    mdt_member = UserFactory(username="mdt-li", role="mdt")
    UserFactory(username="data-manager", role="admin")
    approved = create_referral(user=coordinator, hospital_number="WW-400021")
    services.mdt_decision_record(
        referral=approved, user=mdt_member, decision="approve", rationale="Eligible."
    )
    ineligible = create_referral(user=coordinator, number=2, hospital_number="WW-400022", ecog=3)
    number = approved.screening_number
    today = timezone.localdate().isoformat()

    page = new_page()
    sign_in(page, "coord-wuwei")
    page.get_by_role("navigation").get_by_role("link", name="Referrals").click()
    page.get_by_role("link", name=number, exact=True).click()
    page.get_by_role("link", name="Enrol").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Enrol {number}")
    expect(
        page.get_by_text(f"Approved at the MDT meeting of {today}; signed by mdt-li.")
    ).to_be_visible()
    assert serious_accessibility_violations(page) == []
    page.get_by_label("Consent date").fill(today)
    page.get_by_label("Your password, to sign").fill(PASSWORD)
    screenshot(page, "enrol-1-consent")
    page.get_by_role("button", name="Enrol participant").click()

    page.wait_for_url(f"**/referrals/{number}/")
    expect(page.get_by_role("alert")).to_contain_text(f"{number} enrolled as EC-001.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Enrolled")
    expect(page.get_by_text("EC-001").first).to_be_visible()
    signatures = page.locator(".signatures")
    expect(signatures).to_contain_text("Meaning: approved for the trial")
    expect(signatures).to_contain_text("Meaning: enrolled")
    expect(signatures).to_contain_text("coord-wuwei")
    screenshot(page, "enrol-2-study-number")

    manager = new_page()
    sign_in(manager, "data-manager")
    manager.get_by_role("navigation").get_by_role("link", name="Exports").click()
    expect(manager.get_by_role("heading", level=1)).to_have_text("Exports")
    assert serious_accessibility_violations(manager) == []
    screenshot(manager, "export-1-page")

    enrolment = download_csv(manager, "Enrolment list, CSV")
    assert [(row["study_number"], row["screening_number"]) for row in enrolment] == [
        ("EC-001", number)
    ]
    assert enrolment[0]["consent_date"] == today
    assert "full_name" not in enrolment[0]

    log = {row["screening_number"]: row for row in download_csv(manager, "Screening log, CSV")}
    assert set(log) == {number, ineligible.screening_number}
    assert log[number]["status"] == Referral.Status.ENROLLED
    assert log[number]["outcome"] == Referral.Outcome.POTENTIALLY_ELIGIBLE
    assert log[number]["study_number"] == "EC-001"
    assert log[ineligible.screening_number]["outcome"] == Referral.Outcome.INELIGIBLE
    assert log[ineligible.screening_number]["I6"] == "fail"
    assert "ECOG 3 is above 1" in log[ineligible.screening_number]["reasons"]

    manager.reload()
    expect(manager.get_by_role("table").nth(1)).to_contain_text("Screening log")
    screenshot(manager, "export-2-latest-downloads")

    manager.get_by_role("navigation").get_by_role("link", name="CONSORT flow").click()
    expect(manager.get_by_role("heading", level=1)).to_contain_text("CONSORT")
    diagram = manager.get_by_role("img", name="Flow of referrals, all sites")
    expect(diagram).to_be_visible()
    expect(diagram.locator(".consort-box-enrolled")).to_contain_text("Enrolled")
    expect(diagram.locator(".consort-box-enrolled")).to_contain_text("n = 1")
    expect(manager.locator("figcaption")).to_contain_text("1 enrolled of a target of 32")
    assert serious_accessibility_violations(manager) == []
    screenshot(manager, "export-3-consort")
