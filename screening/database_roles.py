"""The two PostgreSQL roles of docs/deploy.md, and the audit trail kept out of the app role's reach.

The owner role owns every table and runs ``migrate``; the app role, which the running site signs
in as, reads and writes rows (``manage.py grant_app_role``). pghistory's triggers write the
audit events. They are sealed here so that the app role can neither switch them off nor write
an event of its own:

- pgtrigger's generated trigger functions skip their work when the session setting
  ``pgtrigger.ignore`` names them, and any role may set that. A sealed function has no such
  check.
- A sealed function runs with its owner's rights (``SECURITY DEFINER``), so the app role needs
  no write privilege on the event tables or on pghistory's context table; its ``search_path``
  is fixed to the table's schema with ``pg_temp`` last, so a temporary table of the same name
  cannot receive the events.
- Nobody but the owner may ``EXECUTE`` it, so it cannot be attached to a temporary table of the
  app role's own to write events of its making (PostgreSQL checks that privilege when a trigger
  is created, not each time it fires).

pgtrigger writes the functions again whenever a migration adds or changes a trigger, so
``seal_audit_triggers`` runs after every ``migrate`` (``ScreeningConfig.ready``).
"""

import re
from dataclasses import dataclass

import pghistory.models
from django.apps import apps
from django.db import transaction

# The check at the top of every function of pgtrigger's trigger template (its "v1", which
# pgtrigger keeps unchanged for the sake of old migrations).
IGNORE_CHECK = re.compile(
    r"IF \([^()\s]*_pgtrigger_should_ignore\(TG_NAME\) IS TRUE\) THEN\s+"
    r"IF \(TG_OP = 'DELETE'\) THEN\s+RETURN OLD;\s+ELSE\s+RETURN NEW;\s+END IF;\s+END IF;"
)

# Functions of the triggers pgtrigger installed, and whether each is sealed already.
_TRIGGER_FUNCTIONS = r"""
SELECT DISTINCT
    p.oid::regprocedure::text,
    n.nspname,
    p.prosrc,
    p.prosecdef
        AND p.proconfig IS NOT DISTINCT FROM
            ARRAY['search_path=' || quote_ident(n.nspname) || ', pg_temp']
        AND strpos(p.prosrc, '_pgtrigger_should_ignore') = 0
        AND NOT has_function_privilege('public', p.oid, 'EXECUTE')
FROM pg_trigger t
JOIN pg_proc p ON p.oid = t.tgfoid
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT t.tgisinternal AND t.tgname LIKE 'pgtrigger\_%'
ORDER BY 1
"""

ROW_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")
# Records in themselves: a view of identified data is written once; a download is recorded
# before it starts and marked delivered or failed, and neither is ever removed.
FEWER_PRIVILEGES = {
    "screening_recordview": ("SELECT", "INSERT"),
    "screening_exportlog": ("SELECT", "INSERT", "UPDATE"),
}
# Privileges that would let a role rewrite the audit trail, on the audit tables themselves and
# on the audited ones (TRUNCATE fires no row trigger, so it would remove rows unrecorded).
AUDIT_TABLE_WRITES = ("INSERT", "UPDATE", "DELETE", "TRUNCATE", "TRIGGER")
AUDITED_TABLE_WRITES = ("TRUNCATE",)


@dataclass(frozen=True)
class TriggerFunction:
    signature: str  # as regprocedure prints it, e.g. pgtrigger_update_update_c684c()
    schema: str  # of the trigger's table
    source: str
    sealed: bool


def trigger_functions(connection) -> list[TriggerFunction]:
    """The functions of pgtrigger's triggers in the database (one query)."""
    with connection.cursor() as cursor:
        cursor.execute(_TRIGGER_FUNCTIONS)
        return [TriggerFunction(*row) for row in cursor.fetchall()]


