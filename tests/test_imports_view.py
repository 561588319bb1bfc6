"""The import page: upload, preview (nothing saved), confirm (all rows or none)."""

import csv
import datetime
import io
import json

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pghistory.models import Event

from screening import import_uploads, services
from screening.imports import validate_rows
from screening.models import Evaluation, ImportUpload, Notification, ProtocolVersion, Referral
from tests.factories import create_referral, form_data

pytestmark = pytest.mark.django_db


def csv_file(rows: list[dict], name="referrals.csv") -> SimpleUploadedFile:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    content = ("\ufeff" + buffer.getvalue()).encode()
    return SimpleUploadedFile(name, content, content_type="text/csv")


def json_file(rows: list[dict], name="referrals.json") -> SimpleUploadedFile:
    content = json.dumps(rows, ensure_ascii=False).encode()
    return SimpleUploadedFile(name, content, content_type="application/json")


def two_patients(**changes_of_the_second) -> list[dict]:
    """An eligible patient and an ineligible one (cT1N0)."""
    second = {"ct": "T1", "cn": "N0", **changes_of_the_second}
    return [form_data(number=1), form_data(number=2, **second)]


def audit_events() -> int:
    return sum(
        model.objects.count()
        for model in apps.get_models()
        if issubclass(model, Event) and not model._meta.proxy
    )


def upload(client, file) -> ImportUpload:
    """Upload ``file`` and return the upload kept for its preview."""
    response = client.post("/imports/", {"file": file})
    assert response.status_code == 302, response.content.decode()[:2000]
    upload = ImportUpload.objects.latest("pk")
    assert response.url == f"/imports/{upload.pk}/"
    return upload


def test_the_form_names_the_size_limit(client_as):
    page = client_as("coordinator_wuwei").get("/imports/").content.decode()

    assert 'enctype="multipart/form-data"' in page
    assert "at most 5 MB" in page
    assert "js/import_upload.js" in page
    assert "You may import referrals for: Wuwei" in page


def test_the_preview_saves_nothing_and_shows_every_row(client_as):
    client = client_as("data_manager")
    before = (Referral.objects.count(), Evaluation.objects.count(), Notification.objects.count())
    kept = upload(client, csv_file(two_patients()))
    events = audit_events()

    page = client.get(f"/imports/{kept.pk}/").content.decode()

    assert audit_events() == events
    assert (Referral.objects.count(), Evaluation.objects.count()) == before[:2]
    assert Notification.objects.count() == before[2]
    assert "2 rows read from referrals.csv" in page
    assert page.count('data-row="') == 2
    assert page.count('data-code="') == 2 * 12
    assert 'data-code="I2" data-result="fail"' in page  # the cT1N0 patient
    assert "Potentially eligible" in page and "Ineligible" in page
    assert f'action="/imports/{kept.pk}/"' in page and 'name="confirm"' in page


def test_confirm_imports_exactly_the_previewed_rows(client_as, data_manager):
    client = client_as("data_manager")
    rows = two_patients()
    kept = upload(client, json_file(rows))
    client.get(f"/imports/{kept.pk}/")

    response = client.post(f"/imports/{kept.pk}/", {"confirm": "1"})

    assert response.status_code == 302 and response.url == "/referrals/"
    imported = Referral.objects.order_by("pk")
    assert [r.hospital_number for r in imported] == [row["hospital_number"] for row in rows]
    assert [r.outcome for r in imported] == ["potentially_eligible", "ineligible"]
    assert {r.created_by for r in imported} == {data_manager}
    kept.refresh_from_db()
    assert kept.status == ImportUpload.Status.IMPORTED
    assert bytes(kept.content) == b""
    assert kept.row_count == 2
    assert kept.outcome_counts == {"ineligible": 1, "potentially_eligible": 1}
    listed = client.get("/referrals/").content.decode()
    assert "Imported 2 referrals from referrals.json" in listed
    assert all(r.screening_number in listed for r in imported)
    # The import is in the audit review: who, which file, how many, the outcomes.
    review = client.get("/reports/audit/", {"kind": "import"}).content.decode()
    assert "referrals.json: 2 referrals imported" in review
    assert "data-manager" in review
    # A second confirmation imports nothing more.
    again = client.post(f"/imports/{kept.pk}/", {"confirm": "1"})
    assert again.status_code == 302 and Referral.objects.count() == 2


