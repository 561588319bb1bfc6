"""Sign-in protection: lockout, idle sessions, password rules, the second factor."""

import datetime
import time
from base64 import b32encode
from unittest import mock

import pytest
from axes.models import AccessAttempt
from django.core.management import CommandError, call_command
from django.db import InternalError, connection, transaction
from django.db.models import F
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from pghistory.models import Context

from tests.factories import PASSWORD, UserFactory
from trialscreen.accounts import totp_device_confirm
from trialscreen.security import client_ip

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
ONE_MINUTE = datetime.timedelta(minutes=1)
LOCKOUT_SENTENCE = "This account is locked for 30 minutes after 5 failed sign-in attempts."


def sign_in(client, username, password, address="127.0.0.1", **headers):
    return client.post(
        LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address, **headers
    )


def signed_in_as(client):
    response = client.get(reverse("referral_list"))
    return response.wsgi_request.user.get_username() if response.status_code == 200 else None


# --- lockout ---


def test_the_sixth_wrong_password_is_refused_with_the_lockout_message_and_so_is_the_right_one(
    client, coordinator_wuwei
):
    for _attempt in range(5):
        sign_in(client, "coord-wuwei", "wrong-password-123")

    sixth = sign_in(client, "coord-wuwei", "wrong-password-123")
    right = sign_in(client, "coord-wuwei", PASSWORD)

    for response in (sixth, right):
        assert response.status_code == 429
        html = response.content.decode()
        assert LOCKOUT_SENTENCE in html
        assert "the trial&#x27;s data manager or the hospital IT service desk" in html
    assert signed_in_as(client) is None


def test_four_wrong_passwords_then_the_right_one_signs_in(client, coordinator_wuwei):
    for _attempt in range(4):
        wrong = sign_in(client, "coord-wuwei", "wrong-password-123")
        assert wrong.status_code == 200
        assert "Please enter a correct username and password" in wrong.content.decode()

    assert sign_in(client, "coord-wuwei", PASSWORD).status_code == 302
    assert signed_in_as(client) == "coord-wuwei"


def test_the_lock_lifts_30_minutes_after_the_last_attempt(client, coordinator_wuwei):
    for _attempt in range(5):
        sign_in(client, "coord-wuwei", "wrong-password-123")
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - datetime.timedelta(minutes=29))
    assert sign_in(client, "coord-wuwei", PASSWORD).status_code == 429

    AccessAttempt.objects.update(attempt_time=F("attempt_time") - datetime.timedelta(minutes=31))

    assert sign_in(client, "coord-wuwei", PASSWORD).status_code == 302


def test_a_colleagues_sign_in_from_the_same_address_does_not_forgive_anothers_failures(
    client, coordinator_wuwei, data_manager
):
    guesses = []
    for _round in range(4):
        for _guess in range(4):
            wrong = sign_in(client, "data-manager", "wrong-password-123", address="10.0.2.1")
            guesses.append(wrong.status_code)
        sign_in(Client(), "coord-wuwei", PASSWORD, address="10.0.2.1")

    assert guesses[:4] == [200, 200, 200, 200]
    assert guesses[4] == 429
    assert sign_in(client, "data-manager", PASSWORD, address="10.0.9.9").status_code == 429


def test_a_sign_in_forgives_the_failures_of_its_own_username(client, coordinator_wuwei):
    for _guess in range(4):
        sign_in(client, "coord-wuwei", "wrong-password-123")
    sign_in(Client(), "coord-wuwei", PASSWORD)

    for _guess in range(4):
        assert sign_in(client, "coord-wuwei", "wrong-password-123").status_code == 200


def test_a_username_is_locked_whatever_the_address_the_guesses_come_from(client, coordinator_wuwei):
    for number in range(5):
        sign_in(client, "coord-wuwei", "wrong-password-123", address=f"10.0.0.{number}")

    assert sign_in(client, "coord-wuwei", PASSWORD, address="10.0.0.99").status_code == 429


def test_an_address_guessing_many_usernames_is_locked_for_everyone_else_too(
    client, coordinator_wuwei
):
    for number in range(5):
        sign_in(client, f"someone-{number}", "wrong-password-123", address="10.0.0.7")

    assert sign_in(client, "coord-wuwei", PASSWORD, address="10.0.0.7").status_code == 429
    assert sign_in(client, "coord-wuwei", PASSWORD, address="10.0.0.8").status_code == 302


