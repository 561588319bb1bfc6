"""The site's database role (given its privileges by ``grant_app_role``) cannot switch the audit
triggers off, write or rewrite audit rows or remove download records, and still does the app's
work with every change recorded; the deployment check says when a role could do more.

Most tests open a second connection as that role, as the running site would, so they see only
committed data (``transaction=True``).
"""

import os
import subprocess
import sys
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pghistory
import pgtrigger
import psycopg2
import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from pghistory.models import Context, Event

from screening import database_roles, services
from screening.checks import check_audit_trail_out_of_reach
from screening.models import ExportLog, ExportLogEvent, RecordView, Referral, ReferralEvent
from tests.factories import create_referral
from tests.roles import connect_as, database_url, drop_role

ROOT = Path(__file__).resolve().parent.parent
ROW_PRIVILEGES = {"SELECT", "INSERT", "UPDATE", "DELETE"}


def pgid(uri: str) -> str:
    """The name in PostgreSQL of the trigger at ``uri`` ("app.Model:trigger")."""
    ((model, trigger),) = pgtrigger.registered(uri)
    return trigger.get_pgid(model)


@pytest.fixture
def app_db(app_role):
    """A connection as the app role; each ``with app_db:`` block is a transaction."""
    db = connect_as(app_role)
    yield db
    db.close()


def referral_triggers() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'screening_referral'::regclass "
            "AND NOT tgisinternal ORDER BY tgname"
        )
        return [name for (name,) in cursor.fetchall()]


# --- the triggers cannot be switched off ---


@pytest.mark.django_db
def test_every_audit_trigger_function_is_sealed_after_migrate():
    functions = database_roles.trigger_functions(connection)

    assert len(functions) == len(pgtrigger.registered())
    assert [f.signature for f in functions if not f.sealed] == []
    assert not any("_pgtrigger_should_ignore" in f.source for f in functions)


@pytest.mark.django_db
def test_a_migration_that_rewrites_a_trigger_is_followed_by_its_sealing(coordinator_wuwei):
    referral = create_referral(user=coordinator_wuwei)
    uri = "screening.Referral:update_update"
    ((model, trigger),) = pgtrigger.registered(uri)
    with connection.cursor() as cursor:
        # What a later migration's AddTrigger runs: pgtrigger's own function, switchable.
        cursor.execute(trigger.compile(model).install_sql)
    with pgtrigger.ignore(uri):
        Referral.objects.filter(pk=referral.pk).update(referring_physician="Dr Unrecorded")
    assert not ReferralEvent.objects.filter(referring_physician="Dr Unrecorded").exists()
    (warning,) = [w for w in check_audit_trail_out_of_reach() if w.id == "screening.W002"]
    assert f"{pgid(uri)}()" in warning.msg

    call_command("migrate", verbosity=0)

    with pgtrigger.ignore(uri):
        Referral.objects.filter(pk=referral.pk).update(referring_physician="Dr Recorded")
    assert ReferralEvent.objects.filter(referring_physician="Dr Recorded").exists()
    assert "screening.W002" not in {w.id for w in check_audit_trail_out_of_reach()}


@pytest.mark.django_db(transaction=True)
def test_the_app_role_cannot_switch_the_audit_triggers_off(seeded, app_db):
    referral = create_referral()
    download = services.export_log_create(
        user=None, kind=ExportLog.Kind.SCREENING_LOG, file_format="csv", row_count=1
    )
    ignored = (
        "{" + ",".join(referral_triggers() + [pgid("screening.ExportLog:update_update")]) + "}"
    )

    with app_db, app_db.cursor() as cursor:
        cursor.execute("SET LOCAL pgtrigger.ignore = %s", [ignored])
        cursor.execute(
            "UPDATE screening_referral SET referring_physician = 'Dr Ignored' WHERE id = %s",
            [referral.pk],
        )
        cursor.execute(
            "UPDATE screening_exportlog SET outcome = 'delivered' WHERE id = %s", [download.pk]
        )

    assert ReferralEvent.objects.filter(pgh_obj=referral, referring_physician="Dr Ignored").exists()
    assert ExportLogEvent.objects.filter(pgh_obj=download, outcome="delivered").exists()


@pytest.mark.django_db(transaction=True)
def test_events_do_not_go_to_a_temporary_table_of_the_same_name(seeded, app_db):
    referral = create_referral()

    with app_db, app_db.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE screening_referralevent (LIKE screening_referral)")
        cursor.execute(
            "UPDATE screening_referral SET referring_physician = 'Dr Shadow' WHERE id = %s",
            [referral.pk],
        )

    assert ReferralEvent.objects.filter(pgh_obj=referral, referring_physician="Dr Shadow").exists()


# --- no audit row can be written, rewritten or removed by the app role ---

