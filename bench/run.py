"""``make bench`` / ``python -m bench``: seed, measure, print the table, write results.json."""

import argparse
import datetime
import json
import os
import platform
import secrets
import subprocess
import sys
import time
from pathlib import Path

import django

from bench import database, report, synthetic
from bench.server import Gunicorn

RESULTS = Path(__file__).resolve().parent / "results.json"
SMALL_N = 1_000


def _arguments(argv):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--n",
        type=int,
        default=int(os.environ.get("BENCH_N") or 100_000),
        help="referrals to seed (default: $BENCH_N or 100,000)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of every figure")
    parser.add_argument("--requests", type=int, default=50, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests per page first")
    parser.add_argument(
        "--import-rows", type=int, default=10_000, help="rows in the import file (10,000)"
    )
    parser.add_argument(
        "--fresh", action="store_true", help="seed again even if the bench database has N"
    )
    return parser.parse_args(argv)


def _environment() -> None:
    """Production-like settings for this process and its children; the key is throwaway."""
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(40))
    os.environ["DEBUG"] = "false"
    os.environ["ALLOWED_HOSTS"] = "127.0.0.1"
    os.environ["DJANGO_SETTINGS_MODULE"] = "trialscreen.settings"
    # The bench signs in by session cookie; a TOTP second step (docs/deploy.md) is not timed.
    os.environ["REQUIRE_2FA"] = "false"


def _job(url: str, *args: str) -> dict:
    """Run ``python -m bench.job args`` against ``url``; its progress goes to our stderr."""
    completed = subprocess.run(
        [sys.executable, "-m", "bench.job", *args],
        env={**os.environ, "DATABASE_URL": url},
        cwd=database.BASE_DIR,
        stdout=subprocess.PIPE,
        check=True,
        text=True,
    )
    return json.loads(completed.stdout.splitlines()[-1])


def prepare(url: str, n: int, *, fresh: bool) -> dict:
    """A migrated database holding ``n`` seeded referrals: reused when it already does."""
    name = database.database_name(url)
    if not fresh and database.seeded_referrals(url, synthetic.SEED_VERSION) == n:
        database.manage(url, "migrate", "--noinput", "-v0")
        print(f"reusing database {name}: {n:,} referrals seeded by an earlier run", file=sys.stderr)
        return {"database": name, "reused": True, "referrals": n}
    print(f"creating database {name} and seeding {n:,} referrals", file=sys.stderr)
    database.recreate(url)
    database.manage(url, "migrate", "--noinput", "-v0")
    return {"database": name, "reused": False, **_job(url, "seed", str(n))}


def _session_cookies(users: dict) -> dict:
    """A signed-in session cookie per role, made the way a login makes one."""
    from django.conf import settings
    from django.test import Client

    cookies = {}
    for role, user in users.items():
        client = Client()
        client.force_login(user)
        session = client.cookies[settings.SESSION_COOKIE_NAME].value
        cookies[role] = f"{settings.SESSION_COOKIE_NAME}={session}"
    return cookies


def main(argv=None) -> None:
    options = _arguments(argv)
    started = time.perf_counter()
    _environment()
    bench_url = database.database_url(database.BENCH_DATABASE)
    small_url = database.database_url(database.SMALL_DATABASE)
    seeding = {
        "small": prepare(small_url, SMALL_N, fresh=options.fresh),
        "bench": prepare(bench_url, options.n, fresh=options.fresh),
    }
    # DEBUG off serves hashed static file names from the collected manifest, as deployed.
    database.manage(bench_url, "collectstatic", "--noinput", "-v0")
    os.environ["DATABASE_URL"] = bench_url
    django.setup()
    from bench import measure, pages, seed, side_by_side, timing

    results = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "n": options.n,
        "repeat": options.repeat,
        "machine": _machine(),
        "seeding": seeding,
    }
    print("measuring rules.evaluate", file=sys.stderr)
    results["rules"] = measure.rules_speed(options.repeat)
    print("measuring import_referrals against COPY", file=sys.stderr)
    results["import"] = measure.import_speed(bench_url, options.repeat, options.import_rows)
    print("measuring import_referrals' memory on a 100,000-row file", file=sys.stderr)
    results["import_memory"] = measure.import_memory(
        lambda path: _job(bench_url, "import_memory", str(path))
    )
    print("counting the CONSORT boxes with nothing kept", file=sys.stderr)
    results["consort_counting"] = measure.consort_counting(options.repeat)
    print("timing the referral list beside the admin changelist", file=sys.stderr)
    results["list_against_admin"] = side_by_side.list_against_admin(options.repeat)
    print("starting gunicorn; timing pages and the export", file=sys.stderr)
    cookies = _session_cookies(seed.users())
    with Gunicorn(bench_url) as server:

        def html(page, path):
            return server.get(path, cookie=cookies.get(page.role, ""))[1].decode()

        concrete = pages.paths(html)
        results["pages"] = timing.time_pages(server, concrete, cookies, options)
        http_export = None
        if pages.exists(pages.EXPORT_PATH):

            def http_export():
                server.reset_peak_rss()
                began = time.perf_counter()
                status, size = server.get(
                    pages.EXPORT_PATH, cookie=cookies[pages.EXPORT.role], drain=True
                )
                seconds = time.perf_counter() - began
                if status != 200:
                    raise RuntimeError(f"{pages.EXPORT_PATH} answered {status}")
                return seconds, size, server.peak_rss_bytes()

        results["export"] = measure.export_speed(options.repeat, http_export)
    print("counting queries per page at 1,000 and N referrals", file=sys.stderr)
    results["queries"] = {"small": _job(small_url, "queries"), "bench": _job(bench_url, "queries")}
    results["wall_seconds"] = time.perf_counter() - started
    RESULTS.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    print(report.table(results))
    print(f"\nwrote {RESULTS.relative_to(database.BASE_DIR)}")


def _machine() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "postgresql": postgres,
        "platform": platform.platform(),
    }