def test_behind_the_proxy_each_client_address_counts_separately(client, coordinator_wuwei):
    for number in range(5):
        sign_in(client, f"someone-{number}", "wrong", HTTP_X_FORWARDED_FOR="192.0.2.1")

    from_proxy = sign_in(client, "coord-wuwei", PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.2")

    assert from_proxy.status_code == 302


def test_a_forwarded_for_header_from_an_untrusted_address_is_ignored(client, coordinator_wuwei):
    for number in range(5):
        sign_in(
            client,
            f"someone-{number}",
            "wrong",
            address="10.0.0.7",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{number}",
        )

    spoofed = sign_in(
        client, "coord-wuwei", PASSWORD, address="10.0.0.7", HTTP_X_FORWARDED_FOR="192.0.2.200"
    )

    assert spoofed.status_code == 429


def test_a_forwarded_address_that_is_no_address_counts_as_the_proxy(client, coordinator_wuwei):
    for _attempt in range(5):
        sign_in(client, "someone", "wrong", HTTP_X_FORWARDED_FOR="not-an-address")

    assert sign_in(client, "coord-wuwei", PASSWORD).status_code == 429


def test_an_ipv4_mapped_address_counts_as_the_ipv4_address(client, coordinator_wuwei):
    for number in range(5):
        sign_in(client, f"someone-{number}", "wrong", HTTP_X_FORWARDED_FOR="::ffff:10.0.2.1")

    same_client = sign_in(client, "coord-wuwei", PASSWORD, HTTP_X_FORWARDED_FOR="10.0.2.1")

    assert same_client.status_code == 429
    assert {attempt.ip_address for attempt in AccessAttempt.objects.all()} == {"10.0.2.1"}


@pytest.mark.parametrize(
    ("remote", "forwarded", "counted"),
    [
        ("127.0.0.1", "::ffff:10.0.2.1", "10.0.2.1"),
        ("127.0.0.1", "2001:DB8::1", "2001:db8::1"),
        # A dual-stack socket reports the proxy itself in the mapped form.
        ("::ffff:127.0.0.1", "10.0.2.1", "10.0.2.1"),
        ("::ffff:10.0.2.1", "", "10.0.2.1"),
        ("::ffff:10.0.2.1", "192.0.2.9", "10.0.2.1"),
    ],
)
def test_the_counted_address_is_normalised(rf, remote, forwarded, counted):
    request = rf.post(LOGIN, REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)

    assert client_ip(request) == counted


def test_a_username_longer_than_any_counts_as_a_failed_sign_in(client, coordinator_wuwei):
    for _attempt in range(4):
        assert sign_in(client, "9" * 5000, "wrong").status_code == 200

    assert sign_in(client, "9" * 5000, "wrong").status_code == 429
    assert AccessAttempt.objects.get().failures_since_start == 5


def test_the_lockout_page_names_the_configured_contact(client, coordinator_wuwei, settings):
    settings.LOCKOUT_CONTACT = "the IT service desk (extension 4321)"
    for _attempt in range(5):
        sign_in(client, "coord-wuwei", "wrong-password-123")

    html = sign_in(client, "coord-wuwei", PASSWORD).content.decode()

    assert "contact the IT service desk (extension 4321)" in html


def test_the_admin_sign_in_is_locked_too(client, data_manager):
    for _attempt in range(5):
        client.post("/admin/login/", {"username": "data-manager", "password": "wrong-password"})

    response = client.post("/admin/login/", {"username": "data-manager", "password": PASSWORD})

    assert response.status_code == 429
    assert LOCKOUT_SENTENCE in response.content.decode()


# --- sessions ---


def test_a_session_ends_when_the_browser_closes(client, coordinator_wuwei):
    response = sign_in(client, "coord-wuwei", PASSWORD)

    cookie = response.cookies["sessionid"]
    assert cookie["max-age"] == ""
    assert cookie["expires"] == ""


def later(minutes):
    moment = timezone.now() + datetime.timedelta(minutes=minutes)
    return mock.patch("django.utils.timezone.now", return_value=moment)


def test_a_session_in_use_stays_open_and_ends_after_30_idle_minutes(client, coordinator_wuwei):
    sign_in(client, "coord-wuwei", PASSWORD)

    with later(minutes=29):
        assert signed_in_as(client) == "coord-wuwei"
    with later(minutes=29 + 29):
        assert signed_in_as(client) == "coord-wuwei"
    with later(minutes=29 + 29 + 31):
        response = client.get(reverse("referral_list"))

    assert response.status_code == 302
    assert response.url.startswith(LOGIN)


def test_a_session_unused_for_30_minutes_ends(client, coordinator_wuwei):
    sign_in(client, "coord-wuwei", PASSWORD)

    with later(minutes=31):
        assert signed_in_as(client) is None


def session_writes(client):
    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("referral_list"))
    return sum('UPDATE "django_session"' in query["sql"] for query in queries)


