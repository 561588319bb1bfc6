"""The laboratory results intake: a FHIR R4 Bundle read, previewed beside the referral and
saved only for the values the coordinator accepts."""

import datetime
import json
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from screening import units
from screening.models import Referral, ReferralEvent
from screening.national_id import check_character
from tests import fhir_bundles as fb
from tests.factories import create_referral

pytestmark = pytest.mark.django_db

Status = Referral.Status

NO_LABS = {
    "labs_date": None,
    **dict.fromkeys(units.LAB_KEYS),
    **{f"{key}_unit": None for key in units.LAB_KEYS},
}


@pytest.fixture
def coordinator(client, coordinator_wuwei):
    client.force_login(coordinator_wuwei)
    return coordinator_wuwei


def labs_url(referral):
    return reverse("referral_labs", args=[referral.screening_number])


def preview(client, referral, text, *, file_name=None):
    if file_name:
        upload = SimpleUploadedFile(file_name, text.encode(), content_type="application/json")
        return client.post(labs_url(referral), {"file": upload})
    return client.post(labs_url(referral), {"bundle": text})


def accept(client, referral, keys=units.LAB_KEYS, reason="Results from the laboratory system"):
    body = {"accept": "1", "change_reason": reason, **{f"accept_{key}": "on" for key in keys}}
    return client.post(labs_url(referral), body)


def fresh(referral):
    return Referral.objects.get(pk=referral.pk)


# The stored SI value and entered unit of each panel's values.
EXPECTED = {
    "si": {
        "alt": ("32", "U/L"),
        "ast": ("28", "U/L"),
        "total_bilirubin": ("12.3", "umol/L"),
        "creatinine": ("76", "umol/L"),
        "creatinine_clearance": ("95", "mL/min"),
        "wbc": ("6.1", "10^9/L"),
        "anc": ("3.4", "10^9/L"),
        "platelets": ("210", "10^9/L"),
        "hemoglobin": ("132", "g/L"),
    },
    "conventional": {
        "alt": ("32", "IU/L"),
        "ast": ("28", "U/L"),
        "total_bilirubin": ("13.68", "mg/dL"),
        "creatinine": ("97.24", "mg/dL"),
        "creatinine_clearance": ("95", "mL/min"),
        "wbc": ("6.1", "10^3/uL"),
        "anc": ("3.4", "10^3/uL"),
        "platelets": ("210", "10^3/uL"),
        "hemoglobin": ("132", "g/dL"),
    },
}


@pytest.mark.parametrize(
    ("system", "panel"), [("si", fb.SI_PANEL), ("conventional", fb.CONVENTIONAL_PANEL)]
)
def test_every_mapped_code_lands_as_the_stored_value(client, coordinator, system, panel):
    referral = create_referral(**NO_LABS)
    assert referral.status == Status.SCREENING
    day = referral.screening_date
    text = fb.bundle(referral, fb.panel(panel, day=day))
    assert preview(client, referral, text).status_code == 200
    response = accept(client, referral)
    assert response.status_code == 302
    saved = fresh(referral)
    for key, (value, unit) in EXPECTED[system].items():
        assert getattr(saved, key) == Decimal(value), key
        assert getattr(saved, f"{key}_unit") == unit, key
    assert saved.labs_date == day
    assert saved.status == Status.MDT_REVIEW


def test_a_bilirubin_in_mg_dl_is_converted_and_fails_i4_in_the_preview(client, coordinator):
    referral = create_referral(**NO_LABS)
    results = fb.panel(day=referral.screening_date)
    results[2] = fb.obs("total_bilirubin", "2.5", "mg/dL", day=referral.screening_date)
    response = preview(client, referral, fb.bundle(referral, results))
    content = response.content.decode()
    assert "2.5 mg/dL" in content
    assert "(= 42.75 umol/L)" in content
    assert 'class="criterion criterion-fail" data-code="I4"' in content
    accept(client, referral)
    saved = fresh(referral)
    assert saved.total_bilirubin == Decimal("42.75")
    assert saved.status == Status.SCREEN_FAILED


def national_id_for(referral, serial="123"):
    sex_digit = {"M": "1", "F": "2"}[referral.sex]
    first17 = "620102" + referral.date_of_birth.strftime("%Y%m%d") + serial[:2] + sex_digit
    return first17 + check_character(first17)


@pytest.mark.parametrize(
    "patient",
    [
        lambda referral: fb.patient_resource(name="欧阳修", birth_date=referral.date_of_birth),
        lambda referral: fb.patient_resource(
            name=referral.full_name, birth_date=referral.date_of_birth - datetime.timedelta(1)
        ),
    ],
    ids=["other name", "other birth date"],
)
def test_a_bundle_for_another_patient_is_refused(client, coordinator, patient):
    referral = create_referral(**NO_LABS)
    text = fb.bundle(results=fb.panel(day=referral.screening_date), patient=patient(referral))
    response = preview(client, referral, text)
    content = response.content.decode()
    assert "Wrong patient" in content
    assert "Nothing was taken in." in content
    assert f"fhir_labs:{referral.screening_number}" not in client.session
    assert accept(client, referral).status_code == 302
    assert fresh(referral).alt is None


