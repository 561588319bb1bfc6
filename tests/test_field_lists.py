"""The lists of referral fields agree: PROTOCOL section 3's keys, the form, the model, the rules'
snapshot and labels, the import and the exports each name the same fields."""

import pytest
from django.db.models import CheckConstraint

from screening import exports, imports, rules, units
from screening.forms.referrals import REFERRAL_KEYS, SECTIONS, ReferralForm
from screening.models import (
    MEASUREMENTS,
    TRI_STATE_FIELDS,
    ProtocolVersion,
    Referral,
    TriState,
)
from tests.factories import referral_data

# PROTOCOL section 3 (the form asks the dosimetry last); each lab key comes with `<key>_unit`.
PROTOCOL_KEYS = (
    "site",
    "hospital_number",
    "full_name",
    "sex",
    "date_of_birth",
    "national_id",
    "referral_date",
    "screening_date",
    "referring_physician",
    "pathology_confirmed",
    "histology",
    "tumour_location",
    "ct",
    "cn",
    "cm",
    "prior_esophageal_radiotherapy",
    "prior_esophageal_surgery",
    "labs_date",
    "alt",
    "ast",
    "total_bilirubin",
    "creatinine",
    "creatinine_clearance",
    "wbc",
    "anc",
    "platelets",
    "hemoglobin",
    "ecog",
    "lvef_percent",
    "fev1_litres",
    "cardiac_event_within_6_months",
    "uncontrolled_arrhythmia",
    "interstitial_lung_disease",
    "dosimetry_status",
    "lung_v20_percent",
    "lung_mean_dose_gy",
    "heart_v30_percent",
    "spinal_cord_max_gy",
    "fistula_or_perforation",
    "deep_ulceration",
    "perforation_risk_other",
    "abdominal_lymph_node_metastasis",
    "cardiac_implantable_device",
    "metal_implant_in_treatment_region",
    "pregnant_or_breastfeeding",
    "active_connective_tissue_disease",
    "prior_thoracic_radiotherapy_overlap",
    "other_absolute_rt_contraindication",
)
UNIT_KEYS = tuple(f"{key}_unit" for key in units.LAB_KEYS)
MODEL_FIELDS = {field.name: field for field in Referral._meta.get_fields()}


def test_the_form_asks_exactly_the_protocol_keys_and_the_lab_units():
    assert sorted(REFERRAL_KEYS) == sorted((*PROTOCOL_KEYS, *UNIT_KEYS))
    assert [name for _title, names in SECTIONS for name in names] == list(REFERRAL_KEYS)


@pytest.mark.django_db
def test_the_form_fields_are_the_referral_keys():
    form = ReferralForm(protocol=ProtocolVersion.current())

    assert list(form.fields) == list(REFERRAL_KEYS)


def test_every_referral_key_is_a_model_field_with_a_label():
    for key in REFERRAL_KEYS:
        assert key in MODEL_FIELDS, key
        assert str(MODEL_FIELDS[key].verbose_name), key


def test_the_snapshot_holds_every_key_the_criteria_read_and_each_has_a_label():
    assert list(rules.FIELD_LABELS) == list(rules.SNAPSHOT_KEYS)
    not_judged = [key for key in PROTOCOL_KEYS if key not in rules.SNAPSHOT_KEYS]
    assert not_judged == [
        "site",
        "hospital_number",
        "full_name",
        "national_id",
        "referral_date",
        "referring_physician",
        "tumour_location",
    ]
    assert set(rules.SNAPSHOT_KEYS) <= set(PROTOCOL_KEYS)


def test_the_tri_state_list_is_every_yes_no_unknown_column():
    tri_state = [
        name
        for name, field in MODEL_FIELDS.items()
        if getattr(field, "choices", None) == TriState.choices
    ]
    assert tri_state == list(TRI_STATE_FIELDS)


def test_every_measurement_range_is_a_validator_and_a_check_constraint():
    constraints = {
        constraint.name: constraint
        for constraint in Referral._meta.constraints
        if isinstance(constraint, CheckConstraint)
    }
    for name, (low, high, _unit) in MEASUREMENTS.items():
        limits = {
            validator.limit_value
            for validator in MODEL_FIELDS[name].validators
            if hasattr(validator, "limit_value")
        }
        assert {low, high} <= limits, name
        assert f"screening_referral_{name}_range" in constraints, name
    for key in units.LAB_KEYS:
        assert f"screening_referral_{key}_range" in constraints, key


@pytest.mark.django_db
def test_the_import_takes_every_referral_key_and_no_other():
    row = dict.fromkeys(REFERRAL_KEYS, "") | referral_data()
    _cleaned, errors = imports.validate_rows(
        [row, {**row, "hospital_number": "H-2", "favourite_colour": "blue"}],
        protocol=ProtocolVersion.current(),
    )

    assert [str(error) for error in errors] == ["row 2: favourite_colour: unknown field"]


def test_every_export_column_has_a_header():
    columns = {
        *exports.SCREENING_LOG_COLUMNS,
        *exports.ENROLMENT_COLUMNS,
        *exports.IDENTIFICATION_COLUMNS,
        *exports.screening_log_columns(identified=True),
    }
    assert columns - set(exports.COLUMN_HEADERS) == set(rules.CODES)
