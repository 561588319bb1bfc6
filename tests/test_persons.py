"""The person behind a referral (PROTOCOL section 3a): one open referral per person, never a
second enrolment, re-referrals linked, possible duplicates flagged and checked at enrolment."""

import json
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from screening import exports, persons, services
from screening.forms.referrals import ReferralForm
from screening.imports import FileCheck, validate_rows
from screening.models import Enrolment, ProtocolVersion, Referral, Site
from screening.national_id import check_character
from tests.factories import PASSWORD, create_referral, form_data, referral_data

pytestmark = pytest.mark.django_db

Status = Referral.Status


def national_id(row: dict, serial: int = 1) -> str:
    """A valid resident ID for the row's birth date and sex."""
    sex_digit = 1 if row["sex"] == "M" else 2
    first17 = f"620602{row['date_of_birth'].replace('-', '')}{serial:02d}{sex_digit}"
    return first17 + check_character(first17)


def patient(**overrides) -> dict:
    row = referral_data(**overrides)
    row.setdefault("national_id", national_id(row))
    return row


def import_file(tmp_path, rows, *args):
    path = tmp_path / "referrals.json"
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    call_command("import_referrals", str(path), *args)


def import_errors(tmp_path, rows, capsys) -> str:
    with pytest.raises(CommandError, match="nothing was imported"):
        import_file(tmp_path, rows)
    return capsys.readouterr().err


def enrolled(row: dict, coordinator) -> Referral:
    referral = create_referral(user=coordinator, status=Status.ENROLLED, **row)
    return Referral.objects.get(pk=referral.pk)


# --- an enrolled person is never referred again ---


def test_an_enrolled_national_id_is_refused_at_the_other_site_naming_the_study_number(
    tmp_path, capsys, coordinator_lanzhou
):
    row = patient(site="lanzhou", hospital_number="LZ1")
    enrolled(row, coordinator_lanzhou)

    again = {**row, "site": "wuwei", "hospital_number": "WU9"}
    errors = import_errors(tmp_path, [again], capsys)

    assert "row 1: national_id: This person is already enrolled as EC-001." in errors
    assert Referral.objects.count() == 1


def test_an_enrolled_patient_is_refused_again_at_the_same_site_through_the_form(
    client_as, coordinator_wuwei
):
    row = referral_data(hospital_number="WU77")
    enrolled(row, coordinator_wuwei)
    client = client_as("coordinator_wuwei")

    response = client.post(reverse("referral_create"), form_data(hospital_number="WU77"))

    assert response.status_code == 200
    assert "This person is already enrolled as EC-001." in response.content.decode()
    assert Referral.objects.count() == 1


# --- one open referral per person ---


def test_an_open_referral_at_the_other_site_is_told_as_a_fact_only(tmp_path, capsys):
    row = patient(site="lanzhou", hospital_number="LZ1")
    (first,) = _import(row)

    errors = import_errors(tmp_path, [{**row, "site": "wuwei", "hospital_number": "WU1"}], capsys)

    assert "row 1: national_id: This person already has an open referral" in errors
    # An import by the command may name it (no site limits); a Wuwei coordinator may not.
    form_errors = _form_errors({**row, "site": "wuwei", "hospital_number": "WU1"}, "wuwei")
    assert form_errors == {
        "national_id": ["This person already has an open referral at another site."]
    }
    assert first.screening_number not in str(form_errors)


def test_the_database_refuses_a_second_open_referral_for_one_national_id():
    row = patient(site="lanzhou", hospital_number="LZ1")
    (first,) = _import(row)
    second = Referral.objects.get(pk=first.pk)
    second.pk = None
    second.screening_number = "S-99999"
    second.site = Site.objects.get(code="wuwei")
    second.hospital_number = "WU1"
    second.evaluation = None

    with pytest.raises(IntegrityError, match="one_open_per_national_id"), transaction.atomic():
        second.save()


def test_a_file_with_a_bad_row_names_the_person_already_referred_too(tmp_path, capsys):
    row = patient(site="lanzhou", hospital_number="LZ1")
    (first,) = _import(row)
    again = {**row, "site": "wuwei", "hospital_number": "WU1"}
    bad = patient(hospital_number="WU2", ast="many")

    errors = import_errors(tmp_path, [bad, again], capsys).splitlines()

    assert errors[0].startswith("row 1: ast:")
    assert errors[1] == (
        f"row 2: national_id: This person already has an open referral ({first.screening_number})."
    )
    assert Referral.objects.count() == 1