def test_the_national_id_decides_when_both_have_one(client, coordinator):
    referral = create_referral(**NO_LABS)
    referral.national_id = national_id_for(referral)
    Referral.objects.filter(pk=referral.pk).update(national_id=referral.national_id)
    other = fb.patient_resource(
        name=referral.full_name,
        birth_date=referral.date_of_birth,
        national_id=national_id_for(referral, serial="45"),
    )
    text = fb.bundle(results=fb.panel(day=referral.screening_date), patient=other)
    content = preview(client, referral, text).content.decode()
    assert "Wrong patient: the Bundle&#x27;s patient has national ID" in content
    # Same ID under another system URI, and another spelling of the name: accepted.
    same = fb.patient_resource(
        name="Someone Else",
        birth_date=referral.date_of_birth,
        national_id=referral.national_id,
        system="urn:oid:1.2.3",
    )
    text = fb.bundle(results=fb.panel(day=referral.screening_date), patient=same)
    assert 'name="accept_alt"' in preview(client, referral, text).content.decode()


def test_an_observation_about_another_subject_is_refused(client, coordinator):
    referral = create_referral(**NO_LABS)
    data = fb.bundle_dict(referral, fb.panel(day=referral.screening_date))
    data["entry"][3]["resource"]["subject"] = {"reference": "Patient/someone-else"}
    content = preview(client, referral, json.dumps(data)).content.decode()
    assert "entry 3 (urn:uuid:00000000-0000-4000-8000-000000000003) is about" in content


def test_preliminary_results_are_not_proposed_and_amended_ones_are(client, coordinator):
    referral = create_referral(**NO_LABS)
    day = referral.screening_date
    results = [
        *fb.panel(day=day, only=("alt", "ast", "total_bilirubin", "creatinine", "wbc", "anc")),
        fb.obs("platelets", "180", "10*9/L", day=day, status="amended", ident="plt-amended"),
        fb.obs("hemoglobin", "60", "g/L", day=day, status="preliminary", ident="hb-prelim"),
    ]
    content = preview(client, referral, fb.bundle(referral, results)).content.decode()
    assert 'name="accept_platelets"' in content
    assert 'name="accept_hemoglobin"' not in content
    assert "status &#x27;preliminary&#x27;: only final and amended results are proposed" in content
    accept(client, referral, keys=units.LAB_KEYS)
    saved = fresh(referral)
    assert saved.platelets == 180
    assert saved.hemoglobin is None


def test_unknown_codes_are_listed_as_ignored(client, coordinator):
    referral = create_referral(**NO_LABS)
    results = [
        *fb.panel(day=referral.screening_date),
        fb.obs(None, "140", "mmol/L", code="2951-2", day=referral.screening_date),
    ]
    content = preview(client, referral, fb.bundle(referral, results)).content.decode()
    assert "2951-2: not a LOINC code of the screening panel" in content


def test_stale_and_fresh_days_are_not_mixed(client, coordinator):
    referral = create_referral(**NO_LABS)
    fresh_day = referral.screening_date - datetime.timedelta(days=2)
    stale_day = referral.screening_date - datetime.timedelta(days=40)
    results = [
        *fb.panel(day=stale_day),
        # The newest day has only two values: the latest complete panel is proposed.
        fb.obs("alt", "250", "U/L", day=referral.screening_date, ident="alt-newest"),
        *fb.panel(fb.CONVENTIONAL_PANEL, day=fresh_day),
    ]
    content = preview(client, referral, fb.bundle(referral, results)).content.decode()
    assert f"Proposed: the panel of {fresh_day.isoformat()}" in content
    assert "Results of other days, not proposed" in content
    assert f"{referral.screening_date.isoformat()} · ALT 250 U/L · alt-newest" in content
    assert f"{stale_day.isoformat()} · " in content
    accept(client, referral)
    saved = fresh(referral)
    assert saved.labs_date == fresh_day
    assert saved.alt == 32
    assert saved.hemoglobin == 132 and saved.hemoglobin_unit == "g/dL"


def test_only_the_ticked_values_are_saved(client, coordinator):
    referral = create_referral(**NO_LABS)
    preview(client, referral, fb.bundle(referral, fb.panel(day=referral.screening_date)))
    accept(client, referral, keys=("alt", "ast"))
    saved = fresh(referral)
    assert (saved.alt, saved.ast, saved.wbc) == (32, 28, None)
    assert saved.labs_date == referral.screening_date


def test_nothing_is_saved_before_the_user_accepts(client, coordinator):
    referral = create_referral(**NO_LABS)
    events = ReferralEvent.objects.filter(pgh_obj_id=referral.pk).count()
    text = fb.bundle(referral, fb.panel(day=referral.screening_date))
    response = preview(client, referral, text, file_name="lab-export.json")
    assert "Read from lab-export.json" in response.content.decode()
    assert ReferralEvent.objects.filter(pgh_obj_id=referral.pk).count() == events
    assert fresh(referral).alt is None
    # Accepting without a reason saves nothing either.
    response = accept(client, referral, reason=" ")
    assert "Give the reason for the change." in response.content.decode()
    assert fresh(referral).alt is None