IGNORE_EXPORT_LOG_DELETE = (
    f"SET LOCAL pgtrigger.ignore = '{{{pgid('screening.ExportLog:delete_delete')}}}'; "
)
REFUSED = {
    "write an event": "INSERT INTO screening_referralevent DEFAULT VALUES",
    "write a context": "INSERT INTO pghistory_context (id, metadata, created_at, updated_at) "
    "VALUES (gen_random_uuid(), '{}', now(), now())",
    "rewrite a context": "UPDATE pghistory_context SET metadata = '{}'",
    "delete a context": "DELETE FROM pghistory_context",
    "rewrite an event": "UPDATE screening_referralevent SET pgh_label = 'tampered'",
    "delete an event": "DELETE FROM screening_exportlogevent",
    "delete a download record": IGNORE_EXPORT_LOG_DELETE + "DELETE FROM screening_exportlog",
    "empty the download records": "TRUNCATE screening_exportlog",
    "empty an audited table": "TRUNCATE screening_referral CASCADE",
    "change a record view": "UPDATE screening_recordview SET kind = 'history'",
    "delete a record view": "DELETE FROM screening_recordview",
    "disable the audit triggers": "ALTER TABLE screening_referral DISABLE TRIGGER ALL",
    "disable every trigger": "SET session_replication_role = replica",
    "add a trigger to an event table": "CREATE TRIGGER tamper BEFORE INSERT "
    "ON screening_referralevent FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()",
    "write events through an audit trigger function": (
        "CREATE TEMPORARY TABLE fabricated (LIKE screening_referral); "
        "CREATE TRIGGER fabricate AFTER INSERT ON fabricated FOR EACH ROW "
        f"EXECUTE FUNCTION {pgid('screening.Referral:insert_insert')}()"
    ),
    "create a table": "CREATE TABLE public.own_table (id integer)",
}


@pytest.mark.parametrize("statement", REFUSED.values(), ids=REFUSED.keys())
def test_the_app_role_is_refused(app_db, statement):
    with pytest.raises(psycopg2.errors.InsufficientPrivilege), app_db, app_db.cursor() as cursor:
        cursor.execute(statement)


@pytest.mark.django_db(transaction=True)
def test_a_recorded_request_path_cannot_be_rewritten_by_claiming_its_context(seeded, app_db):
    with pghistory.context(url="/referrals/new/"):
        referral = create_referral()
    context = Context.objects.get(
        pk=ReferralEvent.objects.filter(pgh_obj=referral)[0].pgh_context_id
    )

    with (
        pytest.raises(psycopg2.errors.RaiseException, match="recorded url cannot change"),
        app_db,
        app_db.cursor() as cursor,
    ):
        # What pghistory sends before each statement, naming the old context.
        cursor.execute(
            "SELECT set_config('pghistory.context_id', %s, true), "
            "set_config('pghistory.context_metadata', %s, true)",
            [str(context.pk), '{"url": "/somewhere/else/"}'],
        )
        cursor.execute(
            "UPDATE screening_referral SET referring_physician = 'Dr Sun' WHERE id = %s",
            [referral.pk],
        )

    context.refresh_from_db()
    assert context.metadata["url"] == "/referrals/new/"


# --- and does the app's work ---


@pytest.mark.django_db(transaction=True)
def test_the_app_role_writes_rows_and_each_change_is_recorded(seeded, app_db, data_manager):
    template = create_referral()
    columns = [f.column for f in Referral._meta.concrete_fields if not f.primary_key]
    copied = {
        "screening_number": "'S-99999'",
        "hospital_number": "'H-COPY'",
        "national_id": "''",
        "evaluation_id": "NULL",
        "status": "'screening'",
    }
    inserted = ", ".join(f'"{column}"' for column in columns)
    selected = ", ".join(copied.get(column, f'"{column}"') for column in columns)

    with app_db, app_db.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('pghistory.context_id', gen_random_uuid()::text, true), "
            "set_config('pghistory.context_metadata', %s, true)",
            [f'{{"user": {data_manager.pk}, "url": "/referrals/new/"}}'],
        )
        cursor.execute("SELECT nextval('screening_referral_number_seq')")
        cursor.execute(
            f"INSERT INTO screening_referral ({inserted}) "
            f"SELECT {selected} FROM screening_referral WHERE id = %s RETURNING id",
            [template.pk],
        )
        (new_id,) = cursor.fetchone()
        cursor.execute(
            "UPDATE screening_referral SET referring_physician = 'Dr Qian' WHERE id = %s", [new_id]
        )
        cursor.execute(
            "INSERT INTO screening_recordview (viewer_id, kind, referral_id, viewed_at) "
            "VALUES (%s, 'referral', %s, now())",
            [data_manager.pk, new_id],
        )

    events = ReferralEvent.objects.filter(pgh_obj_id=new_id).select_related("pgh_context")
    assert [(e.pgh_label, e.referring_physician) for e in events.order_by("pgh_id")] == [
        ("insert", template.referring_physician),
        ("update", "Dr Qian"),
    ]
    assert {e.pgh_context.metadata["user"] for e in events} == {data_manager.pk}
    assert RecordView.objects.filter(referral_id=new_id, viewer=data_manager).exists()


