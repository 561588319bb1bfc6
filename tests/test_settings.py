"""Settings fail loudly and production settings pass Django's deployment checks."""

import datetime
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils import formats, translation

from tests.roles import database_url

ROOT = Path(__file__).resolve().parent.parent


def manage(*args, **env):
    environment = {
        k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG", "REQUIRE_2FA")
    }
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_startup_without_secret_key_fails_naming_it():
    result = manage("check")

    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_production_settings_pass_the_deployment_checks(app_role):
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING",
        SECRET_KEY="k" * 20 + "-a-long-random-looking-production-key-0123456789",
        ALLOWED_HOSTS="trialscreen.example.org",
        # The deployment checks ask the database about the role the site signs in as.
        DATABASE_URL=database_url(app_role),
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("environment", "required"),
    [({}, "True"), ({"DEBUG": "true"}, "False"), ({"REQUIRE_2FA": "false"}, "False")],
)
def test_the_second_factor_is_required_unless_debugging_or_turned_off(environment, required):
    result = manage(
        "shell",
        "--verbosity=0",
        "-c",
        "from django.conf import settings; print(settings.REQUIRE_2FA)",
        **{"SECRET_KEY": "test-only-not-secret", **environment},
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == required


@pytest.mark.django_db
def test_pages_carry_security_headers(client):
    response = client.get("/healthz")

    assert response.headers["X-Frame-Options"] == "DENY"
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_dates_read_yyyy_mm_dd_in_every_language(language):
    with translation.override(language):
        assert formats.date_format(datetime.date(2026, 2, 3)) == "2026-02-03"
        assert formats.date_format(datetime.datetime(2026, 2, 3, 9, 5), "DATETIME_FORMAT") == (
            "2026-02-03 09:05"
        )