def test_the_session_is_renewed_at_most_once_a_minute(client_as):
    client = client_as("coordinator_wuwei")

    assert session_writes(client) == 0
    with later(minutes=2):
        assert session_writes(client) == 1
        assert session_writes(client) == 0


# --- passwords ---


def test_a_password_shorter_than_12_characters_is_refused():
    with pytest.raises(CommandError, match="at least 12 characters"):
        call_command("adduser", "short", role="mdt", password="Tr1al-scr33")


def test_a_common_or_all_numeric_password_is_refused():
    with pytest.raises(CommandError, match="too common"):
        call_command("adduser", "common", role="mdt", password="password1234")
    with pytest.raises(CommandError, match="entirely numeric"):
        call_command("adduser", "numeric", role="mdt", password="904715386201")


def test_a_long_uncommon_password_is_accepted(capsys):
    call_command("adduser", "li", role="mdt", password="river-lantern-87-quietly")

    assert "created mdt li" in capsys.readouterr().out


# --- second factor ---


def current_code(device, *, seconds_ahead=0):
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + seconds_ahead
    return f"{totp.token():06d}"


@pytest.fixture
def mdt_with_authenticator(mdt_member):
    TOTPDevice.objects.create(user=mdt_member, name="phone", confirmed=True)
    return mdt_member


def test_an_mdt_member_sets_up_an_authenticator_with_its_first_code(client_as, mdt_member):
    client = client_as("mdt")

    page = client.get(reverse("second_factor_setup"))
    device = TOTPDevice.objects.get(user=mdt_member)
    html = page.content.decode()
    assert "otpauth://totp/TrialScreen%3Amdt-member?secret=" in html
    assert not device.confirmed

    wrong = client.post(reverse("second_factor_setup"), {"token": "000000"})
    assert "That code is not right" in wrong.content.decode()
    too_soon = client.post(reverse("second_factor_setup"), {"token": current_code(device)})
    assert "wrong codes in a row: wait 1 second," in too_soon.content.decode()
    TOTPDevice.objects.update(throttling_failure_timestamp=timezone.now() - ONE_MINUTE)
    done = client.post(reverse("second_factor_setup"), {"token": current_code(device)})

    assert done.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    assert "Two-step sign-in is on" in client.get(reverse("second_factor_setup")).content.decode()


def test_the_set_up_page_shows_a_qr_code_the_content_security_policy_lets_render(client_as):
    response = client_as("mdt").get(reverse("second_factor_setup"))

    html = response.content.decode()
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert 'class="qr-code"' in svg
    assert "<title>QR code for your authenticator app</title>" in svg
    assert "style=" not in html
    assert "<style" not in html
    assert "style-src 'self'" in response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]


def test_reloading_the_set_up_page_keeps_the_secret(client_as, mdt_member):
    client = client_as("mdt")
    client.get(reverse("second_factor_setup"))
    client.get(reverse("second_factor_setup"))

    assert TOTPDevice.objects.filter(user=mdt_member).count() == 1


def secret_of(device):
    return b32encode(device.bin_key).decode()


def test_an_unconfirmed_authenticator_left_over_is_never_offered_or_confirmed(
    client_as, mdt_member
):
    left_over = TOTPDevice.objects.create(user=mdt_member, name="authenticator", confirmed=False)
    client = client_as("mdt")

    html = client.get(reverse("second_factor_setup")).content.decode()
    refused = client.post(reverse("second_factor_setup"), {"token": current_code(left_over)})

    assert secret_of(left_over) not in html
    assert secret_of(TOTPDevice.objects.get(user=mdt_member)) in html
    assert "That code is not right" in refused.content.decode()
    assert not TOTPDevice.objects.filter(user=mdt_member, confirmed=True).exists()


