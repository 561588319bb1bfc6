"""Withdrawing a referral: confirmed with a reason, irreversible, and refused once done."""

from django.urls import reverse

from screening import services


def test_withdrawal_asks_for_confirmation_with_a_reason(client_as, wuwei_referral):
    client = client_as("coordinator_wuwei")
    url = reverse("referral_withdraw", args=[wuwei_referral.screening_number])
    confirm = client.get(url).content.decode()
    assert "This cannot be undone" in confirm
    assert 'name="reason"' in confirm

    blank = client.post(url, {"reason": "   "})
    assert blank.status_code == 200
    assert "Give the reason for the withdrawal." in blank.content.decode()
    wuwei_referral.refresh_from_db()
    assert wuwei_referral.status == "mdt_review"

    done = client.post(url, {"reason": "patient declined carbon-ion therapy"})
    assert done.status_code == 302
    wuwei_referral.refresh_from_db()
    assert wuwei_referral.status == "withdrawn"
    assert wuwei_referral.withdrawal_reason == "patient declined carbon-ion therapy"
    page = client.get(done.url).content.decode()
    assert "patient declined carbon-ion therapy" in page
    assert 'id="withdraw-modal"' not in page


def test_withdrawing_twice_is_refused_with_a_message(client_as, wuwei_referral):
    services.referral_withdraw(referral=wuwei_referral, reason="first")
    client = client_as("data_manager")
    url = reverse("referral_withdraw", args=[wuwei_referral.screening_number])
    response = client.post(url, {"reason": "second"}, follow=True)
    assert "cannot be withdrawn" in response.content.decode()
    wuwei_referral.refresh_from_db()
    assert wuwei_referral.withdrawal_reason == "first"


def test_a_withdrawal_racing_another_is_refused_with_a_message(
    client_as, wuwei_referral, withdrawn_first
):
    withdrawn_first("referral_withdraw")
    client = client_as("coordinator_wuwei")
    url = reverse("referral_withdraw", args=[wuwei_referral.screening_number])
    response = client.post(url, {"reason": "mine"}, follow=True)
    assert "cannot be withdrawn" in response.content.decode()
    wuwei_referral.refresh_from_db()
    assert wuwei_referral.withdrawal_reason == "withdrawn at the other desk"