def seal_audit_triggers(connection) -> list[str]:
    """Seal every function of pgtrigger's triggers that is not sealed yet (see the module's
    docstring); return their signatures.

    Must run as the functions' owner (the role that migrates). One query when all are sealed.
    Raises ``RuntimeError`` when a function's ``pgtrigger.ignore`` check is not the one this
    module knows how to remove, rather than leave it in place unnoticed.
    """
    unsealed = [function for function in trigger_functions(connection) if not function.sealed]
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        for function in unsealed:
            body = IGNORE_CHECK.sub("", function.source, count=1)
            if "_pgtrigger_should_ignore" in body:
                raise RuntimeError(
                    f"{function.signature} checks pgtrigger.ignore in a way "
                    "screening/database_roles.py does not recognise; update IGNORE_CHECK"
                )
            cursor.execute("SELECT quote_ident(%s), quote_literal(%s)", [function.schema, body])
            schema, quoted_body = cursor.fetchone()
            # Replacing a function keeps its owner and privileges.
            cursor.execute(
                f"CREATE OR REPLACE FUNCTION {function.signature} RETURNS trigger "
                f"LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_temp "
                f"AS {quoted_body}"
            )
            cursor.execute(f"REVOKE ALL ON FUNCTION {function.signature} FROM PUBLIC")
    return [function.signature for function in unsealed]


def _concrete_models():
    for model in apps.get_models(include_auto_created=True):
        if model._meta.managed and not model._meta.proxy:
            yield model


def audit_tables() -> list[str]:
    """pghistory's event tables and its context table."""
    return sorted(
        model._meta.db_table
        for model in _concrete_models()
        if issubclass(model, (pghistory.models.Event, pghistory.models.Context))
    )


def audited_tables() -> list[str]:
    """The tables whose changes pghistory records."""
    return sorted(
        {
            model.pgh_tracked_model._meta.db_table
            for model in _concrete_models()
            if issubclass(model, pghistory.models.Event)
        }
    )


def app_privileges(connection) -> dict[str, tuple[str, ...]]:
    """The privileges the app role needs on each table of the installed apps that exists in
    the database: row privileges on its own tables, only SELECT on the audit tables (their
    rows are written by the sealed triggers). One query."""
    existing = set(connection.introspection.table_names())
    audit = set(audit_tables())
    privileges = {}
    for model in _concrete_models():
        table = model._meta.db_table
        if table not in existing:
            continue
        if table in audit:
            privileges[table] = ("SELECT",)
        else:
            privileges[table] = FEWER_PRIVILEGES.get(table, ROW_PRIVILEGES)
    return dict(sorted(privileges.items()))


def app_sequences(connection, privileges: dict[str, tuple[str, ...]]) -> list[str]:
    """Sequences of the current schema the app role draws numbers from: those of tables it
    inserts into, and the ones no table owns (such as the screening-number sequence)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT s.relname, t.relname
            FROM pg_class s
            LEFT JOIN pg_depend d
                ON d.classid = 'pg_class'::regclass AND d.objid = s.oid
                AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
            LEFT JOIN pg_class t ON t.oid = d.refobjid
            WHERE s.relkind = 'S' AND s.relnamespace = current_schema()::regnamespace
            ORDER BY 1
            """
        )
        return [
            sequence
            for sequence, table in cursor.fetchall()
            if table is None or "INSERT" in privileges.get(table, ())
        ]


def _privileges_held(connection, wanted: dict[str, tuple[str, ...]]) -> dict[str, list[str]]:
    """Of ``wanted`` (table: privileges), those the connected role holds (one query)."""
    pairs = [(table, privilege) for table, privileges in wanted.items() for privilege in privileges]
    if not pairs:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT wanted.name, wanted.privilege "
            "FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS wanted(name, privilege, n) "
            "WHERE has_table_privilege(quote_ident(wanted.name), wanted.privilege) "
            "ORDER BY wanted.n",
            [[table for table, _ in pairs], [privilege for _, privilege in pairs]],
        )
        held = {}
        for table, privilege in cursor.fetchall():
            held.setdefault(table, []).append(privilege)
    return held


def audit_write_privileges(connection) -> dict[str, list[str]]:
    """Privileges the connected role holds that would let it rewrite the audit trail (one
    query after the table list)."""
    existing = set(connection.introspection.table_names())
    wanted = {table: AUDIT_TABLE_WRITES for table in audit_tables() if table in existing}
    wanted |= {table: AUDITED_TABLE_WRITES for table in audited_tables() if table in existing}
    return _privileges_held(connection, wanted)


def missing_app_privileges(connection) -> dict[str, list[str]]:
    """Privileges the app needs (``app_privileges``) that the connected role lacks."""
    needed = app_privileges(connection)
    held = _privileges_held(connection, needed)
    missing = {
        table: [privilege for privilege in privileges if privilege not in held.get(table, [])]
        for table, privileges in needed.items()
    }
    return {table: privileges for table, privileges in missing.items() if privileges}
