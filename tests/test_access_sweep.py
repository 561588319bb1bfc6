"""Every URL pattern against every role (issue 6; STYLE.md lesson 7).

The table below is the access specification: for each pattern of the URLconf, the request made
and the status each role gets. A pattern without a row fails ``test_every_url_pattern_has_a_row``,
so a new page cannot ship without deciding who may open it. Object URLs use a referral of Wuwei:
the Lanzhou coordinator must get 404, as if it did not exist.
"""

from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from tests.factories import create_referral

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "coordinator_wuwei", "coordinator_lanzhou", "mdt", "data_manager")
NUMBER = "<str:screening_number>"


@dataclass(frozen=True)
class Request:
    """How a row requests its URL: ``{number}`` stands for the Wuwei referral's number."""

    path: str
    method: str = "GET"
    data: tuple = ()


def statuses(anonymous, wuwei, lanzhou, mdt, data_manager) -> dict[str, int]:
    return dict(zip(ROLES, (anonymous, wuwei, lanzhou, mdt, data_manager), strict=True))


# pattern -> (request, statuses for anonymous, coordinator Wuwei, coordinator Lanzhou, MDT
# member, data manager). 302 for anonymous is the sign-in page.
SWEEP = {
    "accounts/login/": (Request("/accounts/login/"), statuses(200, 200, 200, 200, 200)),
    "accounts/logout/": (
        Request("/accounts/logout/", "POST"),
        statuses(302, 302, 302, 302, 302),
    ),
    "accounts/two-step/setup/": (
        Request("/accounts/two-step/setup/"),
        statuses(302, 403, 403, 200, 200),
    ),
    # Nothing is owed by these users: the page sends them on.
    "accounts/two-step/verify/": (
        Request("/accounts/two-step/verify/"),
        statuses(302, 302, 302, 302, 302),
    ),
    "i18n/setlang/": (
        Request("/i18n/setlang/", "POST", (("language", "zh-hans"), ("next", "/"))),
        statuses(302, 302, 302, 302, 302),
    ),
    "": (Request("/"), statuses(302, 200, 200, 200, 200)),
    "healthz": (Request("/healthz"), statuses(200, 200, 200, 200, 200)),
    "referrals/": (Request("/referrals/"), statuses(302, 200, 200, 200, 200)),
    "referrals/new/": (Request("/referrals/new/"), statuses(302, 200, 200, 403, 200)),
    "referrals/evaluate/": (
        Request("/referrals/evaluate/", "POST"),
        statuses(302, 200, 200, 403, 200),
    ),
    f"referrals/{NUMBER}/": (Request("/referrals/{number}/"), statuses(302, 200, 404, 200, 200)),
    f"referrals/{NUMBER}/edit/": (
        Request("/referrals/{number}/edit/"),
        statuses(302, 200, 404, 403, 200),
    ),
    f"referrals/{NUMBER}/withdraw/": (
        Request("/referrals/{number}/withdraw/"),
        statuses(302, 200, 404, 403, 200),
    ),
    "mdt/": (Request("/mdt/"), statuses(302, 403, 403, 200, 200)),
    f"referrals/{NUMBER}/decision/": (
        Request("/referrals/{number}/decision/"),
        statuses(302, 403, 404, 200, 403),
    ),
    f"referrals/{NUMBER}/enrol/": (
        Request("/referrals/{number}/enrol/"),
        statuses(302, 200, 404, 403, 200),
    ),
    # An empty post: the form again, asking for the confirmation.
    f"referrals/{NUMBER}/decline/": (
        Request("/referrals/{number}/decline/", "POST"),
        statuses(302, 200, 404, 403, 200),
    ),
    f"referrals/{NUMBER}/history/": (
        Request("/referrals/{number}/history/"),
        statuses(302, 200, 404, 200, 200),
    ),
    "exports/": (Request("/exports/"), statuses(302, 403, 403, 403, 200)),
    **{
        f"exports/{name}": (Request(f"/exports/{name}"), statuses(302, 403, 403, 403, 200))
        for name in (
            "enrolment.csv",
            "enrolment.xlsx",
            "screening-log.csv",
            "screening-log.xlsx",
            "identification.csv",
            "identification.xlsx",
        )
    },
    "reports/consort/": (Request("/reports/consort/"), statuses(302, 403, 403, 200, 200)),
    "reports/consort.svg": (Request("/reports/consort.svg"), statuses(302, 403, 403, 200, 200)),
}

