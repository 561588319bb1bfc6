"""Roles other than the suite's own on the test database's server (docs/deploy.md, section 2)."""

from urllib.parse import quote

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


def database_url(role: str, database: str | None = None) -> str:
    """``DATABASE_URL`` of ``role`` at ``database`` (the test database when not given)."""
    settings = connection.settings_dict
    host, port = settings["HOST"], settings["PORT"]
    socket = host.startswith("/")
    netloc = f"{quote(role)}@{'' if socket else host}{f':{port}' if port else ''}"
    query = f"?host={quote(host, safe='')}" if socket else ""
    return f"postgres://{netloc}/{quote(database or settings['NAME'])}{query}"


def drop_role(cursor, role: str) -> None:
    """Drop ``role`` if it exists, with its privileges in the cursor's database."""
    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
    if cursor.fetchone():
        # A role that holds privileges cannot be dropped.
        cursor.execute(f'DROP OWNED BY "{role}"')
        cursor.execute(f'DROP ROLE "{role}"')
