from itertools import groupby

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from screening import database_roles


class Command(BaseCommand):
    help = (
        "Give an existing PostgreSQL role what the running site needs and nothing more: connect "
        "and temporary tables, rows of the app's tables, the audit tables read-only. Takes away "
        "any other privilege the role had. Run as the owner role after every migrate."
    )

    def add_arguments(self, parser):
        parser.add_argument("role", help="the role the site signs in as, e.g. trialscreen_app")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS, help="database alias")

    def handle(self, *args, role, database, **options):
        connection = connections[database]
        if connection.vendor != "postgresql":
            raise CommandError("grant_app_role needs PostgreSQL")
        with transaction.atomic(using=database), connection.cursor() as cursor:
            grantee = self._grantee(cursor, role)
            privileges = database_roles.app_privileges(connection)
            self._require_ownership(cursor, privileges)
            # The role may write no audit event itself, so the triggers must write with the
            # owner's rights before the role loses its old privileges.
            sealed = database_roles.seal_audit_triggers(connection)
            sequences = database_roles.app_sequences(connection, privileges)
            cursor.execute("SELECT quote_ident(current_database()), quote_ident(current_schema())")
            database_name, schema = cursor.fetchone()

            for statement in (
                f"REVOKE ALL ON DATABASE {database_name} FROM {grantee}",
                f"GRANT CONNECT, TEMPORARY ON DATABASE {database_name} TO {grantee}",
                f"REVOKE ALL ON SCHEMA {schema} FROM {grantee}",
                f"GRANT USAGE ON SCHEMA {schema} TO {grantee}",
                f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {grantee}",
                f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {grantee}",
                f"REVOKE ALL ON ALL ROUTINES IN SCHEMA {schema} FROM {grantee}",
                # Tables a later migration creates get no privilege until this runs again.
                *(
                    f"ALTER DEFAULT PRIVILEGES{scope} REVOKE ALL ON {kind} FROM {grantee}"
                    for scope in ("", f" IN SCHEMA {schema}")
                    for kind in ("TABLES", "SEQUENCES", "ROUTINES")
                ),
            ):
                cursor.execute(statement)

            by_privileges = sorted(privileges.items(), key=lambda item: item[1])
            for granted, tables in groupby(by_privileges, key=lambda item: item[1]):
                names = _quoted(cursor, [table for table, _ in tables])
                cursor.execute(f"GRANT {', '.join(granted)} ON TABLE {names} TO {grantee}")
            if sequences:
                names = _quoted(cursor, sequences)
                cursor.execute(f"GRANT USAGE, SELECT ON SEQUENCE {names} TO {grantee}")

        self._report(role, privileges, sequences, sealed, options["verbosity"])

    def _grantee(self, cursor, role: str) -> str:
        """The role's name quoted for SQL, once it is known to be one the grants can limit."""
        cursor.execute(
            "SELECT quote_ident(rolname), rolsuper, pg_has_role(rolname, current_user, 'MEMBER') "
            "FROM pg_roles WHERE rolname = %s",
            [role],
        )
        row = cursor.fetchone()
        if row is None:
            raise CommandError(f"no database role named {role!r}; create it first")
        grantee, superuser, owner_rights = row
        if superuser:
            raise CommandError(f"{role!r} is a superuser, whom no privilege limits")
        if owner_rights:
            raise CommandError(
                f"{role!r} is, or may act as, the role running this command, which owns the "
                "tables; the site's role must own nothing"
            )
        return grantee

    def _require_ownership(self, cursor, privileges):
        # A GRANT on someone else's table only warns and grants nothing.
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relname = ANY(%s) "
            "AND relnamespace = current_schema()::regnamespace "
            "AND NOT pg_has_role(current_user, relowner, 'USAGE') ORDER BY 1",
            [list(privileges)],
        )
        foreign = [name for (name,) in cursor.fetchall()]
        if foreign:
            raise CommandError(
                "run this as the role that owns the tables (the one that ran migrate); "
                f"not owned: {', '.join(foreign)}"
            )

    def _report(self, role, privileges, sequences, sealed, verbosity):
        if sealed:
            self.stdout.write(f"Sealed {len(sealed)} audit trigger functions.")
        self.stdout.write(f"{role} may connect, create temporary tables, use the schema, and:")
        by_privileges = sorted(privileges.items(), key=lambda item: (-len(item[1]), item[1]))
        for granted, tables in groupby(by_privileges, key=lambda item: item[1]):
            names = [table for table, _ in tables]
            listed = len(names) == 1 or verbosity >= 2
            tables_text = ", ".join(names) if listed else f"{len(names)} tables"
            self.stdout.write(f"  {', '.join(granted)} on {tables_text}")
        self.stdout.write(f"  USAGE, SELECT on {len(sequences)} sequences")


def _quoted(cursor, names: list[str]) -> str:
    """``names`` as a comma-separated list of SQL identifiers."""
    cursor.execute(
        "SELECT string_agg(quote_ident(name), ', ' ORDER BY n) "
        "FROM unnest(%s::text[]) WITH ORDINALITY AS names(name, n)",
        [names],
    )
    return cursor.fetchone()[0]