def test_a_file_with_a_bad_row_offers_no_confirm_and_saves_nothing(client_as):
    client = client_as("data_manager")
    rows = two_patients(date_of_birth="12/02/1955")
    kept = upload(client, csv_file(rows))

    page = client.get(f"/imports/{kept.pk}/").content.decode()

    assert "row 2: date_of_birth:" in page
    assert 'name="confirm"' not in page
    assert "1 problem: nothing can be imported" in page
    # Posting the confirmation anyway is refused with the same problems.
    refused = client.post(f"/imports/{kept.pk}/", {"confirm": "1"}).content.decode()
    assert "row 2: date_of_birth:" in refused
    assert Referral.objects.count() == 0


def test_an_unreadable_file_is_named(client_as):
    client = client_as("data_manager")
    kept = upload(client, SimpleUploadedFile("referrals.xlsx", b"PK\x03\x04"))

    page = client.get(f"/imports/{kept.pk}/").content.decode()

    assert "referrals.xlsx: the file name must end in .json or .csv." in page
    assert 'name="confirm"' not in page


def test_a_file_over_5_mb_is_refused(client_as):
    client = client_as("data_manager")
    big = SimpleUploadedFile("referrals.csv", b"x" * (import_uploads.MAX_UPLOAD_BYTES + 1))

    response = client.post("/imports/", {"file": big})

    assert response.status_code == 400
    assert "the limit is 5 MB" in response.content.decode()
    assert ImportUpload.objects.count() == 0


def test_a_post_without_a_file_asks_for_one(client_as):
    response = client_as("data_manager").post("/imports/", {})

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert ImportUpload.objects.count() == 0


def test_only_the_uploading_session_may_see_or_confirm_the_upload(
    client_as, data_manager, coordinator_wuwei
):
    first = client_as("data_manager")
    kept = upload(first, csv_file(two_patients()))
    second_session = Client()
    second_session.force_login(data_manager)
    someone_else = client_as("coordinator_wuwei")

    for client in (second_session, someone_else):
        assert client.get(f"/imports/{kept.pk}/").status_code == 404
        assert client.post(f"/imports/{kept.pk}/", {"confirm": "1"}).status_code == 404

    assert Referral.objects.count() == 0
    # The second session's own upload does not open the first's either.
    upload(second_session, csv_file(two_patients()))
    assert second_session.post(f"/imports/{kept.pk}/", {"confirm": "1"}).status_code == 404
    assert first.post(f"/imports/{kept.pk}/", {"confirm": "1"}).status_code == 302
    assert Referral.objects.count() == 2


def test_an_upload_older_than_an_hour_is_refused_and_discarded(client_as):
    client = client_as("data_manager")
    kept = upload(client, csv_file(two_patients()))
    an_hour_ago = kept.created_at - import_uploads.UPLOAD_LIFETIME - datetime.timedelta(minutes=1)
    ImportUpload.objects.filter(pk=kept.pk).update(created_at=an_hour_ago)

    response = client.post(f"/imports/{kept.pk}/", {"confirm": "1"}, follow=True)

    assert "more than an hour old; upload the file again" in response.content.decode()
    assert response.redirect_chain[-1][0] == "/imports/"
    assert Referral.objects.count() == 0
    # The next upload deletes it.
    newer = upload(client, csv_file(two_patients()))
    assert list(ImportUpload.objects.values_list("pk", flat=True)) == [newer.pk]


def test_a_coordinator_cannot_import_for_the_other_site(client_as):
    client = client_as("coordinator_lanzhou")
    kept = upload(client, csv_file([form_data(number=1, site="lanzhou"), form_data(number=2)]))

    page = client.get(f"/imports/{kept.pk}/").content.decode()

    assert "row 2: site:" in page
    assert "row 1:" not in page
    assert 'name="confirm"' not in page
    client.post(f"/imports/{kept.pk}/", {"confirm": "1"})
    assert Referral.objects.count() == 0


