"""The MDT prints its meeting packet in a real browser: a cover page, then one A4 page per
candidate, in English and Chinese, on a phone, a tablet and a desktop."""

import pytest
from playwright.sync_api import expect

from screening.models import Evaluation, Referral
from tests.e2e.conftest import printed_pages, screenshot, serious_accessibility_violations, sign_in
from tests.e2e.test_chinese_interface import switch_to_chinese, untranslated
from tests.factories import UserFactory, create_referral

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTHS = (390, 768, 1280)
# Four given names and a compound surname: the longest names a ward writes.
LONG_NAME = "爱新觉罗·欧阳司马诸葛上官慕容端木皇甫令狐长孙宇文轩辕明月清风"
# Longer than any reason the rules give a candidate in review (at most about 100 characters).
LONG_REASON = (
    "a reason as long as a clinician may need to read it in full on paper, naming each value "
    "the criterion read and what it was compared with, and then some words more"
)


def candidates(coordinator):
    """Three candidates in review: the second with a long Chinese name, every optional value
    given and a long reason on every criterion (the most a page holds)."""
    first = create_referral(user=coordinator, number=1, hospital_number="WW-300001")
    longest = create_referral(
        user=coordinator,
        number=2,
        full_name=LONG_NAME,
        hospital_number="WW-300002-LONG-HOSPITAL-NUMBER",
        sex="F",
        pregnant_or_breastfeeding="no",
        lvef_percent=55,
        fev1_litres=2.1,
        creatinine_clearance=88,
        total_bilirubin=1.2,
        total_bilirubin_unit="mg/dL",
        hemoglobin=12.5,
        hemoglobin_unit="g/dL",
        lung_v20_percent=21,
        lung_mean_dose_gy=14,
        heart_v30_percent=28,
        spinal_cord_max_gy=41,
    )
    evaluation = Evaluation.objects.get(pk=longest.evaluation_id)
    for result in evaluation.results.values():
        result["template"] = LONG_REASON
        result["params"] = {}
    evaluation.save(update_fields=["results"])
    third = create_referral(user=coordinator, number=3, hospital_number="WW-300003")
    assert {referral.status for referral in (first, longest, third)} == {Referral.Status.MDT_REVIEW}
    return first, longest, third


def fits(page, width: int) -> bool:
    """The page itself does not scroll sideways (a wide table may, inside its own box)."""
    return page.evaluate("document.documentElement.scrollWidth") <= width


def test_mdt_member_prints_the_packet_of_two_selected_candidates(new_page):
    coordinator = UserFactory(username="coord-wuwei", role="coordinator", site_codes=["wuwei"])
    UserFactory(username="mdt-li", role="mdt")
    first, longest, third = candidates(coordinator)

    page = new_page()
    sign_in(page, "mdt-li")
    page.get_by_role("navigation").get_by_role("link", name="MDT review queue").click()
    queue = page.get_by_role("table")
    expect(queue).to_contain_text(LONG_NAME)
    expect(queue).to_contain_text("WW-300001")
    page.get_by_label(f"Put {first.screening_number} in the packet").check()
    page.get_by_label(f"Put {third.screening_number} in the packet").check()
    assert serious_accessibility_violations(page) == []
    screenshot(page, "packet-1-queue-selected")
    page.get_by_role("button", name="Print packet").click()

    page.wait_for_url("**/mdt/packet/?sn=*")
    expect(page.get_by_role("heading", level=1)).to_have_text("MDT meeting packet")
    expect(page.locator(".packet-selection")).to_have_text(
        "Selection: 2 screening numbers asked for, 2 in this packet."
    )
    expect(page.locator(".packet-candidate")).to_have_count(2)
    # The longest-waiting first, as in the queue.
    selected = sorted((first, third), key=lambda r: (r.referral_date, r.screening_number))
    expect(page.locator(".packet-candidate h2")).to_have_text([r.full_name for r in selected])
    expect(page.get_by_text(LONG_NAME)).to_have_count(0)
    expect(page.get_by_role("button", name="Print")).to_be_visible()
    assert serious_accessibility_violations(page) == []
    screenshot(page, "packet-2-selection")

    assert printed_pages(page, "packet-2-selection") == 3  # the cover and two candidates
    page.emulate_media(media="print")
    for hidden in ("navigation", "button"):
        expect(page.get_by_role(hidden)).to_have_count(0)
    screenshot(page, "packet-3-selection-print")


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_whole_queue_prints_one_page_per_candidate_even_the_longest(new_page, language):
    coordinator = UserFactory(username="coord-wuwei", role="coordinator", site_codes=["wuwei"])
    UserFactory(username="mdt-li", role="mdt")
    made = candidates(coordinator)

    page = new_page()
    sign_in(page, "mdt-li")
    if language == "zh-hans":
        switch_to_chinese(page)
    page.goto("/mdt/packet/")
    expect(page.locator(".packet-candidate")).to_have_count(3)
    longest_page = page.locator(".packet-candidate", has_text=LONG_NAME)
    expect(longest_page.locator(".criterion")).to_contain_text([LONG_REASON] * 12)
    assert printed_pages(page, f"packet-whole-queue-{language}") == 4  # cover + 3
    if language == "zh-hans":
        # What the test entered is shown as typed; everything else reads in Chinese.
        entered = (LONG_REASON, "mdt-li", "Wuwei Heavy Ion Center")
        entered += tuple(value for r in made for value in (r.full_name, r.hospital_number))
        assert untranslated(page, entered) == []


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_queue_and_packet_fit_a_phone_a_tablet_and_a_desktop(new_page, language):
    coordinator = UserFactory(username="coord-wuwei", role="coordinator", site_codes=["wuwei"])
    UserFactory(username="mdt-li", role="mdt")
    candidates(coordinator)

    page = new_page()
    sign_in(page, "mdt-li")
    if language == "zh-hans":
        switch_to_chinese(page)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.goto("/mdt/")
        expect(page.get_by_role("table")).to_contain_text(LONG_NAME)
        assert fits(page, width), f"the queue scrolls sideways at {width} px"
        screenshot(page, f"packet-queue-{language}-{width}")
        page.goto("/mdt/packet/")
        expect(page.locator(".packet-candidate")).to_have_count(3)
        assert fits(page, width), f"the packet scrolls sideways at {width} px"
        screenshot(page, f"packet-{language}-{width}")