# The admin is one prefix; these pages stand for it. Only data managers (staff) get in; every
# other signed-in user is sent to the admin's own sign-in page.
ADMIN = {
    "/admin/": statuses(302, 302, 302, 302, 200),
    "/admin/screening/referral/": statuses(302, 302, 302, 302, 200),
    "/admin/screening/referral/{pk}/change/": statuses(302, 302, 302, 302, 200),
    "/admin/auth/user/": statuses(302, 302, 302, 302, 403),
    # Sign-in secrets and lockouts are for the hospital's IT (superusers), not data managers.
    "/admin/otp_totp/totpdevice/": statuses(302, 302, 302, 302, 403),
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


@pytest.fixture
def wuwei_referral(coordinator_wuwei):
    """Potentially eligible, so it waits for the MDT (status mdt_review)."""
    return create_referral(
        user=coordinator_wuwei,
        number=7,
        full_name="司马相如",
        hospital_number="WU424242",
    )


def request_as(user, request: Request, referral):
    client = Client()
    if user is not None:
        client.force_login(user)
    path = request.path.format(number=referral.screening_number, pk=referral.pk)
    if request.method == "POST":
        return client.post(path, dict(request.data))
    return client.get(path)


def body(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


def assert_statuses(cast, request: Request, referral, expected: dict[str, int]):
    """Each role's status is the table's, and nothing the Lanzhou coordinator gets names the
    Wuwei patient (a 404 may repeat the requested address, which holds the number)."""
    got = {}
    for role in ROLES:
        response = request_as(cast[role], request, referral)
        got[role] = response.status_code
        if role == "coordinator_lanzhou":
            page = body(response)
            assert referral.full_name not in page
            assert referral.hospital_number not in page
            assert referral.screening_number not in page or response.status_code == 404
    assert got == expected


@pytest.mark.parametrize("pattern", SWEEP)
def test_each_role_gets_the_status_of_the_table(cast, wuwei_referral, pattern):
    request, expected = SWEEP[pattern]

    assert_statuses(cast, request, wuwei_referral, expected)


@pytest.mark.parametrize("path", ADMIN)
def test_each_role_gets_the_status_of_the_table_in_the_admin(cast, wuwei_referral, path):
    assert_statuses(cast, Request(path), wuwei_referral, ADMIN[path])


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
def test_searching_never_shows_another_sites_patient(
    client, coordinator_lanzhou, wuwei_referral, query
):
    client.force_login(coordinator_lanzhou)

    page = client.get("/referrals/", query).content.decode()

    # The search box shows what was typed; nothing else of the patient may appear.
    identifying = (
        wuwei_referral.full_name,
        wuwei_referral.hospital_number,
        wuwei_referral.screening_number,
    )
    for value in identifying:
        if value != query.get("q"):
            assert value not in page


def test_the_same_search_finds_the_patient_for_the_wuwei_coordinator(
    client, coordinator_wuwei, wuwei_referral
):
    client.force_login(coordinator_wuwei)

    page = client.get("/referrals/", {"q": "司马"}).content.decode()

    assert wuwei_referral.screening_number in page


def test_the_live_evaluation_of_another_sites_referral_is_404(
    client, coordinator_lanzhou, wuwei_referral
):
    client.force_login(coordinator_lanzhou)

    response = client.post(f"/referrals/evaluate/?referral={wuwei_referral.screening_number}")

    assert response.status_code == 404
