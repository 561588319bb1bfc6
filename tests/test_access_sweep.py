"""Every URL pattern against every role: the access specification (STYLE.md lesson 7).

``SWEEP`` holds, for each pattern of the URLconf, the requests made of it and the status each
role of the cast gets. A pattern without a row fails ``test_every_url_pattern_has_a_row``, so a
new page cannot ship without deciding who may open it. Anonymous users are sent to the sign-in
page, which brings them back to the address they asked for.

Object URLs use a referral of Wuwei: the Lanzhou coordinator must get 404, as if it did not
exist, and nothing it gets may name the patient. Posts carry valid data, so a role that may act
gets the status of the action done; a row whose request changes something says how to read
the change, and the change must happen for exactly the roles that may act. Such a row gives
each role a new referral, in the status the action needs.
"""

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.views import redirect_to_login
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from screening.models import (
    Enrolment,
    ExportLog,
    ImportUpload,
    Notification,
    RecordView,
    Referral,
)
from tests import fhir_bundles
from tests.factories import PASSWORD, UserFactory, create_referral, form_data

pytestmark = pytest.mark.django_db

Status = Referral.Status

ROLES = ("anonymous", "coordinator_wuwei", "coordinator_lanzhou", "mdt", "data_manager")
NUMBER = "<str:screening_number>"
# The Wuwei patient of the object URLs.
PATIENT = {"number": 7, "full_name": "司马相如"}


def statuses(anonymous, wuwei, lanzhou, mdt, data_manager) -> dict[str, int]:
    return dict(zip(ROLES, (anonymous, wuwei, lanzhou, mdt, data_manager), strict=True))


def nothing(referral) -> dict:
    return {}


@dataclass(frozen=True)
class Row:
    """One request of a pattern and the status each role gets.

    In ``path``, ``{number}`` and ``{pk}`` stand for the Wuwei referral's screening number and
    id, ``{notification}`` for the MDT member's notification about it (``mdt_notification``);
    ``body`` gives the posted data for that referral, which is in ``referral_status``.
    ``changes`` reads what the request changes: it must differ after the request for exactly
    the signed-in roles whose status is ``acted``, and stay as it was for every other role.
    """

    path: str
    expected: dict[str, int] = field(repr=False)
    method: str = "GET"
    body: Callable[[Referral], dict] = field(default=nothing, repr=False)
    referral_status: str = Status.MDT_REVIEW
    changes: Callable[[Referral], object] | None = field(default=None, repr=False)
    acted: int = 302
    # Where every role's 302 goes, for a pattern open to anonymous users too; None: anonymous
    # users are sent to the sign-in page.
    redirects_to: str | None = None


def get(path, expected, **options) -> Row:
    return Row(path, expected, **options)


def post(path, expected, body=nothing, **options) -> Row:
    return Row(path, expected, method="POST", body=body, **options)


def fresh(referral) -> Referral:
    return Referral.objects.get(pk=referral.pk)


def the_patient(referral, **changes) -> dict:
    """The referral's data as its edit form posts it, with ``changes``."""
    return form_data(**PATIENT, hospital_number=referral.hospital_number, **changes)


def mdt_notification(referral) -> Notification:
    """The MDT member's notification that ``referral`` awaits the MDT; the member is made when
    the test has none yet (an existing one is left alone: setting its password again would
    sign its client out)."""
    member = get_user_model().objects.filter(username="mdt-member").first()
    member = member or UserFactory(username="mdt-member", role="mdt")
    notification, _created = Notification.objects.get_or_create(
        recipient=member,
        referral=referral,
        kind=Notification.Kind.AWAITS_REVIEW,
        defaults={"params": {"number": referral.screening_number}},
    )
    return notification


def another_patient(referral) -> dict:
    """A new Wuwei patient, another one for each request."""
    return form_data(number=5, hospital_number=f"WU5{referral.pk:05d}")


def a_file_of_another_patient(referral) -> dict:
    """A CSV of one new Wuwei patient, as the import page uploads it."""
    data = another_patient(referral)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(data))
    writer.writeheader()
    writer.writerow(data)
    content = buffer.getvalue().encode()
    return {"file": SimpleUploadedFile("referrals.csv", content, content_type="text/csv")}


DOWNLOADS = (
    "enrolment.csv",
    "enrolment.xlsx",
    "screening-log.csv",
    "screening-log.xlsx",
    "identification.csv",
    "identification.xlsx",
    "odm.xml",
)

