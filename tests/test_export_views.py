"""The exports page and its downloads: what the files hold, what they cost, what is logged.

Who may download is the access sweep's (test_access_sweep.py).
"""

import csv
import datetime
import io
import re

import pytest
from django.conf import settings
from django.core.signals import request_finished
from django.db import close_old_connections
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from screening import exports
from screening.models import ExportLog, Referral
from screening.national_id import check_character
from screening.views.exports import export_download
from tests.factories import create_referral, create_referrals
from tests.flows import approve, enrol, varied_trial

pytestmark = pytest.mark.django_db

DOWNLOADS = [
    f"export_{kind}_{file_format}"
    for kind in ("enrolment", "screening_log", "identification")
    for file_format in ("csv", "xlsx")
]
FORMULA_NAME = '=HYPERLINK("http://example.com","点击")'


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def csv_rows(response) -> list[list[str]]:
    content = body(response)
    assert content.startswith(b"\xef\xbb\xbf"), "no UTF-8 BOM: Excel would garble Chinese"
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def xlsx_rows(response) -> list[list[str]]:
    """The sheet's cells as the CSV writes them: dates as YYYY-MM-DD, gaps empty."""
    sheet = load_workbook(io.BytesIO(body(response))).active
    rows = []
    for row in sheet.iter_rows(values_only=True):
        cells = []
        for value in row:
            if isinstance(value, datetime.datetime):
                value = value.date().isoformat()
            cells.append("" if value is None else str(value))
        rows.append(cells)
    return rows


@pytest.fixture
def signed_in(client_as):
    return client_as("data_manager")


@pytest.fixture
def trial(coordinator_wuwei, mdt_member, data_manager):
    data = varied_trial(data_manager, mdt_member)
    create_referral(number=300, full_name=FORMULA_NAME, hospital_number="+8613900000000")
    return data


def test_screening_log_csv_has_one_row_per_referral_and_the_protocol_columns(signed_in, trial):
    rows = csv_rows(signed_in.get(reverse("export_screening_log_csv")))

    header, data = rows[0], rows[1:]
    assert header == [
        "screening_number",
        "site",
        "referral_date",
        "screening_date",
        "age",
        "sex",
        "histology",
        "ct",
        "cn",
        "cm",
        "stage_group",
        "outcome",
        "status",
        "I1",
        "I2",
        "I3",
        "I4",
        "I5",
        "I6",
        "E1",
        "E2",
        "E3",
        "E4",
        "E5",
        "E6",
        "reasons",
        "protocol_version",
        "mdt_decision",
        "mdt_decision_date",
        "mdt_decision_signature",
        "study_number",
        "previous_screening_number",
        "withdrawal_reason",
        "consent_date",
    ]
    numbers = [row[0] for row in data]
    assert numbers == sorted(Referral.objects.values_list("screening_number", flat=True))
    # Pseudonymous: no name or hospital number anywhere in the file.
    text = "\n".join(",".join(row) for row in rows)
    for name, hospital_number in Referral.objects.values_list("full_name", "hospital_number"):
        assert name not in text
        assert hospital_number not in text
    study_number = header.index("study_number")
    consent_date = header.index("consent_date")
    enrolled = {row[0]: row for row in data if row[study_number]}
    assert len(enrolled) == 2
    assert all(re.fullmatch(r"EC-00[12]", row[study_number]) for row in enrolled.values())
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", row[consent_date]) for row in enrolled.values())
    withdrawal = header.index("withdrawal_reason")
    assert {row[withdrawal] for row in data} == {"", "declined_consent", "other"}


def test_a_chinese_download_gives_its_reasons_in_chinese(signed_in, trial):
    signed_in.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"

    header, *data = csv_rows(signed_in.get(reverse("export_screening_log_csv")))

    column = exports.SCREENING_LOG_COLUMNS.index("reasons")
    assert header[column] == str(exports.COLUMN_HEADERS["reasons"]) != "reasons"
    with translation.override("zh-hans"):
        expected = [row["reasons"] for row in exports.screening_log_rows()]
    assert [row[column] for row in data] == expected
    assert any(re.search(r"[\u4e00-\u9fff]", reasons) for reasons in expected)


def test_identification_csv_round_trips_chinese_names_and_escapes_formulas(signed_in, trial):
    rows = csv_rows(signed_in.get(reverse("export_identification_csv")))

    assert rows[0] == [
        "screening_number",
        "study_number",
        "full_name",
        "hospital_number",
        "national_id",
    ]
    by_number = {row[0]: row for row in rows[1:]}
    assert len(by_number) == Referral.objects.count()
    for referral in Referral.objects.exclude(full_name=FORMULA_NAME):
        assert by_number[referral.screening_number][2] == referral.full_name
    assert any(re.search(r"[\u4e00-\u9fff]", row[2]) for row in rows[1:])
    formula = next(row for row in rows[1:] if "HYPERLINK" in row[2])
    assert formula[2] == "'" + FORMULA_NAME
    assert formula[3] == "'+8613900000000"
    enrolled = [row for row in rows[1:] if row[1]]
    assert sorted(row[1] for row in enrolled) == ["EC-001", "EC-002"]


