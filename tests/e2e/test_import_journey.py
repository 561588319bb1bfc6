"""A data manager imports a CSV in the browser: upload, read the preview, confirm, find the
referrals in the list; the pages fit a phone, a tablet and a desktop, in English and Chinese."""

import csv

import pytest
from playwright.sync_api import expect

from screening.models import ImportUpload, Referral
from tests.e2e.conftest import screenshot, serious_accessibility_violations, sign_in
from tests.factories import UserFactory, form_data

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTHS = (390, 768, 1280)


def write_csv(path, rows):
    with path.open("w", encoding="utf-8-sig", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
        writer.writeheader()
        writer.writerows(rows)
    return path


def fits(page, width) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= width


def test_data_manager_imports_a_csv_after_reading_its_preview(new_page, tmp_path):
    UserFactory(username="data-manager", role="admin")
    rows = [
        form_data(number=1, hospital_number="WU310001"),
        form_data(number=2, hospital_number="LZ310002", site="lanzhou", ct="T1", cn="N0"),
        form_data(number=3, hospital_number="WU310003", ecog=None),
    ]
    file = write_csv(tmp_path / "referrals.csv", rows)

    page = new_page()
    sign_in(page, "data-manager")
    # A data manager's navigation is full: the import is reached from the referral list.
    page.goto("/referrals/")
    page.get_by_role("link", name="Import a file").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Import referrals")
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        assert fits(page, width), width
    page.set_viewport_size({"width": 1280, "height": 900})
    assert serious_accessibility_violations(page) == []
    screenshot(page, "import-1-form")

    page.get_by_label("File").set_input_files(file)
    # The page's script sends the file (showing its progress) and is told where the preview is.
    with page.expect_response(
        lambda response: response.request.method == "POST" and response.url.endswith("/imports/")
    ) as sent:
        page.get_by_role("button", name="Upload and preview").click()
    assert sent.value.status == 201
    page.wait_for_url("**/imports/*/")

    expect(page.get_by_role("heading", level=1)).to_have_text("Import preview")
    expect(page.get_by_text("3 rows read from referrals.csv.")).to_be_visible()
    table = page.locator(".import-preview-rows")
    expect(table.locator("li[data-row]")).to_have_count(3)
    expect(table.locator("#row-2")).to_contain_text("Ineligible")
    expect(table.locator("#row-3")).to_contain_text("Incomplete")
    expect(table.locator('#row-2 [data-code="I2"]')).to_have_attribute("data-result", "fail")
    table.locator("#row-2 summary").click()
    expect(table.locator("#row-2 details")).to_contain_text("I2:")
    assert Referral.objects.count() == 0
    assert serious_accessibility_violations(page) == []
    screenshot(page, "import-2-preview")
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        assert fits(page, width), width
        screenshot(page, f"import-3-preview-{width}")
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_role("button", name="Import 3 referrals").click()
    page.wait_for_url("**/referrals/")

    expect(page.get_by_role("alert")).to_contain_text("Imported 3 referrals from referrals.csv")
    numbers = list(Referral.objects.order_by("pk").values_list("screening_number", flat=True))
    assert len(numbers) == 3
    for number in numbers:
        expect(page.get_by_role("link", name=number)).to_be_visible()
    assert ImportUpload.objects.get().status == ImportUpload.Status.IMPORTED
    screenshot(page, "import-4-list")


def test_a_coordinator_reads_the_problems_of_a_bad_file_in_chinese(new_page, tmp_path):
    UserFactory(username="coord-lanzhou", role="coordinator", site_codes=["lanzhou"])
    rows = [
        form_data(number=1, site="lanzhou", hospital_number="LZ320001"),
        form_data(number=2, hospital_number="WU320002"),  # Wuwei: not theirs
        form_data(number=3, site="lanzhou", date_of_birth="12/02/1955"),
    ]
    file = write_csv(tmp_path / "转诊.csv", rows)

    page = new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, "coord-lanzhou")
    page.get_by_role("button", name="Toggle navigation").click()
    expect(page.get_by_role("navigation").get_by_role("link", name="Import")).to_be_visible()
    expect(page.get_by_label("Language")).to_be_visible()
    page.get_by_label("Language").select_option("zh-hans")
    with page.expect_navigation():
        page.get_by_role("button", name="Switch").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans", timeout=15_000)
    page.goto("/imports/")
    expect(page.get_by_role("heading", level=1)).to_have_text("导入转诊")
    assert fits(page, 390)
    page.get_by_label("文件").set_input_files(file)
    page.get_by_role("button", name="上传并预览").click()
    page.wait_for_url("**/imports/*/")

    problems = page.locator("#import-problems")
    expect(problems).to_contain_text("row 2: site:")
    expect(problems).to_contain_text("row 3: date_of_birth:")
    expect(page.locator("button[name=confirm]")).to_have_count(0)
    assert fits(page, 390)
    assert serious_accessibility_violations(page) == []
    screenshot(page, "import-5-problems-zh-phone")
    assert Referral.objects.count() == 0