def test_a_person_referred_after_the_file_was_screened_imports_nothing(tmp_path, coordinator_wuwei):
    row = patient(hospital_number="WU1")
    # Screened before this referral was made: the one-open-referral constraint refuses the row
    # when it is saved.
    screened_before = persons.Screening([persons.Finding()], set())
    create_referral(user=coordinator_wuwei, **row)

    with (
        mock.patch.object(FileCheck, "screen", return_value=(screened_before, [])),
        pytest.raises(CommandError, match="Someone referred one of these people meanwhile"),
    ):
        import_file(tmp_path, [{**row, "hospital_number": "WU2"}])

    assert Referral.objects.count() == 1


def test_an_import_reads_the_stored_people_once(tmp_path):
    rows = [patient(hospital_number=f"WU{n}", full_name=f"Patient {n}") for n in range(1, 4)]
    rows = [{**row, "national_id": national_id(row, serial=n)} for n, row in enumerate(rows, 1)]

    with CaptureQueriesContext(connection) as queries:
        import_file(tmp_path, rows)

    assert Referral.objects.count() == 3
    born_alike = [query for query in queries if "unnest(" in query["sql"]]
    assert len(born_alike) == 1


def test_a_screen_failure_corrected_while_another_referral_is_open_is_refused(
    client_as, coordinator_wuwei
):
    failed = create_referral(user=coordinator_wuwei, hospital_number="WU5", ecog=3)
    assert failed.status == Status.SCREEN_FAILED
    create_referral(user=coordinator_wuwei, hospital_number="WU5")  # re-referred, now open
    client = client_as("coordinator_wuwei")

    response = client.post(
        reverse("referral_edit", args=[failed.screening_number]),
        form_data(hospital_number="WU5", ecog=0),
    )

    assert response.status_code == 200
    assert "This person already has an open referral" in response.content.decode()
    failed.refresh_from_db()
    assert failed.status == Status.SCREEN_FAILED


# --- re-referral after a closed referral ---


def test_a_re_referral_after_a_screen_failure_is_linked_on_the_page_and_in_the_log(
    client_as, coordinator_wuwei
):
    failed = create_referral(user=coordinator_wuwei, hospital_number="WU5", ecog=3)
    again = create_referral(user=coordinator_wuwei, hospital_number="WU5")

    assert again.previous_referral_id == failed.pk
    page = client_as("coordinator_wuwei").get(
        reverse("referral_detail", args=[again.screening_number])
    )
    assert failed.screening_number in page.content.decode()
    log = {row["screening_number"]: row for row in exports.screening_log_rows()}
    assert log[again.screening_number]["previous_screening_number"] == failed.screening_number
    assert log[failed.screening_number]["previous_screening_number"] is None


# --- possible duplicates ---


def test_a_possible_duplicate_is_saved_and_flagged_on_the_page_list_and_queue(
    client_as, coordinator_wuwei, coordinator_lanzhou
):
    row = referral_data(full_name="王 小明", hospital_number="WU1")
    first = create_referral(user=coordinator_wuwei, **row)
    # The same name (spaces and case aside), birth date and sex under another person key.
    second = create_referral(
        user=coordinator_lanzhou,
        **{**row, "site": "lanzhou", "hospital_number": "LZ1", "full_name": "王小明"},
    )

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.possible_duplicate and second.possible_duplicate
    coordinator = client_as("coordinator_wuwei")
    page = coordinator.get(reverse("referral_detail", args=[first.screening_number]))
    html = page.content.decode()
    assert "Possible duplicate" in html
    assert "a referral at another site" in html
    assert second.screening_number not in html  # across sites, only the fact
    assert "Possible duplicate" in coordinator.get(reverse("referral_list")).content.decode()
    mdt = client_as("mdt")
    queue = mdt.get(reverse("mdt_queue")).content.decode()
    assert queue.count("Possible duplicate") == 2


