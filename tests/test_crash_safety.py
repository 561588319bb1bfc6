"""Nothing is half-written when an import fails or its process dies, and the database's own
constraints hold for rows that skip the forms (``bulk_create``)."""

import datetime
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from screening import services
from screening.imports import validate_rows
from screening.models import (
    Enrolment,
    Evaluation,
    MdtDecision,
    ProtocolVersion,
    Referral,
    ReferralEvent,
)
from tests.factories import UserFactory, create_referral, referral_data

ROOT = Path(__file__).resolve().parent.parent
ROWS = 40


def import_file(tmp_path, count=ROWS) -> Path:
    path = tmp_path / "referrals.json"
    path.write_text(json.dumps([referral_data(number=n) for n in range(1, count + 1)]))
    return path


def table_counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Referral, Evaluation, ReferralEvent, MdtDecision, Enrolment)
    }


NOTHING = {"Referral": 0, "Evaluation": 0, "ReferralEvent": 0, "MdtDecision": 0, "Enrolment": 0}


@pytest.mark.django_db
def test_a_failure_after_the_referrals_were_inserted_leaves_nothing(tmp_path):
    path = import_file(tmp_path)
    inserted = []

    def fail_once_inserted(referrals, *, user=None):
        inserted.append(Referral.objects.count())
        raise RuntimeError("the server fell over")

    with (
        mock.patch.object(
            services.notifications, "referrals_created", side_effect=fail_once_inserted
        ),
        pytest.raises(RuntimeError),
    ):
        call_command("import_referrals", str(path))

    assert inserted == [ROWS], "the referrals had been inserted when the failure came"
    assert table_counts() == NOTHING
    # The same file imports completely afterwards: no half-row or lock was left behind.
    call_command("import_referrals", str(path))
    assert Referral.objects.count() == Evaluation.objects.count() == ROWS


# The import run by a separate process that stops, transaction open, once its referrals are in.
STALLED_IMPORT = """
import json, sys, time
from unittest import mock
import django
from django.conf import settings
settings.DATABASES["default"].update(json.loads(sys.argv[2]))
django.setup()
from django.core.management import call_command
from screening import services

def stall(*args, **kwargs):
    print("referrals inserted", flush=True)
    time.sleep(120)

with mock.patch.object(services.notifications, "referrals_created", side_effect=stall):
    call_command("import_referrals", sys.argv[1])
"""


def database_settings_json() -> str:
    """The connection settings of the test database, for another process."""
    keys = ("NAME", "USER", "PASSWORD", "HOST", "PORT")
    return json.dumps({key: connection.settings_dict[key] for key in keys})


def test_a_worker_killed_mid_import_leaves_nothing(seeded, tmp_path):
    path = import_file(tmp_path)
    worker = subprocess.Popen(
        [sys.executable, "-c", STALLED_IMPORT, str(path), database_settings_json()],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "trialscreen.settings", "SECRET_KEY": "test"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout.readline() == "referrals inserted\n", worker.stderr.read()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT state FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                "AND datname = current_database() AND state LIKE 'idle in transaction%%'"
            )
            assert cursor.fetchall(), "the worker holds an open transaction"
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)

    assert table_counts() == NOTHING
    call_command("import_referrals", str(path))
    assert Referral.objects.count() == ROWS


# --- the database's constraints under bulk_create ---


def unsaved_referral(number=1, **overrides) -> Referral:
    """A referral with validated clinical data, not yet saved, then ``overrides``."""
    cleaned, errors = validate_rows(
        [referral_data(number=number)], protocol=ProtocolVersion.current()
    )
    assert not errors
    return Referral(screening_number=f"X-{number:05d}", **{**cleaned[0], **overrides})


@pytest.mark.django_db
@pytest.mark.parametrize(
    "overrides",
    [
        {"ecog": 6},
        {"alt": 5001},
        {"platelets": -1},
        {"lvef_percent": 100.5},
        {"sex": "X"},
        {"histology": "sarcoma"},
        {"status": "lost"},
        {"national_id": "62060219610314123"},
        {"date_of_birth": datetime.date(1899, 12, 31)},
        {"screening_date": datetime.date(2025, 1, 1), "referral_date": datetime.date(2025, 2, 1)},
    ],
    ids=lambda overrides: ",".join(overrides),
)
def test_bulk_create_cannot_store_a_value_the_rules_refuse(overrides):
    good = unsaved_referral(number=1)
    bad = unsaved_referral(number=2, **overrides)

    with pytest.raises(IntegrityError), transaction.atomic():
        Referral.objects.bulk_create([good, bad])

    assert Referral.objects.count() == 0


@pytest.mark.django_db
def test_bulk_create_cannot_open_a_second_referral_for_a_patient():
    same_patient = unsaved_referral(number=1)
    create_referral(number=1)

    with pytest.raises(IntegrityError, match="one_open_per_patient"), transaction.atomic():
        Referral.objects.bulk_create([same_patient])


@pytest.mark.django_db
def test_bulk_create_cannot_give_a_referral_two_current_decisions():
    mdt = UserFactory(username="mdt-member", role="mdt")
    referral = create_referral()
    first = services.mdt_decision_record(
        referral=referral, user=mdt, decision="approve", rationale="fit"
    )
    second = MdtDecision(
        referral=referral,
        evaluation=first.evaluation,
        decision="reject",
        rationale="unfit",
        meeting_date=first.meeting_date,
        decided_by=mdt,
    )

    with pytest.raises(IntegrityError, match="one_current_per_referral"), transaction.atomic():
        MdtDecision.objects.bulk_create([second])


@pytest.mark.django_db
def test_bulk_create_cannot_reuse_a_study_number_or_sequence():
    manager = UserFactory(username="data-manager", role="admin")
    mdt = UserFactory(username="mdt-member", role="mdt")
    referrals = [create_referral(number=n) for n in (1, 2)]
    for referral in referrals:
        services.mdt_decision_record(
            referral=referral, user=mdt, decision="approve", rationale="fit"
        )
    enrolment = services.participant_enrol(
        referral=referrals[0], user=manager, consent_date=timezone.localdate()
    )
    again = Enrolment(
        referral=referrals[1],
        sequence=enrolment.sequence,
        study_number="EC-999",
        consent_date=timezone.localdate(),
        enrolled_by=manager,
        protocol_version=enrolment.protocol_version,
    )

    with pytest.raises(IntegrityError), transaction.atomic():
        Enrolment.objects.bulk_create([again])
    again.sequence, again.study_number = 0, "EC-000"
    with pytest.raises(IntegrityError, match="sequence_positive"), transaction.atomic():
        Enrolment.objects.bulk_create([again])
