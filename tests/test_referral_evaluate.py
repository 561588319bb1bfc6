"""The live eligibility panel beside the referral form: the posted data judged, nothing saved."""

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from screening.models import Evaluation, Referral
from tests.factories import days_ago, form_data
from tests.flows import amend
from tests.pages import find, find_all, text


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


@pytest.fixture
def language_restored():
    """A request in Chinese leaves Chinese active in this thread: put English back after."""
    with translation.override("en"):
        yield


def test_the_live_panel_words_the_criteria_with_the_protocol_in_force(client_as, data_manager):
    amend(data_manager, age_max=75)
    client = client_as("coordinator_wuwei")
    panel = client.post(reverse("referral_evaluate"), form_data(number=9, age=72)).content
    row = text(find(panel.decode(), "tr", **{"data-code": "I1"}))
    assert "Age 18–75 years (inclusive)" in row
    assert "age 72 (18-75)" in row
    assert "18–70" not in row


# Fails I2 only, and leaves the blood panel and ECOG to fill: eight fields for I4, I5 and I6.
EARLY_STAGE_WITHOUT_LABS = {
    "ct": "T2",
    "cn": "N0",
    "labs_date": None,
    **dict.fromkeys(("alt", "ast", "total_bilirubin", "creatinine"), None),
    **dict.fromkeys(("wbc", "anc", "platelets", "hemoglobin", "ecog"), None),
}


def test_the_live_panel_puts_the_failing_criterion_before_the_to_do_list(client_as):
    client = client_as("coordinator_wuwei")
    data = form_data(number=9, **EARLY_STAGE_WITHOUT_LABS)

    panel = client.post(reverse("referral_evaluate"), data).content.decode()

    outcome = text(find(panel, "div", class_="panel-outcome"))
    assert "Ineligible: I2 fails (cT2N0 is excluded (cT1-2N0M0))." in outcome
    failing = find(panel, "div", class_="failing")
    assert [dict(li.attributes)["data-code"] for li in find_all(str(failing), "li")] == ["I2"]
    assert "cT2N0 is excluded (cT1-2N0M0)" in text(failing)
    todo = find_all(str(find(panel, "div", class_="todo")), "li")
    assert [text(find(str(item), "strong")) for item in todo] == ["I4", "I5", "I6"]
    assert panel.index('class="failing') < panel.index('class="todo') < panel.index("<table")


def test_the_live_panel_names_every_failing_criterion_in_english_and_chinese(
    client_as, language_restored
):
    client = client_as("coordinator_wuwei")
    data = form_data(number=9, ct="T2", cn="N0", alt="250")

    english = client.post(reverse("referral_evaluate"), data).content.decode()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    chinese = client.post(reverse("referral_evaluate"), data).content.decode()

    assert (
        "Ineligible: I2 and I4 fail (I2: cT2N0 is excluded (cT1-2N0M0); "
        "I4: ALT 250 U/L is above 100 U/L)." in text(find(english, "div", class_="panel-outcome"))
    )
    assert (
        "不符合入组条件：I2 和 I4 未通过（I2：cT2N0 属排除范围（cT1-2N0M0）；"
        "I4：ALT 250 U/L，高于 100 U/L）。" in text(find(chinese, "div", class_="panel-outcome"))
    )
    failing = find(chinese, "div", class_="failing")
    assert [dict(li.attributes)["data-code"] for li in find_all(str(failing), "li")] == [
        "I2",
        "I4",
    ]
    assert "未通过的标准" in text(failing)


def test_stale_labs_ask_for_a_new_blood_panel_not_for_a_labs_date(client_as):
    data = form_data(screening_date=days_ago(1), labs_date=days_ago(41))
    response = client_as("coordinator_wuwei").post(reverse("referral_evaluate"), data)

    todo = text(find(response.content.decode(), class_="todo"))
    assert f"a new blood panel (the labs of {days_ago(41)} are 40 days old)" in todo
    assert "labs date" not in todo
