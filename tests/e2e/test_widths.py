"""Every page each role may open, on a phone (390 px), a tablet (768 px) and a desktop (1280 px),
in English and Chinese, with data on it: the page itself never scrolls sideways (a wide table
may scroll inside its own ``.table-responsive`` box), no button of the content lies beyond the
window's edges, nothing is cut off unseen, no Chinese text is set one character a line, and on
a phone or tablet the collapsed navigation opens with every item in reach.

The pages come from ``PAGES``; ``test_every_page_a_role_may_open_is_swept`` holds them against
the access specification (tests/test_access_sweep.py), so a new page a role may open cannot be
left out. A screenshot of every page, width and language is written to
e2e-screenshots/widths/ for a person to look at: overlapping text, a cramped layout or a button
out of a thumb's reach break none of the checks, and only eyes find them.
"""

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.urls import Resolver404, resolve
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from screening import amendments, notifications, services
from screening.models import ProtocolVersion, Referral
from screening.views import mdt, referrals, reports
from screening.views import notifications as notification_views
from tests.e2e.conftest import SCREENSHOTS, serious_accessibility_violations
from tests.factories import PASSWORD, UserFactory, create_referral, create_referrals
from tests.test_access_sweep import ADMIN, SWEEP

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

Status = Referral.Status

WIDTHS = (390, 768, 1280)
LANGUAGES = ("en", "zh-hans")
SHOTS = SCREENSHOTS / "widths"
# Short pages, so that a handful of rows shows the pagination.
PAGE_SIZE = 4
# Pages whose tables become cards on a phone or tablet, checked there with axe-core too.
CARDS = {"list", "queue", "referral-long", "decision"}
LONG_NAME = "爱新觉罗·欧阳司马诸葛上官慕容端木皇甫令狐长孙"
# Unbroken, as some hospitals write them: it must wrap, not widen the page.
LONG_HOSPITAL_NUMBER = "WUWEITHORACICONCOLOGY20250000000000123456"
LONG_PHYSICIAN = "Professor Zhang Wei-Ming, Department of Thoracic Surgery, Wuwei People's Hospital"
LONG_RATIONALE = (
    "cT3N1M0 squamous cell carcinoma of the middle third; fit for the carbon-ion boost after "
    "the photon course, provided the dosimetry keeps the lung V20 below the protocol's limit. "
    "Discussed with radiation oncology, thoracic surgery, medical oncology and radiology."
)


@dataclass(frozen=True)
class Page:
    """A page as a role opens it. ``path`` names referrals by their key in ``referrals_made``
    (``{approved}``) and the latest protocol version as ``{protocol}``; ``opened_by`` gets
    there instead when the page is the answer to a form (``path`` is then where it starts)."""

    name: str
    path: str
    status: int = 200
    opened_by: Callable[..., None] | None = None

    def address(self, numbers: dict) -> str:
        return self.path.format(**numbers)


def post_without_csrf_token(page) -> None:
    page.locator("#id_username").fill("coord-wuwei")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main input[name=csrfmiddlewaretoken]").evaluate("input => input.remove()")
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()


def fail_to_sign_in(page) -> None:
    """Wrong passwords until django-axes locks the username out (its page has no form)."""
    while page.locator("#id_password").count():
        page.locator("#id_username").fill("locked-out")
        page.locator("#id_password").fill("wrong password")
        with page.expect_navigation():
            page.locator("main form button[type=submit]").click()