# pattern -> its rows; statuses for anonymous, coordinator Wuwei, coordinator Lanzhou, MDT
# member, data manager.
SWEEP = {
    "accounts/login/": (get("/accounts/login/", statuses(200, 200, 200, 200, 200)),),
    "accounts/logout/": (post("/accounts/logout/", statuses(302, 302, 302, 302, 302)),),
    "accounts/two-step/setup/": (
        get("/accounts/two-step/setup/", statuses(302, 200, 200, 200, 200)),
    ),
    # Nothing is owed by these users: the page sends them on.
    "accounts/two-step/verify/": (
        get("/accounts/two-step/verify/", statuses(302, 302, 302, 302, 302)),
    ),
    # The language is chosen before signing in too (the sign-in page offers it).
    "i18n/setlang/": (
        post(
            "/i18n/setlang/",
            statuses(302, 302, 302, 302, 302),
            body=lambda referral: {"language": "zh-hans", "next": "/"},
            redirects_to="/",
        ),
    ),
    "": (get("/", statuses(302, 200, 200, 200, 200)),),
    "healthz": (get("/healthz", statuses(200, 200, 200, 200, 200)),),
    "referrals/": (get("/referrals/", statuses(302, 200, 200, 200, 200)),),
    "referrals/new/": (
        get("/referrals/new/", statuses(302, 200, 200, 403, 200)),
        # A Wuwei patient: the Lanzhou coordinator gets the form again (not their site).
        post(
            "/referrals/new/",
            statuses(302, 302, 200, 403, 302),
            body=another_patient,
            changes=lambda referral: Referral.objects.count(),
        ),
    ),
    "referrals/evaluate/": (
        post(
            "/referrals/evaluate/",
            statuses(302, 200, 200, 403, 200),
            body=lambda referral: form_data(number=5),
        ),
        # The panel of an edit.
        post(
            "/referrals/evaluate/?referral={number}",
            statuses(302, 200, 404, 403, 200),
            body=the_patient,
        ),
    ),
    "imports/": (
        get("/imports/", statuses(302, 200, 200, 403, 200)),
        # The file is kept for its preview; a Wuwei row is an error there for Lanzhou.
        post(
            "/imports/",
            statuses(302, 302, 302, 403, 302),
            body=a_file_of_another_patient,
            changes=lambda referral: ImportUpload.objects.count(),
        ),
    ),
    # An upload is its uploader's, in the session that uploaded it: to anyone else it is as if
    # it did not exist, as here (tests/test_imports_view.py shows the uploader's own).
    "imports/<int:pk>/": (
        get("/imports/0/", statuses(302, 404, 404, 403, 404)),
        post(
            "/imports/0/",
            statuses(302, 404, 404, 403, 404),
            body=lambda referral: {"confirm": "1"},
            changes=lambda referral: Referral.objects.count(),
        ),
    ),
    f"referrals/{NUMBER}/": (get("/referrals/{number}/", statuses(302, 200, 404, 200, 200)),),
    f"referrals/{NUMBER}/edit/": (
        get("/referrals/{number}/edit/", statuses(302, 200, 404, 403, 200)),
        post(
            "/referrals/{number}/edit/",
            statuses(302, 302, 404, 403, 302),
            body=lambda referral: {**the_patient(referral, ecog=3), "change_reason": "ECOG"},
            changes=lambda referral: fresh(referral).ecog,
        ),
    ),
    f"referrals/{NUMBER}/withdraw/": (
        get("/referrals/{number}/withdraw/", statuses(302, 200, 404, 403, 200)),
        post(
            "/referrals/{number}/withdraw/",
            statuses(302, 302, 404, 403, 302),
            body=lambda referral: {"code": "other", "reason": "moved away"},
            changes=lambda referral: fresh(referral).status,
        ),
    ),
    f"referrals/{NUMBER}/history/": (
        get("/referrals/{number}/history/", statuses(302, 200, 404, 200, 200)),
    ),
    # The laboratory results intake: reading a Bundle shows a preview and saves nothing.
    f"referrals/{NUMBER}/labs/": (
        get("/referrals/{number}/labs/", statuses(302, 200, 404, 403, 200)),
        post(
            "/referrals/{number}/labs/",
            statuses(302, 200, 404, 403, 200),
            body=lambda referral: {"bundle": fhir_bundles.bundle(referral, fhir_bundles.panel())},
            changes=lambda referral: fresh(referral).alt,
            acted=0,
        ),
    ),
    "mdt/": (get("/mdt/", statuses(302, 403, 403, 200, 200)),),
    # Showing the packet is recorded; a refused one is not.
    "mdt/packet/": (
        get(
            "/mdt/packet/",
            statuses(302, 403, 403, 200, 200),
            changes=lambda referral: RecordView.objects.count(),
            acted=200,
        ),
        get("/mdt/packet/?sn={number}", statuses(302, 403, 403, 200, 200)),
    ),
    f"referrals/{NUMBER}/decision/": (
        get("/referrals/{number}/decision/", statuses(302, 403, 404, 200, 403)),
        post(
            "/referrals/{number}/decision/",
            statuses(302, 403, 404, 302, 403),
            body=lambda referral: {
                "password": PASSWORD,
                "decision": "approve",
                "rationale": "Fit for carbon-ion therapy.",
                "meeting_date": timezone.localdate().isoformat(),
                "evaluation": referral.evaluation_id,
            },
            changes=lambda referral: referral.decisions.count(),
        ),
    ),
    f"referrals/{NUMBER}/decision/void/": (
        post(
            "/referrals/{number}/decision/void/",
            statuses(302, 403, 404, 302, 403),
            body=lambda referral: {"password": PASSWORD, "reason": "Wrong button pressed."},
            referral_status=Status.MDT_APPROVED,
            changes=lambda referral: fresh(referral).status,
        ),
    ),
    f"referrals/{NUMBER}/enrol/": (
        get(
            "/referrals/{number}/enrol/",
            statuses(302, 200, 404, 403, 200),
            referral_status=Status.MDT_APPROVED,
        ),
        post(
            "/referrals/{number}/enrol/",
            statuses(302, 302, 404, 403, 302),
            # Each role's referral is the same patient under another hospital number, so each
            # is a possible duplicate of the others: the identity check is part of the body.
            body=lambda referral: {
                "password": PASSWORD,
                "consent_date": timezone.localdate().isoformat(),
                "identity_confirmed": "on",
            },
            referral_status=Status.MDT_APPROVED,
            changes=lambda referral: Enrolment.objects.filter(referral=referral).exists(),
        ),
    ),
    f"referrals/{NUMBER}/decline/": (
        post(
            "/referrals/{number}/decline/",
            statuses(302, 302, 404, 403, 302),
            body=lambda referral: {"confirm": "on"},
            referral_status=Status.MDT_APPROVED,
            changes=lambda referral: fresh(referral).status,
        ),
    ),
    "exports/": (get("/exports/", statuses(302, 403, 403, 403, 200)),),
    # Each download is logged; a refused one is not.
    **{
        f"exports/{name}": (
            get(
                f"/exports/{name}",
                statuses(302, 403, 403, 403, 200),
                changes=lambda referral: ExportLog.objects.count(),
                acted=200,
            ),
        )
        for name in DOWNLOADS
    },
    # What each field means holds no patient data: the MDT reads it too, and it is not logged.
    **{
        f"exports/data-dictionary.{file_format}": (
            get(f"/exports/data-dictionary.{file_format}", statuses(302, 403, 403, 200, 200)),
        )
        for file_format in ("csv", "xlsx")
    },
    "reports/consort/": (get("/reports/consort/", statuses(302, 403, 403, 200, 200)),),
    "reports/consort.svg": (get("/reports/consort.svg", statuses(302, 403, 403, 200, 200)),),
    "reports/consort.png": (get("/reports/consort.png", statuses(302, 403, 403, 200, 200)),),
    "reports/audit/": (get("/reports/audit/", statuses(302, 403, 403, 403, 200)),),
    # Everyone has notifications of their own, and only they may read them.
    "notifications/": (get("/notifications/", statuses(302, 200, 200, 200, 200)),),
    "notifications/read/": (post("/notifications/read/", statuses(302, 302, 302, 302, 302)),),
    "notifications/<int:pk>/read/": (
        # Reading never changes anything; opening one marks it read.
        get("/notifications/{notification}/read/", statuses(302, 405, 405, 405, 405)),
        post(
            "/notifications/{notification}/read/",
            statuses(302, 404, 404, 302, 404),
            changes=lambda referral: mdt_notification(referral).read_at,
        ),
    ),
}