@pytest.fixture
def as_app_role(app_role, db):
    """The test's own connection acts as the app role until the test's transaction ends."""
    with connection.cursor() as cursor:
        cursor.execute(f'SET LOCAL ROLE "{app_role}"')


@pytest.mark.usefixtures("as_app_role")
def test_the_site_works_as_the_app_role(client_as, coordinator_wuwei, mdt_member):
    referral = create_referral(user=coordinator_wuwei, alt=30)
    services.referral_update(
        referral=referral,
        data={"alt": Decimal(45)},
        change_reason="Lab report re-read",
        user=coordinator_wuwei,
    )
    services.mdt_decision_record(
        referral=referral, user=mdt_member, decision="approve", rationale="Fit."
    )
    services.participant_enrol(
        referral=referral, user=coordinator_wuwei, consent_date=timezone.localdate()
    )
    download = services.export_log_create(
        user=coordinator_wuwei, kind=ExportLog.Kind.ENROLMENT, file_format="csv", row_count=1
    )
    ExportLog.objects.filter(pk=download.pk).update(outcome=ExportLog.Outcome.DELIVERED)
    RecordView.objects.create(viewer=coordinator_wuwei, kind=RecordView.Kind.HISTORY)

    history = client_as("coordinator_wuwei").get(
        reverse("referral_history", args=[referral.screening_number])
    )

    assert history.status_code == 200
    assert "changed ALT from 30 U/L to 45 U/L" in " ".join(history.content.decode().split())
    assert [event.pgh_label for event in ExportLogEvent.objects.order_by("pgh_id")] == [
        "insert",
        "update",
    ]
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] != connection.settings_dict["USER"]


# --- the deployment check ---


@pytest.mark.django_db
def test_deploy_check_warns_when_the_role_can_rewrite_the_audit_trail():
    # The suite's own role is a superuser: it may do anything.
    (warning,) = check_audit_trail_out_of_reach()

    assert warning.id == "screening.W001"
    assert "screening_referralevent (INSERT, UPDATE, DELETE, TRUNCATE, TRIGGER)" in warning.msg
    assert "pghistory_context (INSERT, UPDATE, DELETE, TRUNCATE, TRIGGER)" in warning.msg
    assert "screening_referral (TRUNCATE)" in warning.msg
    assert "manage.py grant_app_role" in warning.hint


@pytest.mark.usefixtures("as_app_role")
def test_deploy_check_is_quiet_for_the_app_role():
    assert check_audit_trail_out_of_reach() == []


@pytest.mark.django_db
def test_deploy_check_names_a_privilege_the_site_lacks(app_role):
    with connection.cursor() as cursor:
        cursor.execute(f'REVOKE INSERT ON screening_recordview FROM "{app_role}"')
        cursor.execute(f'SET LOCAL ROLE "{app_role}"')

    (warning,) = check_audit_trail_out_of_reach()

    assert warning.id == "screening.W003"
    assert "lacks privileges the site needs: screening_recordview (INSERT)." in warning.msg


def manage(*args: str, database_url: str) -> subprocess.CompletedProcess:
    """``manage.py`` with production settings, signed in to the database as ``database_url``."""
    environment = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "DATABASE_URL")}
    environment.update(
        SECRET_KEY="k" * 20 + "-a-long-random-looking-production-key-0123456789",
        ALLOWED_HOSTS="trialscreen.example.org",
        DATABASE_URL=database_url,
    )
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_deploy_check_says_when_it_cannot_ask_the_database():
    result = manage("check", "--deploy", database_url="postgres://nobody@127.0.0.1:1/none")

    assert "(screening.W004) Could not ask the database 'default' about its role" in result.stderr


@pytest.fixture
def deployment(django_db_setup):
    """A database of its own, owned by a role that is no superuser, and a role for the site: the
    names of the three, as docs/deploy.md creates them."""
    name = f"{connection.settings_dict['NAME']}_deploy"
    owner, app = f"{name}_owner", f"{name}_app"
    server = connect_as(connection.settings_dict["USER"], "postgres")
    server.autocommit = True

    def remove(cursor):
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        drop_role(cursor, owner)
        drop_role(cursor, app)

    with server.cursor() as cursor:
        remove(cursor)
        cursor.execute(f'CREATE ROLE "{owner}" LOGIN')
        cursor.execute(f'CREATE ROLE "{app}" LOGIN')
        cursor.execute(f'CREATE DATABASE "{name}" OWNER "{owner}"')
    yield name, owner, app
    with server.cursor() as cursor:
        remove(cursor)
    server.close()


