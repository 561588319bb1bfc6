"""The live eligibility panel beside the referral form: the posted data judged, nothing saved."""

from django.urls import reverse

from screening.models import Evaluation, Referral
from tests.factories import form_data
from tests.flows import amend
from tests.pages import find, text


def test_the_live_panel_judges_the_posted_data_without_saving(client_as):
    client = client_as("coordinator_wuwei")
    data = form_data(number=9, alt="250", ct="T2", cn="N0")
    response = client.post(reverse("referral_evaluate"), data)
    panel = response.content.decode()
    assert response.status_code == 200
    assert "Ineligible" in panel
    assert "ALT 250 U/L is above 100" in panel
    assert "cT2N0 is excluded (cT1-2N0M0)" in panel
    assert panel.count('class="criterion criterion-') == 12
    assert not Referral.objects.exists()
    assert not Evaluation.objects.exists()


def test_the_live_panel_judges_what_is_valid_and_counts_the_errors(client_as):
    client = client_as("coordinator_wuwei")
    # Hemoglobin 130 g/dL is 1300 g/L: refused, so I5 is unknown; everything else still counts.
    data = form_data(number=9, hemoglobin="130", hemoglobin_unit="g/dL", full_name="")
    panel = client.post(reverse("referral_evaluate"), data).content.decode()
    assert "1 field has an error and counts as not given" in panel
    assert 'href="#div_id_hemoglobin"' in panel
    assert "Needed to save" in panel
    assert 'href="#div_id_full_name"' in panel
    assert "Incomplete" in panel
    assert "missing: hemoglobin" in panel
    assert "age 62 (18-70)" in panel


def test_the_live_panel_lists_what_is_missing(client_as):
    client = client_as("data_manager")
    panel = client.post(reverse("referral_evaluate"), {"sex": "F"}).content.decode()
    assert "To do" in panel
    for key in ("date_of_birth", "ct", "labs_date", "ecog", "pregnant_or_breastfeeding"):
        assert f'href="#div_id_{key}"' in panel, key


def test_the_live_panel_for_an_edit_does_not_count_the_referral_as_its_own_duplicate(
    client_as, wuwei_referral
):
    client = client_as("coordinator_wuwei")
    url = reverse("referral_evaluate") + f"?referral={wuwei_referral.screening_number}"
    panel = client.post(url, form_data(number=1)).content.decode()
    assert "has an error" not in panel
    assert "Potentially eligible" in panel
    new_panel = client.post(reverse("referral_evaluate"), form_data(number=1)).content.decode()
    assert 'href="#div_id_hospital_number"' in new_panel


def test_the_live_panel_refuses_get(client_as):
    client = client_as("coordinator_wuwei")
    assert client.get(reverse("referral_evaluate")).status_code == 405


def test_the_live_panel_words_the_criteria_with_the_protocol_in_force(client_as, data_manager):
    amend(data_manager, age_max=75)
    client = client_as("coordinator_wuwei")
    panel = client.post(reverse("referral_evaluate"), form_data(number=9, age=72)).content
    row = text(find(panel.decode(), "tr", **{"data-code": "I1"}))
    assert "Age 18–75 years (inclusive)" in row
    assert "age 72 (18-75)" in row
    assert "18–70" not in row
