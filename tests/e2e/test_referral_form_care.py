"""The referral form looks after what the coordinator typed: the focus goes where the work is,
and leaving with unsaved typing asks first."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import sign_in
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _focused_id(page) -> str:
    return page.evaluate("document.activeElement.id")


def test_focus_follows_the_errors_and_the_links_to_fields(new_page):
    UserFactory(username="coord-wuwei", role="coordinator", site_codes=["wuwei"])
    page = new_page()
    sign_in(page, "coord-wuwei")
    page.goto("/referrals/new/")
    page.get_by_label("Full name").fill("王建国")
    page.get_by_role("button", name="Save referral").click()

    summary = page.locator("#form-errors")
    expect(summary).to_contain_text("Nothing was saved.")
    assert _focused_id(page) == "form-errors"
    expect(page.get_by_label("Full name")).to_have_value("王建国")

    summary.get_by_role("link", name="Hospital number").click()
    assert _focused_id(page) == "id_hospital_number"

    # The to-do list of the live panel puts the cursor in the field it names.
    page.locator("#eligibility-panel").get_by_role("link", name="ECOG", exact=True).click()
    assert _focused_id(page) == "id_ecog"


def test_leaving_with_unsaved_typing_asks_first(new_page):
    UserFactory(username="coord-wuwei", role="coordinator", site_codes=["wuwei"])
    page = new_page()
    sign_in(page, "coord-wuwei")
    page.goto("/referrals/new/")
    page.get_by_label("Hospital number").fill("WW-777001")
    dialogs = []

    def stay(dialog):
        dialogs.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", stay)
    page.get_by_role("button", name="Switch").click()  # the language switch leaves the page

    page.wait_for_timeout(500)
    assert dialogs == ["beforeunload"]
    assert page.url.endswith("/referrals/new/")
    expect(page.get_by_label("Hospital number")).to_have_value("WW-777001")
