"""A new candidate reaches the MDT through a notification, and the decision reaches the
coordinator the same way."""

import datetime
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from screening.models import Notification, Referral
from tests.e2e.conftest import screenshot, serious_accessibility_violations, sign_in
from tests.factories import PASSWORD, UserFactory, create_referrals

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTHS = (390, 768, 1280)


def days_ago(days: int) -> str:
    return (timezone.localdate() - datetime.timedelta(days=days)).isoformat()


def answer(page, question: str, choice: str) -> None:
    page.locator(f"#div_id_{question}").get_by_label(choice, exact=True).check()


def enter_a_potentially_eligible_referral(page) -> None:
    page.get_by_role("link", name="New referral").click()
    page.wait_for_url("**/referrals/new/")
    page.get_by_label("Hospital number").fill("WW-208801")
    page.get_by_label("Full name").fill("李秀英")
    page.get_by_label("Sex").select_option("M")
    page.get_by_label("Date of birth").fill("1963-04-12")
    page.get_by_label("Referral date").fill(days_ago(3))
    answer(page, "pathology_confirmed", "Yes")
    page.get_by_label("Histology").select_option("squamous_cell_carcinoma")
    page.get_by_label("Tumour location").select_option("middle_thoracic")
    page.get_by_label("Clinical T (cT)").select_option("T3")
    page.get_by_label("Clinical N (cN)").select_option("N1")
    page.get_by_label("Clinical M (cM)").select_option("M0")
    answer(page, "prior_esophageal_radiotherapy", "No")
    answer(page, "prior_esophageal_surgery", "No")
    page.get_by_label("Blood panel date").fill(days_ago(5))
    labs = {
        "alt": "35",
        "ast": "28",
        "total_bilirubin": "12.5",
        "creatinine": "78",
        "wbc": "6.2",
        "anc": "3.9",
        "platelets": "215",
        "hemoglobin": "124",
    }
    for key, value in labs.items():
        page.locator(f"#id_{key}").fill(value)
    page.get_by_label("ECOG performance status").fill("1")
    page.get_by_label("LVEF (%)").fill("62")
    for question in (
        "cardiac_event_within_6_months",
        "uncontrolled_arrhythmia",
        "interstitial_lung_disease",
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
    expect(page.locator("#eligibility-panel .panel-outcome")).to_contain_text(
        "Potentially eligible"
    )
    page.get_by_role("button", name="Save referral").click()
    page.wait_for_url("**/referrals/S-*/")


def notifications_link(page):
    return page.get_by_role("navigation").get_by_role("link", name="Notifications")


def does_not_scroll_sideways(page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


def test_the_mdt_hears_of_a_new_candidate_and_the_coordinator_of_the_decision(new_page):
    UserFactory(username="coord-wuwei", role="coordinator", site_codes=["wuwei"])
    UserFactory(username="mdt-li", role="mdt")

    # The coordinator saves a potentially eligible referral; nobody tells them of their own.
    coordinator = new_page()
    sign_in(coordinator, "coord-wuwei")
    expect(notifications_link(coordinator)).to_have_text("Notifications")
    enter_a_potentially_eligible_referral(coordinator)
    referral = Referral.objects.get(hospital_number="WW-208801")
    number = referral.screening_number
    assert referral.status == Referral.Status.MDT_REVIEW
    expect(notifications_link(coordinator)).to_have_text("Notifications")

    # The MDT member sees the count at sign-in, and what it is about.
    mdt = new_page()
    sign_in(mdt, "mdt-li")
    link = notifications_link(mdt)
    expect(link).to_have_text("Notifications 1 unread")
    expect(link.locator(".badge")).to_be_visible()
    screenshot(mdt, "notifications-1-badge")
    link.click()
    expect(mdt.get_by_role("heading", level=1)).to_have_text("Notifications")
    item = mdt.locator(".notifications .list-group-item")
    expect(item).to_have_count(1)
    expect(item).to_contain_text(f"New {number} is potentially eligible and awaits the MDT's")
    assert serious_accessibility_violations(mdt) == []
    for width in WIDTHS:
        mdt.set_viewport_size({"width": width, "height": 900})
        assert does_not_scroll_sideways(mdt), width
        screenshot(mdt, f"notifications-2-mdt-{width}")
    mdt.set_viewport_size({"width": 1280, "height": 900})

    # Following it opens the referral and marks it read; the MDT member decides.
    item.get_by_role("button", name=f"Open {number}").click()
    mdt.wait_for_url(f"**/referrals/{number}/")
    expect(mdt.get_by_role("heading", level=1)).to_contain_text(number)
    expect(notifications_link(mdt)).to_have_text("Notifications")
    mdt.get_by_role("navigation").get_by_role("link", name="MDT review queue").click()
    mdt.get_by_role("link", name=f"Decide {number}").click()
    mdt.get_by_label("Rationale").fill("cT3N1M0 squamous, fit for carbon-ion boost.")
    mdt.get_by_label("Your password, to sign").fill(PASSWORD)
    mdt.get_by_role("button", name="Approve").click()
    mdt.wait_for_url("**/mdt/")
    notifications_link(mdt).click()
    expect(item).not_to_have_class(re.compile(r"\bunread\b"))
    expect(item.get_by_role("link", name=f"Open {number}")).to_be_visible()

    # The coordinator sees the decision.
    coordinator.reload()
    link = notifications_link(coordinator)
    expect(link).to_have_text("Notifications 1 unread")
    link.click()
    approved = coordinator.locator(".notifications .list-group-item.unread")
    expect(approved).to_contain_text(f"The MDT approved {number} for the trial.")
    assert serious_accessibility_violations(coordinator) == []
    coordinator.set_viewport_size({"width": 390, "height": 844})
    assert does_not_scroll_sideways(coordinator)
    screenshot(coordinator, "notifications-3-coordinator-390")
    coordinator.set_viewport_size({"width": 1280, "height": 900})

    # Marked read all at once.
    coordinator.get_by_role("button", name="Mark all as read").click()
    expect(coordinator.get_by_role("alert")).to_contain_text("marked as read")
    expect(notifications_link(coordinator)).to_have_text("Notifications")
    assert not Notification.objects.filter(read_at__isnull=True).exists()


def test_the_notifications_page_in_chinese_on_a_phone(new_page):
    UserFactory(username="mdt-li", role="mdt")
    coordinator = UserFactory(username="coord-wuwei", role="coordinator", site_codes=["wuwei"])
    referrals = create_referrals(3, user=coordinator)
    page = new_page()
    sign_in(page, "mdt-li")
    page.get_by_label("Language").select_option("zh-hans")
    page.get_by_role("button", name="Switch").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")

    page.goto("/notifications/")
    expect(page.get_by_role("heading", level=1)).to_have_text("通知")
    expect(page.locator(".notifications .list-group-item")).to_have_count(3)
    expect(page.locator(".notifications")).to_contain_text(
        f"{referrals[0].screening_number} 可能符合入组条件，等待 MDT 决定。"
    )
    expect(page.get_by_role("button", name="全部标为已读")).to_be_visible()
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        assert does_not_scroll_sideways(page), width
        screenshot(page, f"notifications-4-chinese-{width}")
    if page.get_by_role("button", name="展开或收起导航").is_visible():
        page.get_by_role("button", name="展开或收起导航").click()
    expect(page.get_by_role("navigation").get_by_role("link", name="通知")).to_have_text(
        "通知 3 条未读"
    )
    assert serious_accessibility_violations(page) == []