@pytest.mark.parametrize("kind", ["enrolment", "screening_log", "identification"])
def test_xlsx_holds_the_same_rows_as_the_csv(signed_in, trial, kind):
    from_csv = csv_rows(signed_in.get(reverse(f"export_{kind}_csv")))
    from_xlsx = xlsx_rows(signed_in.get(reverse(f"export_{kind}_xlsx")))

    assert from_xlsx == from_csv
    assert len(from_csv) > 2


def test_xlsx_is_readable_with_real_dates_and_a_frozen_header(signed_in, trial):
    response = signed_in.get(reverse("export_enrolment_xlsx"))

    sheet = load_workbook(io.BytesIO(body(response))).active
    assert sheet.freeze_panes == "A2"
    assert sheet["A1"].value == "study_number"
    assert sheet["A1"].font.bold
    consent = sheet.cell(row=2, column=exports.ENROLMENT_COLUMNS.index("consent_date") + 1)
    assert consent.is_date
    assert consent.number_format == "yyyy-mm-dd"
    assert sheet.column_dimensions["A"].width >= 12


def test_a_control_character_in_a_name_does_not_stop_the_identification_xlsx(signed_in):
    referral = create_referral(number=1, full_name="王建国")
    # Past the form, which refuses it: as an import or SQL could.
    Referral.objects.filter(pk=referral.pk).update(full_name="王\x01建国")

    response = signed_in.get(reverse("export_identification_xlsx"))

    assert response.status_code == 200
    header, row = xlsx_rows(response)
    assert row[header.index("full_name")] == "王\ufffd建国"


def test_enrolment_list_is_in_study_number_order(signed_in, trial):
    rows = csv_rows(signed_in.get(reverse("export_enrolment_csv")))

    assert rows[0] == list(exports.ENROLMENT_COLUMNS)
    assert [row[0] for row in rows[1:]] == ["EC-001", "EC-002"]
    today = datetime.date.today().isoformat()
    assert rows[1][exports.ENROLMENT_COLUMNS.index("mdt_approval_date")] <= today


@pytest.mark.parametrize(
    ("url_name", "extension", "content_type"),
    [
        ("export_screening_log_csv", "csv", "text/csv; charset=utf-8"),
        (
            "export_identification_xlsx",
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    ],
)
def test_file_names_carry_trial_code_and_date(signed_in, url_name, extension, content_type):
    response = signed_in.get(reverse(url_name))

    name = url_name.removeprefix("export_").rsplit("_", 1)[0].replace("_", "-")
    today = datetime.date.today()
    dates = {today, today - datetime.timedelta(days=1), today + datetime.timedelta(days=1)}
    assert response["Content-Disposition"] in {
        f'attachment; filename="trialscreen-EC-{name}-{day.isoformat()}.{extension}"'
        for day in dates
    }
    assert response["Content-Type"] == content_type
    assert "no-store" in response["Cache-Control"]


def test_identification_download_is_recorded_with_the_user(signed_in, data_manager, trial):
    response = signed_in.get(
        reverse("export_identification_csv"),
        {"site": "lanzhou", "referred_from": "2025-05-01"},
    )
    body(response)

    entry = ExportLog.objects.get()
    assert (entry.kind, entry.file_format, entry.exported_by) == (
        "identification",
        "csv",
        data_manager,
    )
    assert entry.site.code == "lanzhou"
    assert entry.referred_from == datetime.date(2025, 5, 1)
    assert entry.referred_to is None
    assert entry.row_count == Referral.objects.filter(site__code="lanzhou").count()
    events = entry.events.order_by("pgh_id")
    assert [event.pgh_label for event in events] == ["insert", "update"]
    assert {event.pgh_context.metadata["user"] for event in events} == {data_manager.pk}


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_a_download_is_delivered_only_once_its_last_chunk_is_out(signed_in, trial, file_format):
    response = signed_in.get(reverse(f"export_screening_log_{file_format}"))
    chunks = iter(response.streaming_content)
    next(chunks)

    assert ExportLog.objects.get().outcome == "started"
    list(chunks)
    entry = ExportLog.objects.get()
    assert (entry.outcome, entry.channel, entry.os_user) == ("delivered", "browser", "")
    # The finishing update happens after the request's audit context, and is attributed too.
    assert entry.events.latest("pgh_id").pgh_context.metadata["user"] == entry.exported_by_id


@pytest.fixture
def rows_fail(monkeypatch):
    """Building a screening-log row raises, as a bug or a bad value would."""

    def failing_builder(**options):
        def build(values):
            raise RuntimeError("row builder failed")

        return build

    monkeypatch.setattr(exports, "_screening_log_row", failing_builder)


def test_a_csv_download_whose_rows_fail_is_recorded_as_failed(signed_in, trial, rows_fail):
    response = signed_in.get(reverse("export_screening_log_csv"))

    with pytest.raises(RuntimeError, match="row builder failed"):
        body(response)
    assert ExportLog.objects.get().outcome == "failed"


def test_an_xlsx_download_whose_rows_fail_is_an_error_and_recorded_as_failed(
    signed_in, trial, rows_fail
):
    signed_in.raise_request_exception = False

    response = signed_in.get(reverse("export_screening_log_xlsx"))

    assert response.status_code == 500
    assert not response.streaming
    assert ExportLog.objects.get().outcome == "failed"


def test_a_download_stopped_before_its_end_is_recorded_as_failed(rf, data_manager, trial):
    # The view itself: the test client would close the response in its own way.
    request = rf.get(reverse("export_identification_xlsx"))
    request.user = data_manager
    response = export_download(request, kind="identification", file_format="xlsx")
    next(iter(response.streaming_content))

    # What the server does when the browser goes away mid-download; the test's database
    # connection is kept open, as the test client keeps it.
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)

    assert ExportLog.objects.get().outcome == "failed"