def test_enrolling_a_possible_duplicate_needs_the_identity_check(client_as, coordinator_wuwei):
    row = referral_data(hospital_number="WU1")
    create_referral(user=coordinator_wuwei, **row)
    duplicate = create_referral(
        user=coordinator_wuwei, status=Status.MDT_APPROVED, **{**row, "hospital_number": "WU2"}
    )
    client = client_as("coordinator_wuwei")
    url = reverse("referral_enrol", args=[duplicate.screening_number])
    consent = {"password": PASSWORD, "consent_date": timezone.localdate().isoformat()}

    assert 'name="identity_confirmed"' in client.get(url).content.decode()
    refused = client.post(url, consent)
    assert "Check the identity and tick the box" in refused.content.decode()
    assert not Enrolment.objects.exists()

    client.post(url, {**consent, "identity_confirmed": "on"})
    assert Enrolment.objects.get(referral=duplicate).identity_confirmed is True


def test_correcting_a_name_clears_the_flag_on_both(coordinator_wuwei):
    row = referral_data(hospital_number="WU1")
    first = create_referral(user=coordinator_wuwei, **row)
    second = create_referral(user=coordinator_wuwei, **{**row, "hospital_number": "WU2"})

    services.referral_update(
        change_reason="Corrected from the source record.",
        referral=Referral.objects.get(pk=second.pk),
        data={"full_name": "Another Name"},
        user=coordinator_wuwei,
    )

    first.refresh_from_db()
    second.refresh_from_db()
    assert not first.possible_duplicate and not second.possible_duplicate


def test_rows_of_one_file_flag_each_other_and_the_stored_referral_they_match(coordinator_wuwei):
    row = referral_data(hospital_number="WU1")
    stored = create_referral(user=coordinator_wuwei, **row)
    assert not stored.possible_duplicate
    cleaned, errors = validate_rows(
        [
            {**row, "hospital_number": "WU2"},  # the stored one's name, birth date and sex
            {**row, "hospital_number": "WU3", "full_name": "Zhao Lei"},
            {**row, "hospital_number": "WU4", "full_name": "ZHAO  lei"},  # the row before's
            {**row, "hospital_number": "WU5", "full_name": "Qian Wei"},
        ],
        protocol=ProtocolVersion.current(),
    )
    assert not errors, errors

    created = services.referrals_create(rows=cleaned, user=coordinator_wuwei)

    flagged = dict(Referral.objects.values_list("hospital_number", "possible_duplicate"))
    assert flagged == {"WU1": True, "WU2": True, "WU3": True, "WU4": True, "WU5": False}
    assert [referral.possible_duplicate for referral in created] == [True, True, True, False]


def test_ten_thousand_duplicate_rows_are_checked_in_a_constant_number_of_queries(
    django_assert_num_queries,
):
    protocol = ProtocolVersion.current()

    def rows(count):
        # Every row the same name, birth date and sex under its own hospital number: each a
        # possible duplicate of every other.
        return [referral_data(number=1, hospital_number=f"WU{n:06d}") for n in range(count)]

    small, large = rows(10), rows(10_000)
    validate_rows(small, protocol=protocol)  # warm caches (content types, translations)
    with django_assert_num_queries(3):
        cleaned, errors = validate_rows(small, protocol=protocol)
    assert not errors and len(cleaned) == 10
    with django_assert_num_queries(3):
        cleaned, errors = validate_rows(large, protocol=protocol)
    assert not errors and len(cleaned) == 10_000


def test_rows_of_one_file_that_are_the_same_person_are_refused(tmp_path, capsys):
    row = patient(hospital_number="WU1")
    other = {**row, "hospital_number": "WU2"}  # same national ID

    errors = import_errors(tmp_path, [row, other], capsys)

    assert "row 2: national_id: the same patient is already in row 1 of this file" in errors


def _import(row: dict) -> list[Referral]:
    cleaned, errors = validate_rows([row], protocol=ProtocolVersion.current())
    assert not errors, errors
    return services.referrals_create(rows=cleaned)


def _form_errors(row: dict, site_code: str) -> dict:
    form = ReferralForm(
        data={key: str(value) for key, value in row.items()},
        protocol=ProtocolVersion.current(),
        sites=Site.objects.filter(code=site_code),
    )
    form.is_valid()
    return {field: list(messages) for field, messages in form.errors.items()}


def test_name_key_ignores_spaces_and_case():
    assert persons.name_key(" Wang\u3000Xiao Ming ") == persons.name_key("wangxiaoming")
