"""The main screens switched to 简体中文 show no untranslated English.

The visible text of each page is read from the browser; what remains once names, codes,
units and abbreviations clinicians write in Latin letters are set aside must be Chinese.
"""

import csv
import io
import re

import pytest
from playwright.sync_api import expect

from screening import services
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import PASSWORD, UserFactory, create_referral

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Written in Latin letters in Chinese clinical practice too: the brand, staging and criterion
# codes, units, lab and scale abbreviations, file formats, and the English language option.
LATIN_ALLOWED = re.compile(
    r"""TrialScreen|English|Excel|ICH|CONSORT|CDISC|ODM|FHIR|CSV|XLSX|XML|SVG|PNG|MDT|AJCC|ECOG|LVEF|FEV1|ALT|AST|WBC|ANC|ICD|RBE
    |Gy|U/L|IU/L|umol/L|µmol/L|mg/dL|mL/min|g/L|g/dL|10\^[39]/[uL]L?|x10\^9/L|cTNM
    |\b[cyp]?(?:T(?:is|X|[0-4][ab]?)|N[X0-3]|M[01])+\b|\b[IE][1-6]\b|\b[IV]+[AB]?\b
    |\bc[TNM]\b|\bV[23]0\b|\bn\b|\bEC-\d+|\bS-\d+|\bv\d+|\bmax\b""",
    re.VERBOSE,
)


def untranslated(page, data: tuple[str, ...]) -> list[str]:
    """Latin words left in the page's visible text once ``data`` (names and numbers the test
    entered, shown as typed) and the allowed abbreviations are removed."""
    text = page.locator("body").inner_text()
    for value in data:
        text = text.replace(value, " ")
    text = LATIN_ALLOWED.sub(" ", text)
    return sorted(set(re.findall(r"[A-Za-z]{2,}", text)))


def switch_to_chinese(page) -> None:
    page.get_by_label("Language").select_option("zh-hans")
    page.get_by_role("button", name="Switch").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")


def test_main_screens_read_in_chinese(new_page):
    coordinator = UserFactory(username="coord-wuwei", role="coordinator", site_codes=["wuwei"])
    mdt_member = UserFactory(username="mdt-li", role="mdt")
    UserFactory(username="data-manager", role="admin")
    waiting = create_referral(user=coordinator, hospital_number="WW-500031")
    incomplete = create_referral(
        user=coordinator, number=2, hospital_number="WW-500032", labs_date=None, ecog=None
    )
    decided = create_referral(user=coordinator, number=3, hospital_number="WW-500033")
    services.mdt_decision_record(
        referral=decided, user=mdt_member, decision="approve", rationale="同意入组。"
    )
    data = (
        "coord-wuwei",
        "mdt-li",
        "data-manager",
        "DATA-MANAGER",  # in the admin's header, whose style writes it in capitals
        *(r.hospital_number for r in (waiting, incomplete, decided)),
    )

    def reads_in_chinese(page, name: str) -> None:
        assert untranslated(page, data) == [], page.url
        screenshot(page, f"zh-{name}")

    page = new_page()
    sign_in(page, "coord-wuwei")
    switch_to_chinese(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("首页")
    reads_in_chinese(page, "1-dashboard")

    page.get_by_role("link", name="转诊列表").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("转诊列表")
    reads_in_chinese(page, "2-referral-list")

    page.get_by_role("link", name=incomplete.screening_number, exact=True).click()
    expect(page.locator("#todo-heading")).to_be_visible()
    reads_in_chinese(page, "3-referral")

    page.get_by_role("link", name="变更记录").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("变更记录")
    reads_in_chinese(page, "3-referral-history")

    page.get_by_role("link", name="新建转诊").first.click()
    page.wait_for_url("**/referrals/new/")
    page.locator("#id_hemoglobin").fill("12.4")
    expect(page.locator("#eligibility-panel")).to_contain_text("1 个字段有错误")
    reads_in_chinese(page, "4-form")

    page.goto(f"/referrals/{decided.screening_number}/")
    page.get_by_role("link", name="入组").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("办理入组")
    reads_in_chinese(page, "4-enrol")

    # The choice is remembered: signed out and in again, the browser stays in Chinese.
    page.get_by_role("button", name="退出登录").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("登录")
    reads_in_chinese(page, "0-sign-in")
    page.get_by_label("用户名").fill("coord-wuwei")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("首页")

    mdt = new_page()
    sign_in(mdt, "mdt-li")
    switch_to_chinese(mdt)
    mdt.get_by_role("navigation").get_by_role("link", name="MDT 待审队列").click()
    expect(mdt.get_by_role("heading", level=1)).to_have_text("MDT 待审队列")
    reads_in_chinese(mdt, "5-mdt-queue")

    mdt.get_by_role("link", name=f"作出决定 {waiting.screening_number}").click()
    expect(mdt.get_by_role("heading", level=1)).to_contain_text("MDT 决定")
    reads_in_chinese(mdt, "5-mdt-decision")

    # The language is chosen on the sign-in page, and the page asked for is kept.
    manager = new_page()
    manager.goto("/referrals/")
    expect(manager.get_by_role("heading", level=1)).to_have_text("Sign in")
    switch_to_chinese(manager)
    expect(manager.get_by_role("heading", level=1)).to_have_text("登录")
    reads_in_chinese(manager, "0-sign-in-chosen")
    manager.get_by_label("用户名").fill("data-manager")
    manager.get_by_label("密码").fill(PASSWORD)
    manager.get_by_role("button", name="登录").click()
    expect(manager.get_by_role("heading", level=1)).to_have_text("转诊列表")
    reads_in_chinese(manager, "2-referral-list-data-manager")

    manager.get_by_role("navigation").get_by_role("link", name="数据导出").click()
    expect(manager.get_by_role("heading", level=1)).to_have_text("数据导出")
    reads_in_chinese(manager, "6-exports")
    with manager.expect_download() as started:
        manager.get_by_role("button", name="筛选日志, CSV").click()
    log = started.value.path().read_text(encoding="utf-8-sig")
    header = next(csv.reader(io.StringIO(log)))
    assert header[:4] == ["筛选编号", "中心", "转诊日期", "筛选日期"]
    assert "研究编号" in header

    manager.get_by_role("navigation").get_by_role("link", name="CONSORT 流程图").click()
    expect(manager.get_by_role("heading", level=1)).to_have_text("转诊 CONSORT 流程图")
    reads_in_chinese(manager, "7-consort")

    manager.goto("/admin/")
    expect(manager.get_by_role("heading", level=1)).to_have_text("站点管理")
    reads_in_chinese(manager, "8-admin")
