"""The MDT reads the CONSORT flow of one site over a few months, on a phone, a tablet and a
desktop, in English and Chinese, and downloads it as a picture."""

import datetime

import pytest
from playwright.sync_api import expect

from screening.models import Referral
from tests.e2e.conftest import screenshot, serious_accessibility_violations, sign_in
from tests.factories import UserFactory, create_referrals

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTHS = (390, 768, 1280)


def fits(page, width: int) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= width


def test_a_filtered_flow_fits_every_width_and_downloads_as_png(new_page):
    UserFactory(username="mdt-li", role="mdt")
    made = create_referrals(4, site=("wuwei", "lanzhou"))
    Referral.objects.filter(pk=made[0].pk).update(referral_date=datetime.date(2025, 1, 10))

    page = new_page()
    sign_in(page, "mdt-li")
    page.goto("/reports/consort/")
    page.get_by_label("Site", exact=True).select_option("wuwei")
    page.get_by_label("Referred from").fill("2025-06-01")
    page.get_by_role("button", name="Show", exact=True).click()
    diagram = page.locator("svg.consort-diagram")
    expect(diagram).to_contain_text("Referred and assessed (n = 1)")
    expect(page.locator("figcaption")).to_contain_text("referred from 2025-06-01")
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        assert fits(page, width), width
        screenshot(page, f"consort-filtered-{width}")
    assert serious_accessibility_violations(page) == []

    with page.expect_download() as started:
        page.get_by_role("button", name="Download the diagram (PNG)").click()
    download = started.value
    assert download.suggested_filename.startswith("trialscreen-EC-consort-wuwei-from-2025-06-01")
    assert download.path().read_bytes().startswith(b"\x89PNG\r\n\x1a\n")

    # In Chinese the filtered page fits as well.
    page.get_by_label("Language").select_option("zh-hans")
    page.get_by_role("button", name="Switch").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator("figcaption")).to_contain_text("转诊日期自 2025-06-01 起")
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        assert fits(page, width), width
        screenshot(page, f"consort-filtered-zh-{width}")
    with page.expect_download() as started:
        page.get_by_role("button", name="下载流程图（PNG）").click()
    assert started.value.path().read_bytes().startswith(b"\x89PNG")
