"""Signed acts (PROTOCOL section 6): an MDT decision and an enrolment ask for the password again,
and a current code when the signer has an authenticator; a wrong one changes nothing and counts
as a failed sign-in; the signature shows who signed, when and meaning what."""

import pytest
from axes.models import AccessAttempt
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from screening import exports, services
from screening.models import Enrolment, MdtDecision, Referral, Signature
from tests.factories import PASSWORD, create_referral

pytestmark = pytest.mark.django_db

Status = Referral.Status


@pytest.fixture
def in_review(coordinator_wuwei):
    return create_referral(user=coordinator_wuwei, status=Status.MDT_REVIEW)


def _decide(client, referral, **fields):
    data = {
        "decision": "approve",
        "rationale": "Fit.",
        "meeting_date": timezone.localdate().isoformat(),
        "evaluation": referral.evaluation_id,
    }
    return client.post(
        reverse("referral_decision", args=[referral.screening_number]), data | fields
    )


def test_a_decision_without_the_password_or_with_a_wrong_one_changes_nothing(client_as, in_review):
    client = client_as("mdt")

    missing = _decide(client, in_review)
    wrong = _decide(client, in_review, password="not-my-password")

    assert "Give your password to sign." in missing.content.decode()
    assert "That password is not right: nothing was signed." in wrong.content.decode()
    assert not MdtDecision.objects.exists()
    assert not Signature.objects.exists()
    in_review.refresh_from_db()
    assert in_review.status == Status.MDT_REVIEW
    # The wrong password counts as a failed sign-in of the member.
    assert AccessAttempt.objects.get(username="mdt-member").failures_since_start == 1


def test_a_signed_decision_shows_signer_time_and_meaning_on_the_referral_page(
    client_as, mdt_member, in_review
):
    mdt_member.first_name, mdt_member.last_name = "Li", "Wei"
    mdt_member.save()
    client = client_as("mdt")

    response = _decide(client, in_review, password=PASSWORD)

    assert response.status_code == 302
    signature = Signature.objects.get()
    assert (signature.meaning, signature.signer, signature.signer_name) == (
        "approved",
        mdt_member,
        "Li Wei",
    )
    decision = MdtDecision.objects.get()
    assert signature.decision == decision
    assert signature.evaluation_hash == services.evaluation_hash(decision.evaluation)
    page = client.get(reverse("referral_detail", args=[in_review.screening_number]))
    html = " ".join(page.content.decode().split())
    signed_at = timezone.localtime(signature.signed_at).strftime("%Y-%m-%d %H:%M")
    assert "<strong>Li Wei</strong> · <time" in html
    assert signed_at in html
    assert "Meaning: approved for the trial" in html
    (row,) = [
        row
        for row in exports.screening_log_rows()
        if row["screening_number"] == in_review.screening_number
    ]
    assert row["mdt_decision_signature"] == f"Li Wei {signed_at} approved"


def test_an_enrolment_is_signed_and_refused_with_a_wrong_password(client_as, coordinator_wuwei):
    approved = create_referral(user=coordinator_wuwei, status=Status.MDT_APPROVED)
    client = client_as("coordinator_wuwei")
    url = reverse("referral_enrol", args=[approved.screening_number])
    consent = {"consent_date": timezone.localdate().isoformat()}

    refused = client.post(url, {**consent, "password": "guess"})
    assert "That password is not right" in refused.content.decode()
    assert not Enrolment.objects.exists()

    client.post(url, {**consent, "password": PASSWORD})
    enrolment = Enrolment.objects.get()
    assert enrolment.signature.meaning == "enrolled"
    assert enrolment.signature.signer == coordinator_wuwei
    page = client.get(reverse("referral_detail", args=[approved.screening_number]))
    assert "Meaning: enrolled" in page.content.decode()


def test_a_signer_with_an_authenticator_also_gives_its_current_code(
    client_as, mdt_member, in_review
):
    client = client_as("mdt")  # signed in before the device existed: nothing more owed
    device = TOTPDevice.objects.create(user=mdt_member, name="phone", confirmed=True)
    page = client.get(reverse("referral_decision", args=[in_review.screening_number]))
    assert 'name="otp_token"' in page.content.decode()

    without = _decide(client, in_review, password=PASSWORD)
    wrong = _decide(client, in_review, password=PASSWORD, otp_token="000000")
    assert "Give the current code of your authenticator app." in without.content.decode()
    assert "That code is not right: nothing was signed." in wrong.content.decode()
    assert not MdtDecision.objects.exists()

    device.refresh_from_db()
    device.throttle_reset()  # django-otp makes a member wait after a wrong code; time passes
    signed = _decide(client, in_review, password=PASSWORD, otp_token=f"{totp(device.bin_key):06d}")
    assert signed.status_code == 302
    assert Signature.objects.get().second_factor is True


def test_five_wrong_signature_passwords_lock_the_account(client_as, in_review):
    client = client_as("mdt")
    for _attempt in range(5):
        _decide(client, in_review, password="wrong")

    # Locked now: even the right password signs nothing, and the lockout page answers.
    locked = _decide(client, in_review, password=PASSWORD)

    assert locked.status_code == 429
    assert not MdtDecision.objects.exists()
    assert AccessAttempt.objects.get(username="mdt-member").failures_since_start >= 5
