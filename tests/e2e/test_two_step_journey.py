"""A data manager sets up two-step sign-in in a real browser, by the QR code's key."""

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from tests.e2e.conftest import DASHBOARD, screenshot, serious_accessibility_violations
from tests.factories import PASSWORD, UserFactory
from tests.test_security import current_code

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_data_manager_sets_up_two_step_sign_in_before_anything_else(new_page, settings):
    settings.REQUIRE_2FA = True
    manager = UserFactory(username="dm-li", role="admin")
    page = new_page()
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("dm-li")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.wait_for_url("**/accounts/two-step/setup/**")
    qr_code = page.locator("svg.qr-code")
    expect(qr_code).to_be_visible()
    # Drawn at its stylesheet size (12rem): the policy refused nothing it needs.
    assert 150 < qr_code.bounding_box()["width"] < 250
    assert serious_accessibility_violations(page) == []
    screenshot(page, "two-step-setup")

    device = TOTPDevice.objects.get(user=manager)
    page.get_by_label("Six-digit code").fill(current_code(device))
    page.get_by_role("button", name="Turn on two-step sign-in").click()

    page.wait_for_url(DASHBOARD)
    expect(page.get_by_role("alert")).to_contain_text("Two-step sign-in is on")
