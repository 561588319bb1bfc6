"""The fixed cast of the permission tests (STYLE.md lesson 7) and shared fixtures."""

import uuid
from importlib import import_module
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.test import Client

from screening import kept, services
from screening.models import Referral
from tests.factories import UserFactory, create_referral
from tests.roles import drop_role


@pytest.fixture(autouse=True)
def plain_http_and_static(settings):
    """Tests speak plain HTTP, read static files uncollected and hash passwords cheaply.

    Production settings redirect to HTTPS and serve hashed files from collectstatic; both are
    checked by the deployment tests, not assumed everywhere.
    """
    settings.SECURE_SSL_REDIRECT = False
    # Users are created by the hundred; full-strength hashing would dominate the run.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def second_factor_not_required(settings):
    """Tests sign the cast in with the password alone (``force_login``); the tests of the
    second factor turn REQUIRE_2FA, on by default with DEBUG off, back on."""
    settings.REQUIRE_2FA = False


@pytest.fixture
def coordinator_wuwei(db):
    return UserFactory(username="coord-wuwei", role="coordinator", site_codes=["wuwei"])


@pytest.fixture
def coordinator_lanzhou(db):
    return UserFactory(username="coord-lanzhou", role="coordinator", site_codes=["lanzhou"])


@pytest.fixture
def mdt_member(db):
    return UserFactory(username="mdt-member", role="mdt")


@pytest.fixture
def data_manager(db):
    return UserFactory(username="data-manager", role="admin")


# The cast's roles and the fixture of each member; anonymous has none.
CAST = {
    "coordinator_wuwei": "coordinator_wuwei",
    "coordinator_lanzhou": "coordinator_lanzhou",
    "mdt": "mdt_member",
    "data_manager": "data_manager",
}


@pytest.fixture
def cast(coordinator_wuwei, coordinator_lanzhou, mdt_member, data_manager):
    """Every signed-in role by name; anonymous is ``None``."""
    return {
        "anonymous": None,
        "coordinator_wuwei": coordinator_wuwei,
        "coordinator_lanzhou": coordinator_lanzhou,
        "mdt": mdt_member,
        "data_manager": data_manager,
    }


@pytest.fixture
def client_as(request, db):
    """``client_as("mdt")``: a new test client signed in as that member of the cast
    (``"anonymous"``: signed in as nobody).

    Only the member asked for is created, and it is the same user as the test's fixture of
    that name, so ``client_as("coordinator_wuwei")`` acts as ``coordinator_wuwei``.
    """

    def signed_in(role: str) -> Client:
        client = Client()
        if role != "anonymous":
            client.force_login(request.getfixturevalue(CAST[role]))
        return client

    return signed_in


@pytest.fixture
def wuwei_referral(db):
    """A potentially eligible referral of Wuwei, patient number 1 (status mdt_review)."""
    return create_referral(site="wuwei", number=1)


@pytest.fixture
def withdrawn_first(monkeypatch):
    """``withdrawn_first("referral_update")``: that service now finds its referral withdrawn by
    another user just before it runs, as when two people act on the same referral at once."""

    def race(service_name: str) -> None:
        real_service = getattr(services, service_name)
        real_withdraw = services.referral_withdraw

        def raced(**kwargs):
            stored = Referral.objects.get(pk=kwargs["referral"].pk)
            real_withdraw(referral=stored, code="other", reason="withdrawn at the other desk")
            return real_service(**kwargs)

        monkeypatch.setattr(services, service_name, raced)

    return race


@pytest.fixture
def seeded(transactional_db):
    """The sites (with their Chinese names), protocol version and role groups that migrations
    0002 and 0020 seed, for a test that commits (``transaction=True``).

    Such a test empties every table when it ends, so the next one seeds again.
    (``serialized_rollback`` cannot restore them: it would rewrite the append-only audit rows.)
    """
    from screening.models import Site

    if not Site.objects.exists():
        import_module("screening.migrations.0002_seed_sites_protocol_roles").seed(apps, None)
        # Later migrations give data managers the audit log and the export log in the admin.
        import_module("screening.migrations.0005_data_managers_read_audit_log").grant(apps, None)
        import_module("screening.migrations.0006_export_log").grant(apps, None)
        import_module("screening.migrations.0020_site_chinese_name").name_in_chinese(apps, None)


@pytest.fixture(scope="module")
def app_role(django_db_setup, django_db_blocker):
    """The name of a login role of the test database's server given its privileges by
    ``grant_app_role``, as the site's role is in production (docs/deploy.md).

    Named after the test database, so that suites sharing a server do not collide; dropped
    when the module's tests are done.
    """
    role = f"{connection.settings_dict['NAME']}_app"
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        drop_role(cursor, role)
        cursor.execute(f'CREATE ROLE "{role}" LOGIN')
        call_command("grant_app_role", role, stdout=StringIO())
    yield role
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        drop_role(cursor, role)


class FrozenSnapshot:
    """The database snapshot kept figures and pages see (``kept.snapshot_seen``), changed only
    by ``advance()``."""

    def __init__(self):
        self.advance()

    def advance(self) -> None:
        self.seen = uuid.uuid4().hex


@pytest.fixture
def frozen_snapshot(monkeypatch):
    """Kept figures and pages (screening/kept.py) see one snapshot until the test advances it,
    whatever it writes meanwhile: what a page shows while nothing is committed, without a
    transactional test (inside a test's transaction nothing is kept)."""
    snapshot = FrozenSnapshot()
    monkeypatch.setattr(kept, "snapshot_seen", lambda: snapshot.seen)
    return snapshot