DETAIL = "/referrals/{%s}/"
EVERY_STATUS = (
    "screening",
    "screen_failed",
    "review",
    "long",
    "approved",
    "rejected",
    "enrolled",
    "withdrawn",
    "voided",
)
COORDINATOR = (
    Page("dashboard", "/"),
    Page("list", "/referrals/"),
    Page("list-filtered", "/referrals/?status=mdt_review&q=%E6%AC%A7%E9%98%B3"),
    Page("list-page-2", "/referrals/?page=2"),
    Page("new", "/referrals/new/"),
    *(Page(f"referral-{key}", DETAIL % key) for key in EVERY_STATUS),
    Page("edit", "/referrals/{long}/edit/"),
    Page("edit-approved", "/referrals/{approved}/edit/"),
    Page("withdraw", "/referrals/{long}/withdraw/"),
    Page("history", "/referrals/{voided}/history/"),
    Page("history-enrolled", "/referrals/{enrolled}/history/"),
    Page("enrol", "/referrals/{approved}/enrol/"),
    Page("labs", "/referrals/{long}/labs/"),
    Page("import", "/imports/"),
    Page("notifications", "/notifications/"),
    Page("two-step-setup", "/accounts/two-step/setup/"),
    Page("sign-in-as-another", "/accounts/login/?next=/reports/audit/"),
    Page("403", "/mdt/", status=403),
    Page("404", "/referrals/S-99999/", status=404),
)
MDT = (
    Page("dashboard", "/"),
    Page("list", "/referrals/"),
    Page("referral-long", DETAIL % "long"),
    Page("referral-voided", DETAIL % "voided"),
    Page("referral-approved", DETAIL % "approved"),
    Page("history", "/referrals/{voided}/history/"),
    Page("queue", "/mdt/"),
    Page("queue-page-2", "/mdt/?page=2"),
    Page("packet", "/mdt/packet/?sn={long}&sn={voided}"),
    Page("packet-whole-queue", "/mdt/packet/"),
    Page("decision", "/referrals/{long}/decision/"),
    Page("decision-voided-before", "/referrals/{voided}/decision/"),
    Page("void", "/referrals/{approved}/decision/"),
    Page("consort", "/reports/consort/"),
    Page("consort-lanzhou", "/reports/consort/?site=lanzhou"),
    Page("notifications", "/notifications/"),
    Page("two-step-setup", "/accounts/two-step/setup/"),
    Page("sign-in-as-another", "/accounts/login/?next=/reports/audit/"),
    Page("403", "/referrals/new/", status=403),
    Page("404", "/nowhere/", status=404),
)
DATA_MANAGER = (
    Page("dashboard", "/"),
    Page("list", "/referrals/"),
    Page("new", "/referrals/new/"),
    Page("referral-long", DETAIL % "long"),
    Page("referral-enrolled", DETAIL % "enrolled"),
    Page("edit", "/referrals/{review}/edit/"),
    Page("withdraw", "/referrals/{review}/withdraw/"),
    Page("history", "/referrals/{approved}/history/"),
    Page("enrol", "/referrals/{approved}/enrol/"),
    Page("labs", "/referrals/{review}/labs/"),
    Page("import", "/imports/"),
    Page("queue", "/mdt/"),
    Page("packet", "/mdt/packet/?sn={long}"),
    Page("exports", "/exports/"),
    Page("exports-filtered", "/exports/?site=wuwei&referred_from=2020-01-01"),
    Page("consort", "/reports/consort/"),
    Page("audit", "/reports/audit/"),
    Page("audit-filtered", "/reports/audit/?kind=change"),
    Page("notifications", "/notifications/"),
    Page("two-step-setup", "/accounts/two-step/setup/"),
    Page("sign-in-as-another", "/accounts/login/?next=/reports/audit/"),
    Page("403", "/referrals/{review}/decision/", status=403),
    Page("admin", "/admin/"),
    Page("admin-referrals", "/admin/screening/referral/"),
    Page("admin-referral", "/admin/screening/referral/{long_pk}/change/"),
    Page("admin-protocol-versions", "/admin/screening/protocolversion/"),
    Page("admin-amendment", "/admin/screening/protocolversion/add/"),
    Page("admin-outcome-changes", "/admin/screening/protocolversion/{protocol}/outcome-changes/"),
    Page("admin-audit-events", "/admin/pghistory/middlewareevents/"),
    Page("admin-authenticators", "/admin/otp_totp/totpdevice/"),
    Page("admin-resets", "/admin/otp_totp/totpdevice/resets/"),
)
ANONYMOUS = (
    Page("sign-in", "/accounts/login/"),
    Page("404", "/nowhere/", status=404),
    Page("403-csrf", "/accounts/login/", opened_by=post_without_csrf_token),
    Page("locked-out", "/accounts/login/", opened_by=fail_to_sign_in),
)
# A coordinator with an authenticator, signed in with the password: the code is asked next.
TWO_STEP = (Page("two-step-verify", "/accounts/two-step/verify/"),)
# Role -> the username signed in and the pages opened.
PAGES = {
    "anonymous": (None, ANONYMOUS),
    "coordinator_wuwei": ("coord-wuwei", COORDINATOR),
    "mdt": ("mdt-member", MDT),
    "data_manager": ("data-manager", DATA_MANAGER),
    "two_step": ("coord-two-step", TWO_STEP),
}
# Files, not pages: no layout to fit.
FILES = {"healthz", "reports/consort.svg", "reports/consort.png"} | {
    pattern for pattern in SWEEP if pattern.startswith("exports/") and pattern != "exports/"
}


