"""Sign-in protection: failed sign-ins, idle sessions and the second factor (its pages are in
``screening.views.accounts``).

The second factor is a TOTP authenticator app (django-otp), open to every role. After the
password, a user with a confirmed device gives its current code before anything else; with
``REQUIRE_2FA`` on (the default unless DEBUG), an MDT member, data manager or staff user without
one sets one up first. What a user still owes is decided once, at sign-in, and kept in the
session, so an ordinary request costs no query.
"""

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db import transaction
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django_otp.plugins.otp_totp.models import TOTPDevice
from pghistory.models import Context

from screening import access
from screening.models import Role, user_roles

# Session key: what the signed-in user still owes, VERIFY or SET_UP; absent when nothing.
SECOND_FACTOR_DUE = "second_factor_due"
VERIFY = "verify"
SET_UP = "set_up"
# Where a user who owes VERIFY or SET_UP may go meanwhile (besides signing out).
PAGE_FOR_DUE = {VERIFY: "second_factor_verify", SET_UP: "second_factor_setup"}
ALWAYS_ALLOWED = frozenset({"logout", "set_language"})


class OwnFailuresResetHandler(AxesDatabaseHandler):
    """django-axes' database handler, except that a sign-in forgives only its own username.

    Failures count against the username and, separately, the address (AXES_LOCKOUT_PARAMETERS).
    django-axes' reset on success deletes every failure matching either, so a colleague signing
    in at the same computer wiped the failures of every other account tried from there: four
    guesses at the data manager, one good sign-in as a coordinator, and again, never locked.
    Here a sign-in deletes the failures recorded against the username that signed in, from any
    address, and nothing else: the address keeps counting everyone else's.

    Chosen over locking by username, and by address only for unknown usernames: that would tell
    a guesser which usernames exist (they lock differently) and let one address try a password
    against every real username without ever being locked. The cost, as before, is that five
    failures at a shared computer lock it for everyone for the cool-off time.
    """

    def reset_user_attempts(self, request, credentials=None) -> int:
        username = get_client_username(request, credentials)
        _total, deleted = AccessAttempt.objects.filter(username=username).delete()
        return deleted.get(AccessAttempt._meta.label, 0)


class RolesModelBackend(ModelBackend):
    """Django's password backend, whose signed-in user comes with its roles and sites read in
    the same query (``access.user_with_roles``): every page asks them for its navigation."""

    def get_user(self, user_id):
        user = access.user_with_roles(user_id)
        return user if self.user_can_authenticate(user) else None


# Session key: when the session's expiry was last pushed back (Unix seconds).
SESSION_RENEWED_AT = "renewed_at"
RENEW_EVERY_SECONDS = 60


def _now() -> int:
    return int(timezone.now().timestamp())


def mark_session_renewed(sender, request, user, **kwargs):
    """A session starts renewed at sign-in (connected to ``user_logged_in``)."""
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_RENEWED_AT] = _now()


class SessionRenewalMiddleware:
    """Keeps a signed-in session alive while it is used, ending it after SESSION_COOKIE_AGE idle.

    The session is saved with a fresh expiry when it was last renewed a minute or more ago, so
    it ends between SESSION_COOKIE_AGE minus one minute and SESSION_COOKIE_AGE after the last
    request, and a busy page (the live evaluation posts as the user types) costs no writes.
    Place after ``AuthenticationMiddleware``.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = request.session
        # Checked after the view: a sign-out has emptied the session, which stays empty.
        if SESSION_KEY in session:
            now = _now()
            if now - session.get(SESSION_RENEWED_AT, 0) >= RENEW_EVERY_SECONDS:
                session[SESSION_RENEWED_AT] = now
        return response


def second_factor_required(user) -> bool:
    """Whether the user must have an authenticator: with ``REQUIRE_2FA``, those who see every
    site's patients (MDT members, data managers) and staff users, who reach the admin."""
    if not settings.REQUIRE_2FA:
        return False
    return user.is_staff or bool(user_roles(user) & {Role.MDT, Role.ADMIN})


