"""Deployment checks (``manage.py check --deploy``) of the database role the site signs in as."""

from django.core.checks import Tags, Warning, register
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

from screening import database_roles

GRANT_HINT = (
    "Let the site sign in as a role that owns nothing, given its privileges by "
    "`manage.py grant_app_role ROLE` (run as the owner role after every migrate; "
    "docs/deploy.md, section 2)."
)


def _listed(privileges: dict[str, list[str]]) -> str:
    return ", ".join(f"{table} ({', '.join(names)})" for table, names in privileges.items())


@register(Tags.security, Tags.database, deploy=True)
def check_audit_trail_out_of_reach(app_configs=None, databases=None, **kwargs):
    """Warn when the database role can rewrite the audit trail, when an audit trigger can be
    switched off, or when the role lacks a privilege the site needs.

    Asks the databases given with ``--database``, else the default one (a few catalogue
    queries each).
    """
    warnings = []
    for alias in databases or [DEFAULT_DB_ALIAS]:
        connection = connections[alias]
        if connection.vendor != "postgresql":
            continue
        try:
            warnings += _role_warnings(connection)
        except DatabaseError as error:
            warnings.append(
                Warning(
                    f"Could not ask the database {alias!r} about its role "
                    f"({type(error).__name__}).",
                    id="screening.W004",
                )
            )
    return warnings


def _role_warnings(connection) -> list[Warning]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        (role,) = cursor.fetchone()
    writes = database_roles.audit_write_privileges(connection)
    unsealed = [f.signature for f in database_roles.trigger_functions(connection) if not f.sealed]
    missing = database_roles.missing_app_privileges(connection)
    findings = (
        (
            writes,
            f"The database role {role!r} can rewrite the audit trail: {_listed(writes)}.",
            GRANT_HINT,
            "screening.W001",
        ),
        (
            unsealed,
            f"{len(unsealed)} audit trigger functions can be switched off with pgtrigger.ignore "
            f"or run with the rights of whoever writes: {', '.join(unsealed)}.",
            "Run `manage.py migrate` as the owner role: it seals them again.",
            "screening.W002",
        ),
        (
            missing,
            f"The database role {role!r} lacks privileges the site needs: {_listed(missing)}.",
            GRANT_HINT,
            "screening.W003",
        ),
    )
    return [Warning(text, hint=hint, id=code) for found, text, hint, code in findings if found]