# The admin is one prefix; these pages stand for it. Only data managers (staff) get in; every
# other user is sent to the admin's own sign-in page.
ADMIN = {
    "/admin/": statuses(302, 302, 302, 302, 200),
    "/admin/screening/referral/": statuses(302, 302, 302, 302, 200),
    "/admin/screening/referral/{pk}/change/": statuses(302, 302, 302, 302, 200),
    "/admin/screening/protocolversion/add/": statuses(302, 302, 302, 302, 200),
    "/admin/pghistory/middlewareevents/": statuses(302, 302, 302, 302, 200),
    "/admin/auth/user/": statuses(302, 302, 302, 302, 403),
    # Data managers list authenticators (never their secrets) and reset two-step sign-in.
    "/admin/otp_totp/totpdevice/": statuses(302, 302, 302, 302, 200),
    "/admin/otp_totp/totpdevice/resets/": statuses(302, 302, 302, 302, 200),
    # Lockouts are for the hospital's IT (superusers).
    "/admin/axes/accessattempt/": statuses(302, 302, 302, 302, 403),
}


def url_patterns(resolver=None, prefix=""):
    """Every pattern of the URLconf as its full route; the admin as the one prefix ``admin/``."""
    for entry in (resolver or get_resolver()).url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            if route == "admin/":
                yield route
            else:
                yield from url_patterns(entry, route)
        else:
            assert isinstance(entry, URLPattern)
            yield route


