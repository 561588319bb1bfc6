"""Names, hospital numbers and national IDs stay out of logs, error pages, error e-mails and
pseudonymous exports."""

import io
import logging
from unittest import mock

import openpyxl
import pytest
from django.core import mail
from django.core.management import call_command
from django.db import IntegrityError
from django.urls import reverse

from screening.national_id import check_character
from tests.factories import create_referral, form_data

pytestmark = pytest.mark.django_db

NAME = "欧阳明珠"
HOSPITAL_NUMBER = "WU777123"
DATE_OF_BIRTH = "1961-03-14"
# Region, date of birth, an odd sequence number (male), then the check character.
NATIONAL_ID = "620602" + DATE_OF_BIRTH.replace("-", "") + "123"
NATIONAL_ID += check_character(NATIONAL_ID)
IDENTIFYING = (NAME, HOSPITAL_NUMBER, NATIONAL_ID)
PATIENT = {
    "full_name": NAME,
    "hospital_number": HOSPITAL_NUMBER,
    "national_id": NATIONAL_ID,
    "date_of_birth": DATE_OF_BIRTH,
    "sex": "M",
}


@pytest.fixture
def referral(coordinator_wuwei):
    return create_referral(user=coordinator_wuwei, **PATIENT)


@pytest.fixture
def reported(settings):
    """Error e-mails on, to an operator; Django's test runner keeps them in ``mail.outbox``."""
    settings.ADMINS = [("Operator", "operator@hospital.example")]
    return mail.outbox


def assert_no_patient_data(text: str):
    for value in IDENTIFYING:
        assert value not in text