def test_the_mdt_may_not_import(client_as):
    client = client_as("mdt")

    assert client.get("/imports/").status_code == 403
    assert client.post("/imports/", {"file": csv_file(two_patients())}).status_code == 403
    assert ImportUpload.objects.count() == 0


def test_the_preview_shows_re_referrals_duplicates_and_open_referrals(client_as, data_manager):
    withdrawn = create_referral(number=1, user=data_manager, status=Referral.Status.WITHDRAWN)
    open_one = create_referral(number=2, user=data_manager)
    stored_twin = create_referral(number=3, user=data_manager)
    rows = [
        form_data(number=1),  # the withdrawn patient again
        form_data(number=2),  # has an open referral
        # The third patient under another hospital number: a possible duplicate.
        form_data(number=3, hospital_number="WU999999"),
    ]
    client = client_as("data_manager")
    kept = upload(client, csv_file(rows))

    page = client.get(f"/imports/{kept.pk}/").content.decode()

    assert f"Referred again after {withdrawn.screening_number}" in page
    refusal = "This person already has an open referral"
    assert f"row 2: hospital_number: {refusal} ({open_one.screening_number})." in page
    assert "Possible duplicate" in page
    assert stored_twin.full_name in page
    assert 'name="confirm"' not in page


def test_data_changed_since_the_preview_imports_nothing(client_as, data_manager):
    client = client_as("data_manager")
    rows = two_patients()
    kept = upload(client, csv_file(rows))
    assert 'name="confirm"' in client.get(f"/imports/{kept.pk}/").content.decode()
    # Someone enters the first patient meanwhile (potentially eligible: an open referral).
    services.referral_create(data=_clean(rows[0]), user=data_manager)

    page = client.post(f"/imports/{kept.pk}/", {"confirm": "1"}).content.decode()

    assert "Nothing was imported" in page
    assert "row 1: hospital_number: This person already has an open referral" in page
    assert 'name="confirm"' not in page
    assert Referral.objects.count() == 1
    assert ImportUpload.objects.get(pk=kept.pk).status == ImportUpload.Status.PREVIEWED


def test_the_upload_script_is_answered_with_the_preview_address(client_as):
    client = client_as("data_manager")

    response = client.post(
        "/imports/", {"file": csv_file(two_patients())}, headers={"X-Import-Upload": "1"}
    )

    kept = ImportUpload.objects.get()
    assert response.status_code == 201
    assert response["Location"] == f"/imports/{kept.pk}/"


def _clean(row: dict) -> dict:
    """A row as validated clinical data, through the import's own validation."""
    cleaned, errors = validate_rows([row], protocol=ProtocolVersion.current())
    assert errors == []
    return cleaned[0]


def test_the_daily_command_deletes_unconfirmed_uploads_older_than_an_hour(client_as):
    client = client_as("data_manager")
    imported = upload(client, csv_file(two_patients()))
    client.post(f"/imports/{imported.pk}/", {"confirm": "1"})
    old = upload(client, json_file([form_data(number=5)]))
    fresh = upload(client, json_file([form_data(number=6)]))
    long_ago = timezone.now() - import_uploads.UPLOAD_LIFETIME - datetime.timedelta(minutes=1)
    ImportUpload.objects.filter(pk__in=[old.pk, imported.pk]).update(created_at=long_ago)
    output = io.StringIO()

    call_command("send_reminders", stdout=output)

    assert "expired import uploads deleted: 1" in output.getvalue()
    kept = set(ImportUpload.objects.values_list("pk", flat=True))
    assert kept == {imported.pk, fresh.pk}


def test_the_preview_costs_the_same_queries_for_2_rows_as_for_40(client_as):
    client = client_as("data_manager")
    small = upload(client, csv_file([form_data(number=n) for n in range(1, 3)]))
    large = upload(client, csv_file([form_data(number=n) for n in range(1, 41)]))
    counts = []
    for kept in (small, large):
        with CaptureQueriesContext(connection) as queries:
            page = client.get(f"/imports/{kept.pk}/").content.decode()
        assert 'name="confirm"' in page
        counts.append(len(queries))

    assert counts[0] == counts[1]
