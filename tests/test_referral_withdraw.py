"""Withdrawing a referral: confirmed with a coded reason and its details, irreversible, and
refused once done."""

from django.urls import reverse

from screening import consort, services
from tests.factories import create_referral


def test_withdrawal_asks_for_confirmation_with_a_reason(client_as, wuwei_referral):
    client = client_as("coordinator_wuwei")
    url = reverse("referral_withdraw", args=[wuwei_referral.screening_number])
    confirm = client.get(url).content.decode()
    assert "This cannot be undone" in confirm
    assert 'name="code"' in confirm
    assert 'name="reason"' in confirm

    blank = client.post(url, {"code": "", "reason": "moved away"})
    assert blank.status_code == 200
    assert "Choose the reason for the withdrawal." in blank.content.decode()
    other_without_details = client.post(url, {"code": "other", "reason": "   "})
    assert "Describe the reason for the withdrawal." in other_without_details.content.decode()
    wuwei_referral.refresh_from_db()
    assert wuwei_referral.status == "mdt_review"

    done = client.post(url, {"code": "patient_choice", "reason": "prefers surgery"})
    assert done.status_code == 302
    wuwei_referral.refresh_from_db()
    assert wuwei_referral.status == "withdrawn"
    assert wuwei_referral.withdrawal_code == "patient_choice"
    assert wuwei_referral.withdrawal_reason == "prefers surgery"
    page = client.get(done.url).content.decode()
    assert "Patient&#x27;s choice" in page
    assert "prefers surgery" in page
    assert 'id="withdraw-modal"' not in page


def test_a_withdrawal_typed_as_declined_consent_counts_as_declined_consent(
    client_as, coordinator_wuwei
):
    approved = create_referral(user=coordinator_wuwei, status="mdt_approved")
    client = client_as("coordinator_wuwei")
    url = reverse("referral_withdraw", args=[approved.screening_number])

    client.post(url, {"code": "declined_consent", "reason": "Patient declined, family agreed"})

    approved.refresh_from_db()
    assert approved.withdrawal_code == "declined_consent"
    assert consort.consort_report().overall.declined_consent == 1


def test_withdrawing_twice_is_refused_with_a_message(client_as, wuwei_referral):
    services.referral_withdraw(code="other", referral=wuwei_referral, reason="first")
    client = client_as("data_manager")
    url = reverse("referral_withdraw", args=[wuwei_referral.screening_number])
    response = client.post(url, {"code": "other", "reason": "second"}, follow=True)
    assert "cannot be withdrawn" in response.content.decode()
    wuwei_referral.refresh_from_db()
    assert wuwei_referral.withdrawal_reason == "first"


def test_a_withdrawal_racing_another_is_refused_with_a_message(
    client_as, wuwei_referral, withdrawn_first
):
    withdrawn_first("referral_withdraw")
    client = client_as("coordinator_wuwei")
    url = reverse("referral_withdraw", args=[wuwei_referral.screening_number])
    response = client.post(url, {"code": "other", "reason": "mine"}, follow=True)
    assert "cannot be withdrawn" in response.content.decode()
    wuwei_referral.refresh_from_db()
    assert wuwei_referral.withdrawal_reason == "withdrawn at the other desk"


def test_a_withdrawal_reason_keeps_line_breaks_but_no_control_characters(client_as, wuwei_referral):
    client = client_as("coordinator_wuwei")
    url = reverse("referral_withdraw", args=[wuwei_referral.screening_number])

    refused = client.post(url, {"code": "other", "reason": "moved\x07 away"})
    wuwei_referral.refresh_from_db()
    assert refused.status_code == 200
    assert "Remove the invisible control character U+0007" in refused.content.decode()
    assert wuwei_referral.status == "mdt_review"

    done = client.post(url, {"code": "other", "reason": "moved away\r\nto Lanzhou"})
    wuwei_referral.refresh_from_db()
    assert done.status_code == 302
    assert wuwei_referral.withdrawal_reason == "moved away\r\nto Lanzhou"
