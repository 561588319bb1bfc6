"""Sign-in pages of our own: the lockout answer and the second factor's set-up and check."""

import math
from base64 import b32encode

import django_otp
import segno
from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render, resolve_url
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from django.views.decorators.http import require_http_methods
from django_otp.plugins.otp_totp.models import TOTPDevice

from screening import access
from screening.forms.accounts import TokenForm
from screening.models import Role
from trialscreen.accounts import (
    DEVICE_BEING_SET_UP,
    SECOND_FACTOR_DUE,
    VERIFY,
    second_factor_required,
    totp_device_confirm,
    totp_device_pending,
)


def locked_out(request, original_response=None, credentials=None):
    """django-axes' answer to a sign-in while the account or address is locked (HTTP 429)."""
    context = {
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
        "contact": settings.LOCKOUT_CONTACT
        or _("the trial's data manager or the hospital IT service desk"),
    }
    return render(request, "registration/locked_out.html", context, status=429)


WRONG_CODE = _("That code is not right. Check the app shows TrialScreen and type the newest code.")
NEW_KEY = _(
    "Set-up of two-step sign-in started again for your account, so the key below is new. "
    "Add it to the app and type the code the app shows for it."
)
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


def _qr_code(url: str) -> str:
    """``url`` as a QR code in inline SVG, sized by the page's stylesheet (``.qr-code``).

    segno writes presentation attributes (fill, stroke), never a style attribute or element,
    so the Content-Security-Policy without 'unsafe-inline' lets it render.
    """
    svg = segno.make(url, error="m").svg_inline(
        scale=4,
        omitsize=True,
        dark="#000",
        light="#fff",
        svgclass="qr-code",
        lineclass=None,
        title=str(_("QR code for your authenticator app")),
    )
    # Safe: segno escapes the title, and the rest is numbers and fixed markup.
    return mark_safe(svg)


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
    request.session.pop(DEVICE_BEING_SET_UP, None)
    # A new session key for the now stronger sign-in, like after the password.
    request.session.cycle_key()
    target = request.POST.get("next") or request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = resolve_url(settings.LOGIN_REDIRECT_URL)
    return redirect(target)


@require_http_methods(["GET", "POST"])
@access.roles_required(Role.COORDINATOR, Role.MDT, Role.ADMIN, staff=True)
def second_factor_setup(request):
    """Show the authenticator secret and confirm it with the first code."""
    user = request.user
    if TOTPDevice.objects.devices_for_user(user, confirmed=True).exists():
        return render(request, "registration/second_factor_setup.html", {"enabled": True})
    device, new = totp_device_pending(session=request.session, user=user)
    form = TokenForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        if new:
            form.add_error("token", NEW_KEY)
        elif wait := _wait_message([device]):
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
        "qr_code": _qr_code(device.config_url),
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
