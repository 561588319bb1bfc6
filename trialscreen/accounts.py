"""Sign-in protection (issue 6): idle sessions, the lockout page and the optional second factor.

The second factor is a TOTP authenticator app (django-otp) for MDT members and data managers.
After the password, a user with a confirmed device gives its current code before anything else;
with ``REQUIRE_2FA`` on, a data manager without one sets one up first. What a user still owes is
decided once, at sign-in, and kept in the session, so an ordinary request costs no query.
"""

import math
from base64 import b32encode

import django_otp
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY
from django.core.exceptions import PermissionDenied
from django.core.validators import RegexValidator
from django.db import transaction
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from django.views.decorators.http import require_http_methods
from django_otp.plugins.otp_totp.models import TOTPDevice

from screening.models import Role, user_roles

# Session key: what the signed-in user still owes, VERIFY or SET_UP; absent when nothing.
SECOND_FACTOR_DUE = "second_factor_due"
VERIFY = "verify"
SET_UP = "set_up"
# Where a user who owes VERIFY or SET_UP may go meanwhile (besides signing out).
PAGE_FOR_DUE = {VERIFY: "second_factor_verify", SET_UP: "second_factor_setup"}
ALWAYS_ALLOWED = frozenset({"logout", "set_language"})


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


def may_use_second_factor(user) -> bool:
    """MDT members, data managers and anyone reaching the admin may add an authenticator."""
    return bool(user_roles(user) & {Role.MDT, Role.ADMIN}) or user.is_staff


def second_factor_required(user) -> bool:
    """Whether the user must have an authenticator (data managers when ``REQUIRE_2FA``)."""
    return settings.REQUIRE_2FA and (Role.ADMIN in user_roles(user) or user.is_staff)


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


def locked_out(request, original_response=None, credentials=None):
    """django-axes' answer to a sign-in while the account or address is locked (HTTP 429)."""
    context = {
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
        "contact": settings.LOCKOUT_CONTACT
        or _("the trial's data manager or the hospital IT service desk"),
    }
    return render(request, "registration/locked_out.html", context, status=429)


class TokenForm(forms.Form):
    token = forms.CharField(
        label=_("Six-digit code"),
        max_length=20,
        validators=[
            RegexValidator(r"^[0-9]{6}$", _("Enter the six digits your authenticator app shows."))
        ],
    )

    def clean_token(self):
        # Apps show the code as "123 456"; people copy it that way.
        return self.cleaned_data["token"].replace(" ", "")


def totp_device_pending(*, user) -> TOTPDevice:
    """The user's unconfirmed authenticator, created on the first call.

    Its secret stays the same until it is confirmed, so reloading the set-up page does not
    invalidate what the user already typed into the app.
    """
    device = TOTPDevice.objects.devices_for_user(user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
    return device


@transaction.atomic
def totp_device_confirm(*, device: TOTPDevice, token: str) -> bool:
    """Confirm ``device`` if ``token`` is its current code; wrong codes slow further tries."""
    device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
    if not device.verify_token(token):
        return False
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return True


WRONG_CODE = _("That code is not right. Check the app shows TrialScreen and type the newest code.")
TOO_SOON = ngettext_lazy(
    "Too many wrong codes in a row: wait %(seconds)s second, then type the newest code.",
    "Too many wrong codes in a row: wait %(seconds)s seconds, then type the newest code.",
    "seconds",
)


def _wait_message(devices) -> str | None:
    """What to tell a user whose every device refuses codes for now, after wrong ones.

    django-otp doubles the wait after each wrong code in a row (1, 2, 4 ... seconds).
    """
    until = []
    for device in devices:
        allowed, details = device.verify_is_allowed()
        if allowed:
            return None
        until.append(details.get("locked_until", timezone.now()))
    if not until:
        return None
    seconds = math.ceil((min(until) - timezone.now()).total_seconds())
    return TOO_SOON % {"seconds": max(1, seconds)}


def _verified_device(user, token: str) -> TOTPDevice | None:
    """The user's confirmed device whose current code is ``token``."""
    for device in TOTPDevice.objects.devices_for_user(user, confirmed=True):
        if django_otp.verify_token(user, device.persistent_id, token):
            return device
    return None


def _settle(request, device: TOTPDevice):
    """Mark the session verified with ``device`` and go where the user was heading."""
    django_otp.login(request, device)
    request.session.pop(SECOND_FACTOR_DUE, None)
    # A new session key for the now stronger sign-in, like after the password.
    request.session.cycle_key()
    target = request.POST.get("next") or request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = resolve_url(settings.LOGIN_REDIRECT_URL)
    return redirect(target)


@require_http_methods(["GET", "POST"])
def second_factor_setup(request):
    """Show the authenticator secret and confirm it with the first code."""
    user = request.user
    if not may_use_second_factor(user):
        raise PermissionDenied
    if TOTPDevice.objects.devices_for_user(user, confirmed=True).exists():
        return render(request, "registration/second_factor_setup.html", {"enabled": True})
    device = totp_device_pending(user=user)
    form = TokenForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        if wait := _wait_message([device]):
            form.add_error("token", wait)
        elif totp_device_confirm(device=device, token=form.cleaned_data["token"]):
            messages.success(request, _("Two-step sign-in is on for your account."))
            return _settle(request, device)
        else:
            form.add_error("token", WRONG_CODE)
    secret = b32encode(device.bin_key).decode()
    context = {
        "form": form,
        "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        "config_url": device.config_url,
        "required": second_factor_required(user),
        "next": request.GET.get("next", ""),
    }
    return render(request, "registration/second_factor_setup.html", context)


@require_http_methods(["GET", "POST"])
def second_factor_verify(request):
    """After the password: the current code of the user's authenticator."""
    if request.session.get(SECOND_FACTOR_DUE) != VERIFY:
        return redirect(settings.LOGIN_REDIRECT_URL)
    form = TokenForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        devices = TOTPDevice.objects.devices_for_user(request.user, confirmed=True)
        if wait := _wait_message(devices):
            form.add_error("token", wait)
        elif device := _verified_device(request.user, form.cleaned_data["token"]):
            return _settle(request, device)
        else:
            form.add_error("token", WRONG_CODE)
    context = {"form": form, "next": request.GET.get("next", "")}
    return render(request, "registration/second_factor_verify.html", context)
