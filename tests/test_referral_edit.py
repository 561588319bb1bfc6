"""Editing a referral: the form comes filled in as entered, a save re-evaluates, and a closed
referral is no longer changed."""

from django.urls import reverse

from screening import services
from screening.models import Evaluation
from tests.factories import create_referral, form_data
from tests.pages import find, input_value, text


def test_editing_saves_the_changed_values_and_re_evaluates(client_as, wuwei_referral):
    assert wuwei_referral.outcome == "potentially_eligible"
    client = client_as("coordinator_wuwei")
    data = {
        **form_data(number=1),
        "platelets": "80",
        "hemoglobin": "9.5",
        "hemoglobin_unit": "g/dL",
    }
    url = reverse("referral_edit", args=[wuwei_referral.screening_number])
    without_reason = client.post(url, data)
    assert without_reason.status_code == 200
    assert "Give the reason for the change." in without_reason.content.decode()
    assert Evaluation.objects.filter(referral=wuwei_referral).count() == 1

    response = client.post(url, {**data, "change_reason": "Lab report of 2 May re-read"})
    assert response.status_code == 302
    wuwei_referral.refresh_from_db()
    assert wuwei_referral.platelets == 80
    assert (wuwei_referral.hemoglobin, wuwei_referral.hemoglobin_unit) == (95, "g/dL")
    assert wuwei_referral.outcome == "ineligible"
    assert wuwei_referral.status == "screen_failed"
    assert wuwei_referral.evaluation.results["I5"]["result"] == "fail"
    assert Evaluation.objects.filter(referral=wuwei_referral).count() == 2
    history = client.get(reverse("referral_history", args=[wuwei_referral.screening_number]))
    html = " ".join(history.content.decode().split())
    assert "changed platelets from" in html
    assert "Reason for the change: Lab report of 2 May re-read" in html


def test_the_edit_form_shows_labs_in_the_unit_they_were_entered_in(client_as):
    referral = create_referral(hemoglobin=12.1, hemoglobin_unit="g/dL")
    client = client_as("data_manager")
    page = client.get(reverse("referral_edit", args=[referral.screening_number])).content.decode()
    assert (input_value(page, "hemoglobin"), input_value(page, "hemoglobin_unit")) == (
        "12.1",
        "g/dL",
    )


def test_the_edit_form_comes_filled_in_and_saves_unchanged(client_as):
    referral = create_referral(number=1)
    client = client_as("coordinator_wuwei")
    url = reverse("referral_edit", args=[referral.screening_number])
    page = client.get(url).content.decode()
    stored = form_data(number=1)
    shown = {name: input_value(page, name) for name in stored}
    assert shown == stored
    assert "Needed to save" not in text(find(page, id="eligibility-panel"))
    # Saving the page as it came changes nothing but still records a new evaluation.
    response = client.post(url, {**shown, "change_reason": "Checked against the notes"})
    assert response.status_code == 302
    assert referral.evaluations.count() == 2


def test_a_withdrawn_referral_can_no_longer_be_edited(client_as, wuwei_referral):
    services.referral_withdraw(code="other", referral=wuwei_referral, reason="declined")
    client = client_as("coordinator_wuwei")
    number = wuwei_referral.screening_number
    response = client.post(
        reverse("referral_edit", args=[number]),
        {**form_data(number=1, ecog=3), "change_reason": "x"},
    )
    assert response.status_code == 302
    assert response.url == reverse("referral_detail", args=[number])
    wuwei_referral.refresh_from_db()
    assert wuwei_referral.ecog != 3
    page = client.get(response.url).content.decode()
    assert "can no longer change" in page
    assert reverse("referral_edit", args=[number]) not in page


def test_an_edit_racing_a_withdrawal_is_refused_with_a_message(
    client_as, wuwei_referral, withdrawn_first
):
    withdrawn_first("referral_update")
    client = client_as("coordinator_wuwei")
    url = reverse("referral_edit", args=[wuwei_referral.screening_number])
    response = client.post(
        url, {**form_data(number=1, ecog=3), "change_reason": "ECOG re-assessed"}, follow=True
    )
    assert "its data can no longer change" in response.content.decode()
    wuwei_referral.refresh_from_db()
    assert wuwei_referral.status == "withdrawn"
    assert wuwei_referral.ecog != 3


def test_a_refused_edit_keeps_its_reason_and_judges_the_rest(client_as, wuwei_referral):
    client = client_as("coordinator_wuwei")
    url = reverse("referral_edit", args=[wuwei_referral.screening_number])

    response = client.post(url, {**form_data(number=1, ecog="x"), "change_reason": "ECOG typo"})

    assert response.status_code == 200
    page = response.content.decode()
    assert "ECOG typo" in page
    assert 'id="eligibility-panel"' in page