def test_the_secret_shown_in_one_session_cannot_be_confirmed_in_another(client_as, mdt_member):
    elsewhere = client_as("mdt")
    elsewhere.get(reverse("second_factor_setup"))
    seen_elsewhere = TOTPDevice.objects.get(user=mdt_member)
    mine = client_as("mdt")
    mine.get(reverse("second_factor_setup"))

    refused = mine.post(reverse("second_factor_setup"), {"token": current_code(seen_elsewhere)})
    late = elsewhere.post(reverse("second_factor_setup"), {"token": current_code(seen_elsewhere)})

    assert "That code is not right" in refused.content.decode()
    assert "the key below is new" in late.content.decode()
    assert not TOTPDevice.objects.filter(user=mdt_member, confirmed=True).exists()


def test_the_first_authenticator_confirmed_owns_the_account(mdt_member):
    first = TOTPDevice.objects.create(user=mdt_member, name="one", confirmed=False)
    second = TOTPDevice.objects.create(user=mdt_member, name="two", confirmed=False)

    assert totp_device_confirm(device=first, token=current_code(first))
    assert not totp_device_confirm(device=second, token=current_code(second))
    assert list(TOTPDevice.objects.filter(confirmed=True)) == [first]


def test_with_an_authenticator_the_password_alone_opens_nothing(client, mdt_with_authenticator):
    sign_in(client, "mdt-member", PASSWORD)

    queue = client.get(reverse("referral_list"))

    assert queue.status_code == 302
    assert queue.url == reverse("second_factor_verify") + "?next=%2Freferrals%2F"
    assert client.post(reverse("referral_evaluate"), {}).status_code == 302


def test_the_right_code_after_the_password_opens_the_page_asked_for(client, mdt_with_authenticator):
    sign_in(client, "mdt-member", PASSWORD)
    device = TOTPDevice.objects.get(user=mdt_with_authenticator)

    wrong = client.post(reverse("second_factor_verify"), {"token": "12345", "next": "/referrals/"})
    assert wrong.status_code == 200
    assert "Enter the six digits" in wrong.content.decode()
    right = client.post(
        reverse("second_factor_verify"), {"token": current_code(device), "next": "/referrals/"}
    )

    assert right.status_code == 302
    assert right.url == "/referrals/"
    assert signed_in_as(client) == "mdt-member"


def test_a_code_is_accepted_only_once(client, mdt_with_authenticator):
    device = TOTPDevice.objects.get(user=mdt_with_authenticator)
    code = current_code(device)
    sign_in(client, "mdt-member", PASSWORD)
    client.post(reverse("second_factor_verify"), {"token": code})
    client.post(reverse("logout"))

    sign_in(client, "mdt-member", PASSWORD)
    replay = client.post(reverse("second_factor_verify"), {"token": code})

    assert "That code is not right" in replay.content.decode()
    assert signed_in_as(client) is None


def test_the_verify_step_never_sends_the_user_to_another_site(client, mdt_with_authenticator):
    sign_in(client, "mdt-member", PASSWORD)
    device = TOTPDevice.objects.get(user=mdt_with_authenticator)

    response = client.post(
        reverse("second_factor_verify"),
        {"token": current_code(device), "next": "https://evil.example/"},
    )

    assert response.url == reverse("dashboard")


@pytest.mark.parametrize("member", ["mdt_member", "data_manager"])
def test_when_required_mdt_members_and_data_managers_set_up_an_authenticator_first(
    client, settings, request, member
):
    settings.REQUIRE_2FA = True
    user = request.getfixturevalue(member)
    sign_in(client, user.username, PASSWORD)

    blocked = client.get(reverse("referral_list"))
    assert blocked.url == reverse("second_factor_setup") + "?next=%2Freferrals%2F"
    assert client.get("/admin/").url.startswith(reverse("second_factor_setup"))
    page = client.get(blocked.url)
    assert "data managers and administrators must use two-step sign-in" in page.content.decode()
    device = TOTPDevice.objects.get(user=user)
    done = client.post(
        reverse("second_factor_setup"), {"token": current_code(device), "next": "/referrals/"}
    )

    assert done.url == "/referrals/"
    assert signed_in_as(client) == user.username


def test_when_required_a_coordinator_is_offered_an_authenticator_but_not_asked(
    client, coordinator_wuwei, settings
):
    settings.REQUIRE_2FA = True
    sign_in(client, "coord-wuwei", PASSWORD)

    assert signed_in_as(client) == "coord-wuwei"
    assert 'href="/accounts/two-step/setup/"' in client.get(reverse("dashboard")).content.decode()
    page = client.get(reverse("second_factor_setup")).content.decode()
    assert "must use two-step sign-in" not in page
    assert "Turn on two-step sign-in" in page