def route(path: str) -> str | None:
    """The URL pattern a page's address resolves to, as SWEEP names it."""
    try:
        return resolve(path.split("?")[0]).route
    except Resolver404:
        return None


def test_every_page_a_role_may_open_is_swept():
    """Every pattern a role of the cast gets 200 on with a GET is among that role's pages
    (the Lanzhou coordinator's are the Wuwei coordinator's), and so is every admin page a
    data manager opens."""
    dummy = dict.fromkeys([*EVERY_STATUS, "long_pk", "protocol"], "1")
    dummy.update(dict.fromkeys(EVERY_STATUS, "S-00001"))
    for role in ("anonymous", "coordinator_wuwei", "mdt", "data_manager"):
        _username, pages = PAGES[role]
        swept = {route(page.address(dummy)) for page in pages}
        may_open = {
            pattern
            for pattern, rows in SWEEP.items()
            if pattern not in FILES
            and any(row.method == "GET" and row.expected[role] == 200 for row in rows)
        }
        assert may_open - swept == set(), f"{role} may open these pages: add them to PAGES"
    admin_pages = {page.path for page in DATA_MANAGER if page.path.startswith("/admin/")}
    admin_pages = {path.replace("{long_pk}", "{pk}") for path in admin_pages}
    opened = {path for path, expected in ADMIN.items() if expected["data_manager"] == 200}
    assert opened - admin_pages == set(), "add these admin pages to DATA_MANAGER"


def referrals_made() -> dict[str, str]:
    """A referral in every status, one with a long Chinese name and a long hospital number,
    one whose approval was voided, enough in review for a second page, and the notifications,
    audit entries and protocol amendment that follow; the screening number of each by key."""
    coordinator = UserFactory(username="coord-wuwei", role="coordinator", site_codes=["wuwei"])
    UserFactory(username="coord-lanzhou", role="coordinator", site_codes=["lanzhou"])
    mdt_member = UserFactory(username="mdt-member", role="mdt", first_name="明", last_name="李")
    manager = UserFactory(username="data-manager", role="admin")
    two_step = UserFactory(username="coord-two-step", role="coordinator", site_codes=["wuwei"])
    TOTPDevice.objects.create(user=two_step, name="phone", confirmed=True)

    def made(number: int, status: str | None = None, **overrides) -> Referral:
        return create_referral(user=coordinator, number=number, status=status, **overrides)

    long = made(
        1,
        full_name=LONG_NAME,
        hospital_number=LONG_HOSPITAL_NUMBER,
        referring_physician=LONG_PHYSICIAN,
    )
    made_by_key = {
        "screening": made(2, cn="NX"),
        "screen_failed": made(3, cm="M1"),
        "review": made(4),
        "long": long,
        "approved": made(5, Status.MDT_APPROVED),
        "rejected": made(6),
        "enrolled": made(7, Status.ENROLLED),
        "withdrawn": made(8, Status.WITHDRAWN),
        "voided": made(9, Status.MDT_APPROVED),
    }
    create_referrals(6, user=coordinator, number=20)
    # The same name and birth date at another site: a possible duplicate.
    create_referral(
        site="lanzhou",
        number=40,
        full_name=LONG_NAME,
        date_of_birth=long.date_of_birth.isoformat(),
        sex=long.sex,
    )
    voided = made_by_key["voided"]
    services.mdt_decision_void(
        referral=voided, user=mdt_member, reason="Approved before the PET-CT was read."
    )
    services.referral_update(
        referral=made_by_key["approved"],
        data={"referring_physician": LONG_PHYSICIAN},
        change_reason="The referring physician's full name and department, as on the letter.",
        user=coordinator,
    )
    services.mdt_decision_record(
        referral=made_by_key["rejected"],
        user=mdt_member,
        decision="reject",
        rationale=LONG_RATIONALE,
        reason_code="other",
        attendees="Li Ming (radiation oncology), Zhou Wei (surgery), Wang Fang (radiology)",
    )
    notifications.reminders_send(today=timezone.localdate() + datetime.timedelta(days=30))
    current = ProtocolVersion.current()
    protocol, _changes = amendments.protocol_amend(
        user=manager,
        **{
            **{name: getattr(current, name) for name in amendments.AMENDABLE_FIELDS},
            "note": "Amendment 1: upper age raised to 75.",
            "age_max": 75,
        },
    )
    numbers = {key: referral.screening_number for key, referral in made_by_key.items()}
    return {**numbers, "long_pk": str(long.pk), "protocol": str(protocol.pk)}


