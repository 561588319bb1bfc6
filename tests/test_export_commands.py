"""export_screening_log and export_enrolment: the browser's rows, from the shell."""

import csv
import datetime
import getpass
import io
import json

import pytest
from django.core.management import CommandError, call_command
from openpyxl import load_workbook

from screening import exports
from screening.models import ExportLog, Referral
from tests.factories import create_referral, create_referrals
from tests.flows import varied_trial

pytestmark = pytest.mark.django_db


@pytest.fixture
def trial(coordinator_wuwei, mdt_member, data_manager):
    return varied_trial(data_manager, mdt_member)


def run(command, *args) -> str:
    out = io.StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue()


def test_identified_screening_log_json_has_the_protocol_keys_and_names(trial):
    rows = json.loads(run("export_screening_log", "--format", "json", "--identified"))

    assert list(rows[0]) == [
        "screening_number",
        "hospital_number",
        "full_name",
        *exports.SCREENING_LOG_COLUMNS[1:],
    ]
    enrolled = trial["enrolled"][0]
    row = next(row for row in rows if row["screening_number"] == enrolled.screening_number)
    assert row["full_name"] == enrolled.full_name
    assert row["hospital_number"] == enrolled.hospital_number
    assert row["study_number"] == "EC-001"
    assert row["mdt_decision"] == "approve"
    assert row["referral_date"] == enrolled.referral_date.isoformat()
    assert len(rows) == 22


def test_enrolment_json_has_the_enrolment_keys_in_study_number_order(trial):
    rows = json.loads(run("export_enrolment", "--format", "json"))

    assert [list(row) for row in rows] == [list(exports.ENROLMENT_COLUMNS)] * 2
    assert [row["study_number"] for row in rows] == ["EC-001", "EC-002"]
    assert {row["screening_number"] for row in rows} == {
        referral.screening_number for referral in trial["enrolled"]
    }


def test_command_and_browser_share_the_rows(trial, client_as):
    client = client_as("data_manager")
    downloaded = b"".join(client.get("/exports/screening-log.csv").streaming_content)

    assert run("export_screening_log").encode() == downloaded


def test_filters_select_the_site_and_referral_dates(coordinator_wuwei):
    create_referrals(2)
    create_referral(number=5, site="lanzhou")

    lanzhou = json.loads(run("export_screening_log", "--format", "json", "--site", "lanzhou"))
    early = ["--format", "json", "--referred-to", "2025-05-01"]
    none = json.loads(run("export_screening_log", *early))

    assert [row["site"] for row in lanzhou] == ["lanzhou"]
    assert none == []


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--site", "beijing"], "unknown site 'beijing'"), (["--referred-from", "May"], "not a date")],
)
def test_bad_filters_stop_the_command(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("export_enrolment", *args, stdout=io.StringIO())


def test_xlsx_file_holds_the_csv_rows(trial, tmp_path):
    target = tmp_path / "log.xlsx"
    call_command("export_screening_log", "--format", "xlsx", "--output", str(target))
    csv_rows = list(csv.reader(io.StringIO(run("export_screening_log").lstrip("\ufeff"))))

    sheet = load_workbook(target).active
    xlsx_rows = [[cell_text(value) for value in row] for row in sheet.iter_rows(values_only=True)]
    assert xlsx_rows == csv_rows


def test_a_control_character_in_a_name_does_not_stop_the_xlsx_file(coordinator_wuwei, tmp_path):
    referral = create_referral(number=1, full_name="王建国")
    # Past the form, which refuses it: as an import or SQL could.
    Referral.objects.filter(pk=referral.pk).update(full_name="王\x01建国")
    target = tmp_path / "log.xlsx"

    call_command(
        "export_screening_log", "--identified", "--format", "xlsx", "--output", str(target)
    )

    header, row = load_workbook(target).active.iter_rows(values_only=True)
    assert row[header.index("full_name")] == "王\ufffd建国"


def cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.date().isoformat()
    return str(value)


# --- the export log ---


def test_a_run_is_logged_with_the_operating_system_account(trial):
    run("export_enrolment", "--format", "json")

    entry = ExportLog.objects.get()
    assert (entry.kind, entry.file_format, entry.row_count) == ("enrolment", "json", 2)
    assert (entry.channel, entry.outcome) == ("command", "delivered")
    assert entry.exported_by is None
    assert entry.os_user == getpass.getuser() != ""


def test_a_run_for_a_user_is_logged_with_that_user_and_the_filters(trial, data_manager, tmp_path):
    target = tmp_path / "log.xlsx"

    call_command(
        "export_screening_log",
        *("--user", data_manager.username, "--site", "lanzhou", "--referred-from", "2025-05-01"),
        *("--identified", "--format", "xlsx", "--output", str(target)),
    )

    entry = ExportLog.objects.get()
    assert (entry.exported_by, entry.channel, entry.outcome) == (
        data_manager,
        "command",
        "delivered",
    )
    assert (entry.kind, entry.file_format) == ("screening_log", "xlsx")
    assert (entry.site.code, entry.referred_from) == ("lanzhou", datetime.date(2025, 5, 1))
    assert entry.row_count == Referral.objects.filter(site__code="lanzhou").count()
    assert entry.events.latest("pgh_id").pgh_context.metadata["user"] == data_manager.pk


def test_an_unknown_user_stops_the_command_before_anything_is_logged(trial):
    with pytest.raises(CommandError, match="unknown user 'nobody'"):
        run("export_enrolment", "--user", "nobody")

    assert not ExportLog.objects.exists()


def test_a_file_that_cannot_be_written_is_logged_as_failed(trial, tmp_path):
    with pytest.raises(FileNotFoundError):
        run("export_screening_log", "--output", str(tmp_path / "missing" / "log.csv"))

    assert ExportLog.objects.get().outcome == "failed"