# Queries of one download: session, user with its roles, row count, the export log's insert
# (with its audit context), the rows, whose cursor fetches in chunks without new queries, and
# the export log's update to delivered.
@pytest.mark.parametrize("count", [10, 200])
@pytest.mark.parametrize("url_name", DOWNLOADS)
def test_downloads_take_the_same_queries_for_10_and_200_rows(
    signed_in, coordinator_wuwei, mdt_member, django_assert_num_queries, url_name, count
):
    referrals = create_referrals(count, site=("wuwei", "lanzhou"))
    # Some decided and enrolled, so the joins to decisions and enrolments have rows.
    for referral in referrals[:3]:
        approve(referral, mdt_member)
        enrol(referral, coordinator_wuwei)

    with django_assert_num_queries(6):
        response = signed_in.get(reverse(url_name))
        content = body(response)

    assert response.status_code == 200
    if url_name.endswith("csv") and "enrolment" not in url_name:
        assert content.count(b"\r\n") == count + 1


def test_page_offers_each_download_with_the_filter_and_counts_rows(signed_in, trial):
    response = signed_in.get(reverse("exports"), {"site": "wuwei"})

    page = response.content.decode()
    for url_name in DOWNLOADS:
        assert f'formaction="{reverse(url_name)}"' in page
    assert 'name="referred_from"' in page
    assert '<option value="wuwei" selected>' in page
    wuwei = Referral.objects.filter(site__code="wuwei").count()
    assert re.search(rf'<td class="text-end">{wuwei}</td>', page)
    assert "style=" not in page


def test_page_lists_the_latest_downloads_with_their_outcome(
    signed_in, data_manager, trial, rows_fail
):
    body(signed_in.get(reverse("export_identification_xlsx")))
    with pytest.raises(RuntimeError):
        body(signed_in.get(reverse("export_screening_log_csv")))

    page = signed_in.get(reverse("exports")).content.decode()

    rows = re.findall(r"<tr>\s*<td class=\"text-nowrap\">.*?</tr>", page, re.DOTALL)
    assert len(rows) == 2
    assert "Screening log (CSV)" in rows[0] and "Failed" in rows[0]
    assert "Identification list (XLSX)" in rows[1] and "Delivered" in rows[1]
    assert all(data_manager.username in row for row in rows)


def test_national_ids_are_text_cells_in_the_xlsx_and_the_page_says_to_read_them_there(signed_in):
    referral = create_referral(number=1, hospital_number="0012345")
    first17 = f"620602{referral.date_of_birth:%Y%m%d}01{1 if referral.sex == 'M' else 2}"
    national_id = first17 + check_character(first17)
    Referral.objects.filter(pk=referral.pk).update(national_id=national_id)

    response = signed_in.get(reverse("export_identification_xlsx"))

    sheet = load_workbook(io.BytesIO(body(response))).active
    header = [cell.value for cell in sheet[1]]
    row = sheet[2]
    for column, expected in (("national_id", national_id), ("hospital_number", "0012345")):
        cell = row[header.index(column)]
        # Text, not a number a spreadsheet would round to 15 digits or strip of its zeros.
        assert (cell.data_type, cell.value) == ("s", expected)
    csv_row = csv_rows(signed_in.get(reverse("export_identification_csv")))[1]
    assert csv_row[4] == national_id
    page = signed_in.get(reverse("exports")).content.decode()
    assert "read identifiers from the XLSX file" in page
    signed_in.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    page = signed_in.get(reverse("exports")).content.decode()
    assert "XLSX" in page and "身份证号" in page


def test_page_offers_the_odm_export_and_the_data_dictionary(signed_in, trial):
    page = signed_in.get(reverse("exports"), {"site": "wuwei"}).content.decode()

    assert f'formaction="{reverse("export_odm")}"' in page
    assert f'href="{reverse("data_dictionary_csv")}"' in page
    assert f'href="{reverse("data_dictionary_xlsx")}"' in page
    assert "CDISC ODM 1.3.2" in page