# Elements wider than the window, outside any box that scrolls sideways: what a failure names.
OVERFLOWING = """() => {
  const width = window.innerWidth;
  const scrolls = (element) => {
    for (let box = element.parentElement; box; box = box.parentElement) {
      const overflow = getComputedStyle(box).overflowX;
      if (overflow === "auto" || overflow === "scroll" || overflow === "hidden") return true;
    }
    return false;
  };
  const names = [];
  for (const element of document.body.querySelectorAll("*")) {
    const box = element.getBoundingClientRect();
    if (box.width && box.right > width + 0.5 && !scrolls(element)) {
      const classes = [...element.classList].slice(0, 2).map((name) => "." + name).join("");
      names.push(`${element.tagName.toLowerCase()}${classes} (${Math.round(box.right)} px)`);
    }
  }
  return names.slice(-4);
}"""


# Buttons of the page's content that start or end beyond the window's edges, inside a box
# that scrolls sideways or not (the MDT queue's Decide buttons once hid there).
BUTTONS_OUT_OF_VIEW = """() => [...document.querySelectorAll("main .btn")]
  .filter((button) => {
    const box = button.getBoundingClientRect();
    return box.width && (box.left < 0 || box.right > window.innerWidth + 0.5);
  })
  .map((button) => button.textContent.trim())"""


# Boxes that hide what overflows them while something does: text cut off, unseen. (A form
# field scrolls its own text.)
CUT_OFF = """() => [...document.querySelectorAll("body :not(input, textarea, select)")]
  .filter((element) => {
    const overflow = getComputedStyle(element).overflowX;
    return (overflow === "hidden" || overflow === "clip") && element.clientWidth > 1
      && element.scrollWidth > element.clientWidth + 1;
  })
  .map((element) => `${element.tagName.toLowerCase()}.${[...element.classList].join(".")}`)"""


# Chinese text set one character a line, as a narrow column does: each line of the text is
# narrower than two characters and starts where the others do (running text may break a word
# at a line's end). Visually hidden text (1 px wide, for screen readers) is not set.
ONE_CHARACTER_A_LINE = """() => {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  const found = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim();
    const element = node.parentElement;
    if ((text.match(/[\u3400-\u9fff]/g) || []).length < 2) continue;
    if (element.closest(".visually-hidden, .visually-hidden-focusable, svg")) continue;
    range.selectNodeContents(node);
    const lines = [...range.getClientRects()].filter((line) => line.width > 0);
    const size = parseFloat(getComputedStyle(element).fontSize);
    const narrow = Math.max(...lines.map((line) => line.width)) < 1.6 * size;
    const column = lines.every((line) => Math.abs(line.left - lines[0].left) < size);
    if (lines.length > 1 && narrow && column) {
      found.push(text);
    }
  }
  return found;
}"""


def overflow(page) -> str | None:
    """How far the page scrolls sideways and what sticks out, or None when it fits."""
    sideways = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    if sideways <= 0:
        return None
    return f"{sideways} px: {', '.join(page.evaluate(OVERFLOWING))}"


def faults(page) -> list[str]:
    """What is wrong with the page at the window's present width."""
    found = []
    if (sideways := overflow(page)) is not None:
        found.append(f"scrolls sideways {sideways}")
    if hidden := page.evaluate(BUTTONS_OUT_OF_VIEW):
        found.append(f"buttons out of view {hidden}")
    if cut_off := page.evaluate(CUT_OFF):
        found.append(f"cuts off {cut_off}")
    if narrow := page.evaluate(ONE_CHARACTER_A_LINE):
        found.append(f"one character a line {narrow}")
    return found