def test_the_history_shows_the_source(client, coordinator):
    referral = create_referral(**NO_LABS)
    text = fb.bundle(referral, fb.panel(day=referral.screening_date))
    preview(client, referral, text, file_name="lab-export.json")
    response = client.post(
        labs_url(referral),
        {"accept": "1", "change_reason": "Results from the laboratory system", "accept_alt": "on"},
        follow=True,
    )
    assert "saved from lab-export.json" in response.content.decode()
    assert "32 U/L" in response.content.decode()
    history = client.get(reverse("referral_history", args=[referral.screening_number]))
    content = history.content.decode()
    assert "Data from: FHIR Bundle lab-export.json, Observation obs-1" in content
    assert "Reason for the change: Results from the laboratory system" in content


def test_the_bundle_is_read_again_from_the_server_on_accept(client, coordinator):
    referral = create_referral(**NO_LABS)
    response = accept(client, referral)
    assert response.status_code == 302
    assert response.url == labs_url(referral)
    assert fresh(referral).alt is None


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda data: data["entry"][1]["resource"].pop("code"),
            "Not valid FHIR: entry 1 (urn:uuid:00000000-0000-4000-8000-000000000001), code:",
        ),
        (
            lambda data: data["entry"][2]["resource"].update(effectiveDateTime="20/11/2026"),
            "entry 2 (urn:uuid:00000000-0000-4000-8000-000000000002), effectiveDateTime:",
        ),
        (
            lambda data: data["entry"][1]["resource"].update(status="done"),
            "entry 1 (urn:uuid:00000000-0000-4000-8000-000000000001), status: &#x27;done&#x27;",
        ),
        (lambda data: data.update(resourceType="Patient"), "Not a FHIR Bundle"),
    ],
    ids=["no code", "bad date", "bad status", "not a bundle"],
)
def test_invalid_fhir_is_refused_naming_the_entry(client, coordinator, change, expected):
    referral = create_referral(**NO_LABS)
    data = fb.bundle_dict(referral, fb.panel(day=referral.screening_date))
    change(data)
    content = preview(client, referral, json.dumps(data)).content.decode()
    assert expected in content
    assert "Nothing was taken in." in content


def test_not_json_is_refused(client, coordinator):
    referral = create_referral(**NO_LABS)
    assert "Not JSON" in preview(client, referral, "<xml/>").content.decode()


def test_an_implausible_value_is_not_proposed(client, coordinator):
    referral = create_referral(**NO_LABS)
    results = fb.panel(day=referral.screening_date)
    results[-1] = fb.obs("hemoglobin", "132", "g/dL", day=referral.screening_date)
    content = preview(client, referral, fb.bundle(referral, results)).content.decode()
    assert 'name="accept_hemoglobin"' not in content
    assert "check the unit" in content


def test_results_after_the_screening_date_are_refused_on_accept(client, coordinator):
    referral = create_referral(**NO_LABS, screening_date=fb.days_ago(5).isoformat())
    text = fb.bundle(referral, fb.panel(day=fb.days_ago(1)))
    assert "after the screening date" in preview(client, referral, text).content.decode()
    response = accept(client, referral)
    assert response.status_code == 200
    assert fresh(referral).alt is None


def test_fresh_labs_keep_an_mdt_approval(client, coordinator):
    referral = create_referral(status=Status.MDT_APPROVED, user=coordinator)
    text = fb.bundle(referral, fb.panel(day=referral.screening_date))
    content = preview(client, referral, text).content.decode()
    assert "Saving keeps the MDT's approval." in content
    accept(client, referral)
    assert fresh(referral).status == Status.MDT_APPROVED


def test_a_closed_referral_is_refused(client, coordinator):
    referral = create_referral(status=Status.WITHDRAWN, user=coordinator)
    response = client.get(labs_url(referral))
    assert response.status_code == 302
    assert response.url == reverse("referral_detail", args=[referral.screening_number])


def test_the_referral_page_links_the_intake_for_those_who_may_edit(client, coordinator, mdt_member):
    referral = create_referral()
    detail = reverse("referral_detail", args=[referral.screening_number])
    assert labs_url(referral) in client.get(detail).content.decode()
    client.force_login(mdt_member)
    assert labs_url(referral) not in client.get(detail).content.decode()


def test_a_bundle_without_its_patient_is_refused(client, coordinator):
    referral = create_referral(**NO_LABS)
    data = fb.bundle_dict(referral, fb.panel(day=referral.screening_date))
    del data["entry"][0]
    content = preview(client, referral, json.dumps(data)).content.decode()
    assert "The Bundle must hold exactly one Patient" in content
    assert fresh(referral).alt is None


def test_the_name_is_matched_as_family_and_given_name(client, coordinator):
    referral = create_referral(**NO_LABS)
    patient = fb.patient_resource(name=referral.full_name, birth_date=referral.date_of_birth)
    del patient["name"][0]["text"]
    text = fb.bundle(results=fb.panel(day=referral.screening_date), patient=patient)
    assert 'name="accept_alt"' in preview(client, referral, text).content.decode()
