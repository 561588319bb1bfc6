"""Browser fixtures: Debian's Chromium driven by Playwright against pytest-django's live server.

``playwright install`` cannot download browsers here, so the system Chromium is launched by
path. Without it the journeys are skipped with the command that installs it, except in CI
(``CI=true``), where a missing browser fails the run instead of passing it silently.
"""

import os
import re
import shutil
from pathlib import Path

import pytest
from django.db import connections
from django.test import override_settings
from playwright.sync_api import sync_playwright

from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parent.parent.parent
SCREENSHOTS = ROOT / "e2e-screenshots"
AXE = ROOT / "static" / "vendor" / "axe-core" / "axe.min.js"
DASHBOARD = re.compile(r"^http://[^/]+/$")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(autouse=True)
def journey_data(seeded):
    """The live server reads committed data, so every journey starts from migration 0002's
    sites, protocol version and role groups (see ``seeded``)."""


@pytest.fixture(scope="session")
def plain_http_live_server():
    """The live server speaks plain HTTP. Its middleware reads SECURE_SSL_REDIRECT once, when
    the server starts, so the per-test override in tests/conftest.py comes too late for it."""
    with override_settings(SECURE_SSL_REDIRECT=False):
        yield


@pytest.fixture(scope="session")
def live_server(plain_http_live_server, live_server):
    return live_server


def _chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture
def browser():
    """A Chromium for one test. Playwright's sync API keeps an event loop running in this
    thread for as long as it is started, and with it Django treats the thread as async code:
    the ORM refuses to run and hands out separate database connections. So the browser lives
    only as long as a test, and those connections are closed before it goes."""
    executable = _chromium_path()
    if executable is None:
        message = "Chromium not found: install it with `apt-get install -y chromium`"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
        connections.close_all()


@pytest.fixture
def new_page(browser, live_server):
    """``new_page()`` opens a fresh browser session (its own cookies) on the live server.

    Every page must run without a JavaScript error or a Content-Security-Policy refusal:
    those are collected and checked when the test ends.
    """
    contexts, problems = [], []

    def record(page, message):
        source = message.location.get("url", "")
        # Browsers ask every site for /favicon.ico; TrialScreen has none, which is not an error.
        if message.type == "error" and not source.endswith("/favicon.ico"):
            problems.append(f"{page.url}: {message.text} {source}")

    def open_page(locale="en-GB"):
        context = browser.new_context(
            base_url=live_server.url,
            locale=locale,
            viewport={"width": 1280, "height": 900},
            accept_downloads=True,
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))
        page.on("console", lambda message: record(page, message))

        return page

    yield open_page
    for context in contexts:
        context.close()
    assert problems == [], "errors in the browser console"


def sign_in(page, username: str, password: str = PASSWORD) -> None:
    """Sign in through the login form, as a person would, and land on the dashboard."""
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(DASHBOARD)


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def serious_accessibility_violations(page) -> list[str]:
    """axe-core's serious and critical violations on the current page (WCAG 2 A and AA).

    The script is evaluated through the DevTools protocol rather than added as a <script>
    element, which the page's Content-Security-Policy would rightly refuse.
    """
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    results = page.evaluate(
        """() => axe.run(document, {
            runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
            resultTypes: ["violations"],
        })"""
    )
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} -> "
        + "; ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
        for violation in results["violations"]
        if violation["impact"] in {"serious", "critical"}
    ]


def printed_pages(page, name: str) -> int:
    """Print the current page to A4 as Chromium's print dialogue would; the PDF is kept beside
    the screenshots and the number of its pages returned."""
    SCREENSHOTS.mkdir(exist_ok=True)
    pdf = page.pdf(path=SCREENSHOTS / f"{name}.pdf", format="A4", prefer_css_page_size=True)
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf))