# The menu has finished opening, or closing (Bootstrap ignores a click while it moves).
MENU_OPEN = "#main-nav.show:not(.collapsing)"
MENU_CLOSED = "#main-nav:not(.show):not(.collapsing)"


def navigation_out_of_reach(page, screenshot_path) -> list[str]:
    """On a width where the navigation collapses, what its opened menu leaves out of view, and
    the serious accessibility violations of the page with the menu open."""
    toggler = page.locator("nav .navbar-toggler")
    if not toggler.is_visible():
        return []
    toggler.click()
    page.locator(MENU_OPEN).wait_for()
    page.screenshot(path=screenshot_path, quality=80)
    missing = serious_accessibility_violations(page)
    width = page.evaluate("window.innerWidth")
    for item in page.locator("#main-nav").locator("a, button, select").all():
        box = item.bounding_box()
        if not item.is_visible() or box is None or box["x"] < 0 or box["x"] + box["width"] > width:
            missing.append(item.inner_text() or item.get_attribute("name") or "?")
    if (sideways := overflow(page)) is not None:
        missing.append(f"the open menu scrolls sideways {sideways}")
    toggler.click()
    page.locator(MENU_CLOSED).wait_for(state="attached")
    return missing


@pytest.fixture
def short_pages(monkeypatch):
    for module, name in (
        (referrals, "LIST_PAGE_SIZE"),
        (mdt, "QUEUE_PAGE_SIZE"),
        (reports, "AUDIT_PAGE_SIZE"),
        (notification_views, "PAGE_SIZE"),
    ):
        monkeypatch.setattr(module, name, PAGE_SIZE)


@pytest.mark.parametrize("role", PAGES)
def test_every_page_fits_a_phone_a_tablet_and_a_desktop(browser, live_server, short_pages, role):
    numbers = referrals_made()
    username, pages = PAGES[role]
    # An error page is meant to answer with its error; nothing else may fail to load.
    error_pages = {page.address(numbers) for page in pages if page.status != 200 or page.opened_by}
    SHOTS.mkdir(parents=True, exist_ok=True)
    problems = []

    def console(message):
        address = message.location.get("url", "").removeprefix(live_server.url)
        expected = address in error_pages and message.text.startswith("Failed to load resource")
        if message.type == "error" and not expected and address != "/favicon.ico":
            problems.append(f"{role} console: {message.text} {address}")

    for language in LANGUAGES:
        context = browser.new_context(
            base_url=live_server.url, viewport={"width": 1280, "height": 900}
        )
        context.add_cookies(
            [{"name": "django_language", "value": language, "url": live_server.url}]
        )
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.on("pageerror", lambda error: problems.append(f"{role}: {error}"))
        page.on("console", console)
        if username is not None:
            sign_in_as(page, username)
        for spec in pages:
            response = page.goto(spec.address(numbers))
            if spec.opened_by is not None:
                spec.opened_by(page)
            elif response.status != spec.status:
                problems.append(f"{role} {language} {spec.name}: HTTP {response.status}")
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 900})
                found = faults(page)
                if width < 1200 and spec.name in CARDS:
                    found += serious_accessibility_violations(page)
                problems.extend(f"{role} {language} {spec.name} at {width}: {f}" for f in found)
                shot = SHOTS / f"{role}-{spec.name}-{language}-{width}.jpeg"
                page.screenshot(path=shot, full_page=True, quality=80)
        if username is not None:
            page.goto("/")
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 900})
                menu = SHOTS / f"{role}-menu-{language}-{width}.jpeg"
                for missing in navigation_out_of_reach(page, menu):
                    problems.append(f"{role} {language} menu at {width}: {missing}")
        context.close()
    assert not problems, "\n".join(problems)


def sign_in_as(page, username: str) -> None:
    """Sign in through the form in either language (by the fields' ids, not their labels)."""
    page.goto("/accounts/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"^http://[^/]+/(accounts/two-step/verify/.*)?$"))
