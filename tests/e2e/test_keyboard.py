"""The coordinator's pages work with the keyboard alone."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import DASHBOARD
from tests.factories import PASSWORD, UserFactory, create_referral

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


# What a screen reader announces for the focused element, near enough for these controls.
FOCUSED_NAME = """() => {
    const element = document.activeElement;
    const label = element.labels && element.labels.length ? element.labels[0].innerText : "";
    return (element.getAttribute("aria-label") || label || element.innerText || "").trim();
}"""
FOCUS_IN_DIALOG = "() => document.querySelector('.modal.show')?.contains(document.activeElement)"


def tab_to(page, name: str, limit: int = 60) -> None:
    """Press Tab until the focused element reads ``name``; fail when it is never reached."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED_NAME)
        if focused == name:
            return
    raise AssertionError(f"Tab never reached {name!r}")


def test_sign_in_find_a_referral_and_switch_language_by_keyboard(new_page):
    coordinator = UserFactory(username="coord-wuwei", role="coordinator", site_codes=["wuwei"])
    referral = create_referral(user=coordinator)
    page = new_page()
    page.goto("/accounts/login/")

    # The username field has the focus; Enter in the password field signs in.
    expect(page.locator("input[name=username]")).to_be_focused()
    page.keyboard.type("coord-wuwei")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(DASHBOARD)

    # The first Tab shows the skip link, which jumps past the navigation.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    page.keyboard.press("Enter")
    assert page.url.endswith("#content")

    page.keyboard.press("Shift+Tab")
    tab_to(page, "Referrals")
    page.keyboard.press("Enter")
    page.wait_for_url("**/referrals/")
    tab_to(page, referral.screening_number)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/referrals/{referral.screening_number}/")

    # The withdrawal dialogue opens on Enter, takes the focus and closes on Escape.
    tab_to(page, "Withdraw")
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Reason for withdrawal")).to_be_visible()
    page.wait_for_function(FOCUS_IN_DIALOG)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("link", name="Withdraw")).to_be_focused()

    # The language switcher: choose with the arrow key, confirm with Enter on the button.
    tab_to(page, "Language")
    page.keyboard.press("ArrowDown")
    expect(page.get_by_label("Language")).to_have_value("zh-hans")
    tab_to(page, "Switch")
    page.keyboard.press("Enter")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.get_by_role("link", name="撤回")).to_be_visible()