def test_the_documented_deployment_needs_no_superuser(deployment):
    name, owner, app = deployment
    as_owner, as_app = database_url(owner, name), database_url(app, name)

    steps = [
        manage("migrate", "--noinput", database_url=as_owner),
        manage("grant_app_role", app, database_url=as_owner),
        check := manage("check", "--deploy", "--fail-level", "WARNING", database_url=as_app),
        manage("adduser", "li", "--role", "admin", database_url=as_app),
    ]

    assert [step.stderr for step in steps if step.returncode] == []
    assert "no issues" in check.stdout


# --- grant_app_role ---


def table_privileges(role: str) -> dict[str, set[str]]:
    """What ``role`` was granted on each table and sequence of the schema."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, array_agg(acl.privilege_type) FROM pg_class c, "
            "aclexplode(c.relacl) acl WHERE c.relnamespace = current_schema()::regnamespace "
            "AND acl.grantee = %s::regrole GROUP BY c.relname",
            [role],
        )
        return {name: set(privileges) for name, privileges in cursor.fetchall()}


def other_privileges(role: str) -> dict[str, set[str]]:
    """What ``role`` was granted on the database and the schema, and by default privileges."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 'database', array_agg(acl.privilege_type) FROM pg_database d, "
            "aclexplode(d.datacl) acl WHERE d.datname = current_database() "
            "AND acl.grantee = %(role)s::regrole "
            "UNION ALL SELECT 'schema', array_agg(acl.privilege_type) FROM pg_namespace n, "
            "aclexplode(n.nspacl) acl WHERE n.oid = current_schema()::regnamespace "
            "AND acl.grantee = %(role)s::regrole "
            "UNION ALL SELECT 'default', array_agg(acl.privilege_type) FROM pg_default_acl d, "
            "aclexplode(d.defaclacl) acl WHERE acl.grantee = %(role)s::regrole",
            {"role": role},
        )
        return {kind: set(privileges or ()) for kind, privileges in cursor.fetchall()}


@pytest.mark.django_db
def test_grant_app_role_gives_exactly_what_the_site_needs(app_role):
    granted = table_privileges(app_role)
    event_tables = [
        model._meta.db_table
        for model in apps.get_models()
        if issubclass(model, Event) and not model._meta.proxy
    ]

    assert {"screening_referralevent", "screening_signatureevent"} <= set(event_tables)
    for table in [*event_tables, "pghistory_context"]:
        assert granted[table] == {"SELECT"}, table
    assert granted["screening_recordview"] == {"SELECT", "INSERT"}
    assert granted["screening_exportlog"] == {"SELECT", "INSERT", "UPDATE"}
    for table in ("screening_referral", "screening_site_coordinators", "auth_user",
                  "django_session", "axes_accessattempt", "otp_totp_totpdevice"):  # fmt: skip
        assert granted[table] == ROW_PRIVILEGES, table
    assert granted["screening_referral_number_seq"] == {"USAGE", "SELECT"}
    assert "django_migrations" not in granted
    assert not any(name.endswith("event_pgh_id_seq") for name in granted)
    assert other_privileges(app_role) == {
        "database": {"CONNECT", "TEMPORARY"},
        "schema": {"USAGE"},
        "default": set(),
    }


@pytest.mark.django_db
def test_grant_app_role_takes_back_anything_more_and_may_run_again(app_role):
    before = (table_privileges(app_role), other_privileges(app_role))
    with connection.cursor() as cursor:
        for statement in (
            "GRANT ALL ON screening_referralevent, pghistory_context, screening_referral TO {}",
            "GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {}",
            "GRANT CREATE ON DATABASE {database} TO {}",
            "GRANT CREATE ON SCHEMA public TO {}",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO {}",
            "ALTER DEFAULT PRIVILEGES GRANT ALL ON SEQUENCES TO {}",
        ):
            cursor.execute(
                statement.format(f'"{app_role}"', database=connection.settings_dict["NAME"])
            )
    assert table_privileges(app_role)["screening_referralevent"] > {"SELECT"}

    for _ in range(2):
        call_command("grant_app_role", app_role, stdout=StringIO())

    assert (table_privileges(app_role), other_privileges(app_role)) == before


@pytest.mark.django_db
def test_grant_app_role_refuses_a_role_it_cannot_limit(app_role):
    runner = connection.settings_dict["USER"]
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{app_role}_deputy" IN ROLE "{runner}"')

    with pytest.raises(CommandError, match="no database role named 'nobody_here'"):
        call_command("grant_app_role", "nobody_here")
    with pytest.raises(CommandError, match="is a superuser"):
        call_command("grant_app_role", runner)
    with pytest.raises(CommandError, match="may act as, the role running this command"):
        call_command("grant_app_role", f"{app_role}_deputy")