def log_text(caplog) -> str:
    """Every captured record as the handlers write it, traceback included."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(record) for record in caplog.records)


# --- browser caches ---


def cache_directives(response) -> set[str]:
    return {part.strip().split("=")[0] for part in response.get("Cache-Control", "").split(",")}


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/referrals/",
        "/referrals/{number}/",
        "/referrals/{number}/edit/",
        "/referrals/{number}/history/",
        "/referrals/{number}/enrol/",
        "/mdt/",
        "/exports/",
        "/exports/identification.csv",
        "/exports/identification.xlsx",
        "/reports/consort.svg",
        "/reports/consort.png",
        "/accounts/two-step/setup/",
    ],
)
def test_no_cache_may_keep_what_a_signed_in_user_is_sent(client_as, coordinator_wuwei, path):
    approved = create_referral(user=coordinator_wuwei, status="mdt_approved", **PATIENT)

    response = client_as("data_manager").get(path.format(number=approved.screening_number))

    assert response.status_code == 200
    assert {"no-store", "private"} <= cache_directives(response)


def test_a_referral_another_site_asks_for_logs_and_shows_no_patient_data(
    client_as, referral, caplog
):
    client = client_as("coordinator_lanzhou")

    with caplog.at_level(logging.INFO):
        response = client.get(reverse("referral_detail", args=[referral.screening_number]))

    assert response.status_code == 404
    assert f"Not Found: /referrals/{referral.screening_number}/" in log_text(caplog)
    assert_no_patient_data(log_text(caplog))
    assert_no_patient_data(response.content.decode())


def test_a_crash_while_saving_a_referral_shows_a_generic_page_and_reports_no_patient_data(
    client_as, referral, caplog, reported
):
    # The message of a refused row, as PostgreSQL words it, quotes the row's values.
    refused = IntegrityError(
        "duplicate key value violates unique constraint "
        '"screening_referral_one_open_per_patient"\n'
        f"DETAIL:  Key (site_id, hospital_number)=(1, {HOSPITAL_NUMBER}) already exists "
        f"for {NAME} ({NATIONAL_ID})."
    )
    client = client_as("coordinator_wuwei")
    client.raise_request_exception = False
    edit = reverse("referral_edit", args=[referral.screening_number])

    with mock.patch("screening.services.referral_update", side_effect=refused):
        response = client.post(edit, {**form_data(ecog="0", **PATIENT), "change_reason": "ECOG"})

    assert response.status_code == 500
    assert_no_patient_data(response.content.decode())
    logged = log_text(caplog)
    assert f"Internal Server Error: {edit}" in logged
    assert "django.db.utils.IntegrityError" in logged
    assert "referral_update" in logged  # the traceback is kept, only values are withheld
    assert_no_patient_data(logged)
    (report,) = reported
    assert "IntegrityError" in report.body
    assert_no_patient_data(report.subject + report.body)


def test_a_crash_during_a_search_reports_neither_the_searched_name_nor_the_query(
    client_as, referral, caplog, reported
):
    client = client_as("coordinator_wuwei")
    client.raise_request_exception = False

    with mock.patch(
        "screening.filters.ReferralFilter.search", side_effect=ValueError(f"no {NAME}")
    ):
        response = client.get(
            reverse("referral_list"), {"q": NAME}, HTTP_REFERER=f"/referrals/?q={NAME}"
        )

    assert response.status_code == 500
    assert_no_patient_data(response.content.decode())
    assert_no_patient_data(log_text(caplog))
    (report,) = reported
    assert "/referrals/" in report.body
    assert_no_patient_data(report.body)


def test_a_refused_form_logs_nothing_identifying(client_as, caplog):
    client = client_as("coordinator_wuwei")

    with caplog.at_level(logging.DEBUG):
        response = client.post(reverse("referral_create"), form_data(ecog="9", **PATIENT))

    assert response.status_code == 200
    assert "ecog" in response.content.decode()
    assert_no_patient_data(log_text(caplog))


def test_request_lines_are_logged_without_their_query_string():
    from trialscreen.security import PatientDataLogFilter

    record = logging.LogRecord(
        "django.server", logging.INFO, __file__, 1, '"%s" %s', (f"GET /referrals/?q={NAME}", 200),
        None,
    )  # fmt: skip

    PatientDataLogFilter().filter(record)
    once = record.getMessage()
    PatientDataLogFilter().filter(record)  # the logger's filter, then the handler's

    assert once == '"GET /referrals/?[withheld: may identify a patient]" 200'
    assert record.getMessage() == once
    assert NAME not in once


# --- exports ---


@pytest.fixture
def enrolled(referral, mdt_member, data_manager):
    from django.utils import timezone

    from screening import services

    services.mdt_decision_record(
        referral=referral, user=mdt_member, decision="approve", rationale="fit for CIRT"
    )
    services.participant_enrol(
        referral=referral, user=data_manager, consent_date=timezone.localdate()
    )
    return referral


def xlsx_text(content: bytes) -> str:
    workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    return "\n".join(
        str(cell)
        for sheet in workbook.worksheets
        for row in sheet.iter_rows(values_only=True)
        for cell in row
    )


@pytest.mark.parametrize("name", ["screening-log", "enrolment"])
def test_pseudonymous_downloads_hold_no_patient_data(client_as, enrolled, name):
    client = client_as("data_manager")

    csv = b"".join(client.get(f"/exports/{name}.csv").streaming_content).decode()
    xlsx = b"".join(client.get(f"/exports/{name}.xlsx").streaming_content)

    assert enrolled.screening_number in csv
    assert enrolled.screening_number in xlsx_text(xlsx)
    assert_no_patient_data(csv)
    assert_no_patient_data(xlsx_text(xlsx))


@pytest.mark.parametrize("command", ["export_screening_log", "export_enrolment"])
@pytest.mark.parametrize("file_format", ["csv", "json"])
def test_pseudonymous_exports_of_the_commands_hold_no_patient_data(enrolled, command, file_format):
    out = io.StringIO()
    call_command(command, format=file_format, stdout=out)

    assert enrolled.screening_number in out.getvalue()
    assert_no_patient_data(out.getvalue())


def test_the_identification_list_is_the_download_that_names_patients(client_as, enrolled):
    client = client_as("data_manager")

    csv = b"".join(client.get("/exports/identification.csv").streaming_content).decode()

    assert all(value in csv for value in IDENTIFYING)