def test_a_coordinator_with_an_authenticator_gives_its_code_after_the_password(
    client, coordinator_wuwei
):
    TOTPDevice.objects.create(user=coordinator_wuwei, name="phone", confirmed=True)
    sign_in(client, "coord-wuwei", PASSWORD)

    assert client.get(reverse("referral_list")).url.startswith(reverse("second_factor_verify"))


def test_when_not_required_a_data_manager_is_not_asked(client, data_manager):
    sign_in(client, "data-manager", PASSWORD)

    assert signed_in_as(client) == "data-manager"


def test_signing_out_is_possible_while_a_code_is_owed(client, mdt_with_authenticator):
    sign_in(client, "mdt-member", PASSWORD)

    response = client.post(reverse("logout"))

    assert response.status_code == 302
    assert response.url == reverse("login")


def test_a_user_owing_nothing_is_sent_on_from_the_verify_page(client):
    client.force_login(UserFactory(username="plain", role="coordinator", site_codes=["wuwei"]))

    assert client.get(reverse("second_factor_verify")).url == reverse("dashboard")


# --- a lost authenticator, reset by a data manager ---

AUTHENTICATORS = "/admin/otp_totp/totpdevice/"


def reset_in_the_admin(client, *devices):
    return client.post(
        AUTHENTICATORS,
        {"action": "reset_two_step_sign_in", "_selected_action": [d.pk for d in devices]},
    )


def test_a_data_manager_resets_a_lost_authenticator_and_the_audit_trail_says_so(
    client, client_as, mdt_with_authenticator, data_manager, settings
):
    lost = TOTPDevice.objects.get(user=mdt_with_authenticator)
    admin = client_as("data_manager")

    done = reset_in_the_admin(admin, lost)

    assert done.status_code == 302
    assert not TOTPDevice.objects.filter(user=mdt_with_authenticator).exists()
    record = Context.objects.get(metadata__action="second_factor_reset")
    assert record.metadata["user"] == data_manager.pk
    assert record.metadata["reset_user"] == mdt_with_authenticator.pk
    assert timezone.now() - record.created_at < ONE_MINUTE
    history = admin.get(AUTHENTICATORS + "resets/").content.decode()
    assert "<td>data-manager</td>" in history
    assert "<td>mdt-member</td>" in history
    # The next sign-in with the password sets up a new authenticator.
    settings.REQUIRE_2FA = True
    sign_in(client, "mdt-member", PASSWORD)
    assert client.get(reverse("referral_list")).url.startswith(reverse("second_factor_setup"))


def test_the_record_of_a_reset_cannot_be_deleted(client_as, mdt_with_authenticator):
    reset_in_the_admin(client_as("data_manager"), TOTPDevice.objects.get())

    with pytest.raises(InternalError, match="cannot be deleted"), transaction.atomic():
        Context.objects.filter(metadata__action="second_factor_reset").delete()


def test_the_admin_never_shows_a_secret_nor_adds_or_deletes_an_authenticator(
    client_as, mdt_with_authenticator
):
    device = TOTPDevice.objects.get()
    admin = client_as("data_manager")

    listing = admin.get(AUTHENTICATORS).content.decode()
    detail = admin.get(f"{AUTHENTICATORS}{device.pk}/change/").content.decode()

    assert "mdt-member" in listing
    assert "delete_selected" not in listing
    assert f"{AUTHENTICATORS}add/" not in listing
    assert device.key not in listing + detail
    assert admin.get(f"{AUTHENTICATORS}add/").status_code == 403
    assert admin.post(f"{AUTHENTICATORS}{device.pk}/delete/", {"post": "yes"}).status_code == 403
    assert TOTPDevice.objects.filter(pk=device.pk).exists()


def test_a_data_manager_cannot_reset_a_superusers_authenticator(client_as):
    it = UserFactory(username="hospital-it", is_staff=True, is_superuser=True)
    device = TOTPDevice.objects.create(user=it, name="phone", confirmed=True)
    admin = client_as("data_manager")

    assert "hospital-it" not in admin.get(AUTHENTICATORS).content.decode()
    reset_in_the_admin(admin, device)

    assert TOTPDevice.objects.filter(pk=device.pk).exists()