def test_every_url_pattern_has_a_row():
    patterns = set(url_patterns())

    assert patterns - {*SWEEP, "admin/"} == set(), "add these patterns to SWEEP"
    assert {*SWEEP, "admin/"} - patterns == set(), "these rows name no pattern"
    assert all(SWEEP.values()), "every pattern needs at least one request"


@pytest.fixture
def wuwei_patient(coordinator_wuwei):
    """The Wuwei patient of the object URLs, under the hospital number the searches look for;
    potentially eligible, so it waits for the MDT (status mdt_review)."""
    return create_referral(user=coordinator_wuwei, hospital_number="WU424242", **PATIENT)


@pytest.fixture
def wuwei_referral_in(coordinator_wuwei):
    """``wuwei_referral_in(status)``: a new referral of the Wuwei patient in ``status``, each
    under its own hospital number, so that an earlier one still open does not stand in the
    way."""
    made = []

    def new(status: str) -> Referral:
        made.append(status)
        return create_referral(
            user=coordinator_wuwei,
            hospital_number=f"WU4242{len(made):02d}",
            status=status,
            **PATIENT,
        )

    return new


def request_as(client, row: Row, referral):
    notification = mdt_notification(referral).pk if "{notification}" in row.path else None
    path = row.path.format(
        number=referral.screening_number, pk=referral.pk, notification=notification
    )
    if row.method == "POST":
        return path, client.post(path, row.body(referral))
    return path, client.get(path)


def body(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


def assert_statuses(client_as, row: Row, new_referral: Callable[[], Referral]):
    """Each role's status is the table's; anonymous is asked to sign in first; a change is
    made for exactly the roles that may act; and nothing the Lanzhou coordinator gets names
    the Wuwei patient (a 404 may repeat the requested address, which holds the number)."""
    got, acted = {}, {}
    shared = new_referral() if row.changes is None else None
    for role in ROLES:
        referral = shared or new_referral()
        if row.changes is not None:
            before = row.changes(referral)
        path, response = request_as(client_as(role), row, referral)
        got[role] = response.status_code
        if row.changes is not None:
            acted[role] = row.changes(referral) != before
        if response.status_code == 302 and row.redirects_to is not None:
            assert response.url == row.redirects_to
        elif response.status_code == 302 and path.startswith("/admin/"):
            # The admin's own sign-in page, or the site's for anonymous.
            sign_in_pages = [reverse("admin:login"), *([reverse("login")] * (role == "anonymous"))]
            assert response.url in [redirect_to_login(path, page).url for page in sign_in_pages]
        elif role == "anonymous" and response.status_code == 302:
            assert response.url == redirect_to_login(path).url
        if role == "coordinator_lanzhou":
            page = body(response)
            assert referral.full_name not in page
            assert referral.hospital_number not in page
            assert referral.screening_number not in page or response.status_code == 404
    assert got == row.expected
    if row.changes is not None:
        may_act = {role: role != "anonymous" and got[role] == row.acted for role in ROLES}
        assert acted == may_act


SWEEP_ROWS = [row for rows in SWEEP.values() for row in rows]


@pytest.mark.parametrize("row", SWEEP_ROWS, ids=[f"{r.method} {r.path}" for r in SWEEP_ROWS])
def test_each_role_gets_the_status_of_the_table(client_as, wuwei_referral_in, row):
    assert_statuses(client_as, row, lambda: wuwei_referral_in(row.referral_status))


@pytest.mark.parametrize("path", ADMIN)
def test_each_role_gets_the_status_of_the_table_in_the_admin(client_as, wuwei_patient, path):
    assert_statuses(client_as, get(path, ADMIN[path]), lambda: wuwei_patient)


@pytest.mark.parametrize(
    "query",
    [
        {"q": "司马相如"},
        {"q": "司马"},
        {"q": "WU424242"},
        {"q": "S-"},
        {"site": "wuwei"},
        {"status": "mdt_review"},
    ],
)
def test_searching_never_shows_another_sites_patient(client_as, wuwei_patient, query):
    page = client_as("coordinator_lanzhou").get("/referrals/", query).content.decode()

    # The search box shows what was typed; nothing else of the patient may appear.
    identifying = (
        wuwei_patient.full_name,
        wuwei_patient.hospital_number,
        wuwei_patient.screening_number,
    )
    for value in identifying:
        if value != query.get("q"):
            assert value not in page


def test_the_same_search_finds_the_patient_for_the_wuwei_coordinator(client_as, wuwei_patient):
    page = client_as("coordinator_wuwei").get("/referrals/", {"q": "司马"}).content.decode()

    assert wuwei_patient.screening_number in page
