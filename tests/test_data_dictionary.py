"""The data dictionary: every referral field and every export column, in both languages.

Who may download it is the access sweep's (test_access_sweep.py).
"""

import csv
import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from screening import dictionary, exports, rules
from screening.forms.referrals import REFERRAL_KEYS
from screening.models import ExportLog
from tests.flows import amend

pytestmark = pytest.mark.django_db


def csv_rows(response) -> list[dict]:
    text = response.content.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def by_key(client_as) -> dict[str, dict]:
    response = client_as("mdt").get(reverse("data_dictionary_csv"))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return {row["key"]: row for row in csv_rows(response)}


def test_it_covers_every_referral_field_and_every_export_column(by_key):
    columns = (
        *REFERRAL_KEYS,
        *exports.SCREENING_LOG_COLUMNS,
        *exports.screening_log_columns(identified=True),
        *exports.ENROLMENT_COLUMNS,
        *exports.IDENTIFICATION_COLUMNS,
    )
    assert set(columns) <= set(by_key)
    assert len(by_key) == len(set(columns))
    assert all(row["label_en"] and row["label_zh"] for row in by_key.values())
    assert by_key["sex"]["appears_in"] == "referral, screening_log, enrolment"
    assert by_key["national_id"]["appears_in"] == "referral, identification"


def test_labels_and_allowed_values_are_given_in_english_and_chinese(by_key):
    sex = by_key["sex"]
    assert (sex["label_en"], sex["label_zh"]) == ("sex", "性别")
    assert sex["allowed_values_en"] == "M=Male; F=Female"
    assert sex["allowed_values_zh"] == "M=男; F=女"
    assert by_key["pathology_confirmed"]["allowed_values_en"] == "yes=Yes; no=No; unknown=Unknown"
    assert by_key["site"]["allowed_values_en"].startswith("lanzhou=")
    assert by_key["I1"]["label_en"] == "I1: Age 18–70 years (inclusive)"
    assert by_key["I1"]["allowed_values_en"] == "pass=Pass; fail=Fail; unknown=Unknown"
    assert "年龄" in by_key["I1"]["label_zh"]


def test_labs_give_their_units_and_the_factor_to_si(by_key):
    creatinine = by_key["creatinine"]
    assert creatinine["type"] == "decimal"
    assert creatinine["units"] == "umol/L; µmol/L; mg/dL"
    assert creatinine["conversion_to_si"] == "umol/L ×1 (SI); µmol/L ×1; mg/dL ×88.4"
    assert creatinine["range"] == "10–2000 umol/L"
    assert creatinine["criteria"] == "I4"
    assert by_key["hemoglobin_unit"]["allowed_values_en"] == "g/L=g/L; g/dL=g/dL"
    assert by_key["lvef_percent"]["units"] == "%"
    assert by_key["ecog"]["type"] == "integer"
    assert by_key["labs_date"]["type"] == "date"


def test_each_field_names_the_criteria_that_read_it(by_key):
    assert by_key["labs_date"]["criteria"] == "I4, I5"
    assert by_key["screening_date"]["criteria"] == "I1, I4, I5"
    assert by_key["sex"]["criteria"] == "E6"
    assert by_key["dosimetry_status"]["criteria"] == "E2"
    assert by_key["tumour_location"]["criteria"] == ""
    # Every criterion reads something the dictionary lists.
    read = {code for row in by_key.values() for code in row["criteria"].split(", ") if code}
    assert read == set(rules.CODES)
    assert by_key["date_of_birth"]["required"] == "yes"
    assert by_key["screening_date"]["required"] == "no"  # defaults to the referral date
    assert by_key["age"]["required"] == ""


def test_criterion_labels_follow_the_protocol_in_force(client_as, data_manager):
    amend(data_manager, age_max=75)

    rows = csv_rows(client_as("data_manager").get(reverse("data_dictionary_csv")))

    (i1,) = [row for row in rows if row["key"] == "I1"]
    assert i1["label_en"] == "I1: Age 18–75 years (inclusive)"


def test_the_xlsx_holds_the_csv_rows_and_nothing_is_logged(client_as):
    client = client_as("data_manager")
    from_csv = csv_rows(client.get(reverse("data_dictionary_csv")))
    response = client.get(reverse("data_dictionary_xlsx"))

    sheet = load_workbook(io.BytesIO(response.content)).active
    header, *rows = [
        ["" if value is None else str(value) for value in row]
        for row in sheet.iter_rows(values_only=True)
    ]
    assert header == list(dictionary.COLUMNS)
    assert [dict(zip(header, row, strict=True)) for row in rows] == from_csv
    assert 'filename="trialscreen-EC-data-dictionary-' in response["Content-Disposition"]
    assert not ExportLog.objects.exists()
