"""Roles other than the suite's own on the test database's server (docs/deploy.md, section 2)."""

import psycopg2
from django.db import connection


def connect_as(role: str, database: str | None = None):
    """A connection of ``role`` to ``database`` (the test database when not given)."""
    settings = connection.settings_dict
    return psycopg2.connect(
        dbname=database or settings["NAME"],
        user=role,
        password=settings["PASSWORD"] if role == settings["USER"] else None,
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
    )


def drop_role(cursor, role: str) -> None:
    """Drop ``role`` if it exists, with its privileges in the cursor's database."""
    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
    if cursor.fetchone():
        # A role that holds privileges cannot be dropped.
        cursor.execute(f'DROP OWNED BY "{role}"')
        cursor.execute(f'DROP ROLE "{role}"')