def remember_second_factor_due(sender, request, user, **kwargs):
    """On sign-in, note in the session whether the user must verify or set up a second factor.

    Connected to ``user_logged_in`` (trialscreen/apps.py). Costs one or two queries per sign-in.
    """
    if request is None or not hasattr(request, "session"):
        return
    if TOTPDevice.objects.devices_for_user(user, confirmed=True).exists():
        request.session[SECOND_FACTOR_DUE] = VERIFY
    elif second_factor_required(user):
        request.session[SECOND_FACTOR_DUE] = SET_UP


class SecondFactorMiddleware:
    """Sends a signed-in user who owes a second factor to the page that settles it.

    Place after ``AuthenticationMiddleware``. Pages open to anonymous visitors stay open.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not getattr(view_func, "login_required", True):
            return None
        due = request.session.get(SECOND_FACTOR_DUE)
        if due is None or not request.user.is_authenticated:
            return None
        page = PAGE_FOR_DUE[due]
        if request.resolver_match.view_name in {page, *ALWAYS_ALLOWED}:
            return None
        return redirect(f"{reverse(page)}?{urlencode({'next': request.get_full_path()})}")


# Session key: the unconfirmed authenticator this session is setting up.
DEVICE_BEING_SET_UP = "second_factor_device"


def totp_device_pending(*, session, user) -> tuple[TOTPDevice, bool]:
    """The unconfirmed authenticator this session is setting up, and whether it is new.

    A session gets a device, and a secret, of its own on its first visit and keeps them while
    the page is reloaded, so what the user already typed into the app stays right. Any other
    unconfirmed device of the user goes then: its secret was shown to another session, perhaps
    to someone else who knew the password, and must never become this account's second factor.
    """
    pending = TOTPDevice.objects.devices_for_user(user, confirmed=False)
    device = pending.filter(pk=session.get(DEVICE_BEING_SET_UP)).first()
    if device is not None:
        return device, False
    pending.delete()
    device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
    session[DEVICE_BEING_SET_UP] = device.pk
    return device, True


@transaction.atomic
def totp_device_confirm(*, device: TOTPDevice, token: str) -> bool:
    """Confirm ``device`` if ``token`` is its current code; wrong codes slow further tries.

    The first authenticator confirmed owns the account: none is confirmed while the user has
    one. The user's row is locked, so of two set-ups confirming at once the second is refused.
    """
    get_user_model().objects.select_for_update().get(pk=device.user_id)
    if TOTPDevice.objects.filter(user_id=device.user_id, confirmed=True).exists():
        return False
    device = TOTPDevice.objects.select_for_update().filter(pk=device.pk, confirmed=False).first()
    if device is None or not device.verify_token(token):
        return False
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return True


# The audit trail's record of a reset: its ``action`` in the metadata of a pghistory context.
SECOND_FACTOR_RESET = "second_factor_reset"


@transaction.atomic
def second_factor_reset(*, user, by) -> int:
    """Remove every authenticator of ``user`` (a lost phone) and record that ``by`` did it.

    The user's next sign-in with the password may set up a new one: the first to do so owns
    the account again. Authenticators are django-otp's rows, which the audit triggers do not
    track, so the record is a context row of the audit trail (pghistory), whose rows cannot be
    deleted and whose recorded user cannot change (migration 0004). It names who reset whose
    sign-in, when, and how many devices went. Returns that number.
    """
    removed, _by_model = TOTPDevice.objects.filter(user=user).delete()
    Context.objects.create(
        metadata={
            "user": by.pk,
            "action": SECOND_FACTOR_RESET,
            "username": by.get_username(),
            "reset_user": user.pk,
            "reset_username": user.get_username(),
            "devices_removed": removed,
        }
    )
    return removed


def second_factor_resets():
    """Every reset recorded by ``second_factor_reset``, newest first (one query)."""
    return Context.objects.filter(metadata__action=SECOND_FACTOR_RESET).order_by("-created_at")
