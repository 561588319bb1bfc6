"""The CDISC ODM 1.3.2 export: valid against the schema, pseudonymous, complete, streamed.

Who may download it is the access sweep's (test_access_sweep.py).
"""

import io
import pathlib
import xml.etree.ElementTree as ET

import odmlib
import pytest
import xmlschema
from django.core.management import call_command
from django.urls import reverse

from screening import odm, rules, services, units
from screening.forms.referrals import REFERRAL_KEYS
from screening.models import ExportLog, Referral
from screening.national_id import check_character
from tests.factories import create_referral, create_referrals
from tests.flows import approve, enrol, varied_trial

pytestmark = pytest.mark.django_db

SCHEMA_FILE = pathlib.Path(odmlib.__file__).parent / "schemas/odm/1.3.2/ODM1-3-2.xsd"
NS = {"odm": odm.NAMESPACE}


@pytest.fixture(scope="module")
def schema():
    return xmlschema.XMLSchema(str(SCHEMA_FILE))


def national_id(referral: Referral, serial: int) -> str:
    sex_digit = 1 if referral.sex == "M" else 2
    first17 = f"620602{referral.date_of_birth:%Y%m%d}{serial:02d}{sex_digit}"
    return first17 + check_character(first17)


@pytest.fixture
def trial(coordinator_wuwei, mdt_member, data_manager):
    """Every status, Chinese text, labs in both unit systems, national IDs, a voided decision
    and enrolments."""
    data = varied_trial(data_manager, mdt_member)
    conventional = create_referral(
        number=400,
        full_name="欧阳明月",
        referring_physician="赵医生（胸外科）",
        total_bilirubin="1.2",
        total_bilirubin_unit="mg/dL",
        creatinine="0.9",
        creatinine_unit="mg/dL",
        hemoglobin="12.5",
        hemoglobin_unit="g/dL",
        platelets="210",
        platelets_unit="10^3/uL",
    )
    voided = create_referral(number=401, full_name="上官婉儿")
    approve(voided, mdt_member)
    services.mdt_decision_void(referral=voided, user=mdt_member, reason="Wrong patient packet.")
    approve(voided, mdt_member)
    for serial, referral in enumerate(Referral.objects.order_by("pk")[:6], start=1):
        Referral.objects.filter(pk=referral.pk).update(national_id=national_id(referral, serial))
    return {**data, "conventional": conventional, "voided": voided}


def export_text() -> str:
    return b"".join(odm.OdmExport(Referral.objects.all(), complete=True).chunks()).decode()


def subject(root, screening_number):
    (found,) = root.findall(
        f"odm:ClinicalData/odm:SubjectData[@SubjectKey='{screening_number}']", NS
    )
    return found


def item_value(element, key):
    found = element.find(f".//odm:ItemData[@ItemOID='{odm.item_oid(key)}']", NS)
    return None if found is None else found.get("Value")


def test_the_export_validates_against_the_odm_schema_and_names_no_patient(trial, schema):
    text = export_text()

    errors = list(schema.iter_errors(text))
    assert errors == [], errors[:3]
    for full_name, hospital_number, national_id in Referral.objects.values_list(
        "full_name", "hospital_number", "national_id"
    ):
        assert full_name not in text
        assert hospital_number not in text
        assert national_id == "" or national_id not in text
    assert Referral.objects.exclude(national_id="").count() == 6
    for key in odm.LEFT_OUT:
        assert odm.item_oid(key) not in text
    # Free text written about the patient stays in the app.
    assert "Wrong patient packet." not in text
    assert "Fit for CIRT." not in text


def test_every_referral_is_a_subject_with_its_outcome_and_twelve_results(trial):
    root = ET.fromstring(export_text())

    subjects = root.findall("odm:ClinicalData/odm:SubjectData", NS)
    assert sorted(s.get("SubjectKey") for s in subjects) == sorted(
        Referral.objects.values_list("screening_number", flat=True)
    )
    assert {item_value(s, "status") for s in subjects} == set(Referral.Status.values)
    failed = trial["screened"][0]  # cM1: I2 fails
    failed_subject = subject(root, failed.screening_number)
    assert item_value(failed_subject, "outcome") == "ineligible"
    assert item_value(failed_subject, "I2") == "fail"
    assert item_value(failed_subject, "I1") == "pass"
    assert item_value(failed_subject, "age") == str(failed.age())
    assert failed_subject.find("odm:SiteRef", NS).get("LocationOID") == "LOC.WUWEI"
    # The Chinese referring physician, as typed.
    conventional = subject(root, trial["conventional"].screening_number)
    assert item_value(conventional, "referring_physician") == "赵医生（胸外科）"


def test_lab_values_keep_the_unit_they_were_entered_in(trial):
    root = ET.fromstring(export_text())
    conventional = subject(root, trial["conventional"].screening_number)
    si = subject(root, trial["enrolled"][0].screening_number)

    def lab(element, key):
        item = element.find(f".//odm:ItemData[@ItemOID='{odm.item_oid(key)}']", NS)
        unit = item.find("odm:MeasurementUnitRef", NS).get("MeasurementUnitOID")
        return item.get("Value"), unit

    assert lab(conventional, "creatinine") == ("0.9", "MU.MG_DL")
    assert lab(conventional, "total_bilirubin") == ("1.2", "MU.MG_DL")
    assert lab(conventional, "hemoglobin") == ("12.5", "MU.G_DL")
    assert lab(conventional, "platelets") == ("210", "MU.10_3_UL")
    assert Referral.objects.get(pk=trial["conventional"].pk).creatinine == units.to_si(
        "creatinine", 0.9, "mg/dL"
    )
    enrolled = Referral.objects.get(pk=trial["enrolled"][0].pk)
    assert lab(si, "creatinine") == (f"{enrolled.creatinine.normalize():f}", "MU.UMOL_L")
    assert lab(si, "hemoglobin")[1] == "MU.G_L"
    # Each unit used has its MeasurementUnit, and each lab's ItemDef lists its accepted units.
    defined = {u.get("OID") for u in root.iter(f"{{{odm.NAMESPACE}}}MeasurementUnit")}
    assert {"MU.MG_DL", "MU.G_DL", "MU.UMOL_L", "MU.G_L", "MU.10_3_UL"} <= defined
    creatinine = root.find(".//odm:ItemDef[@OID='IT.CREATININE']", NS)
    accepted = creatinine.findall("odm:MeasurementUnitRef", NS)
    assert [ref.get("MeasurementUnitOID") for ref in accepted] == [
        "MU.UMOL_L",
        "MU.MICROMOL_L",
        "MU.MG_DL",
    ]


def test_decisions_and_enrolment_carry_their_signatures(trial, mdt_member, data_manager):
    root = ET.fromstring(export_text())
    signature_defs = {d.get("OID") for d in root.iter(f"{{{odm.NAMESPACE}}}SignatureDef")}
    users = {u.get("OID") for u in root.iter(f"{{{odm.NAMESPACE}}}User")}
    locations = {loc.get("OID") for loc in root.iter(f"{{{odm.NAMESPACE}}}Location")}

    voided = subject(root, trial["voided"].screening_number)
    forms = voided.findall(".//odm:FormData[@FormOID='F.MDT_DECISION']", NS)
    assert [form.get("FormRepeatKey") for form in forms] == ["1", "2"]
    first, second = forms
    assert first.find("odm:Signature/odm:SignatureRef", NS).get("SignatureOID") == "SD.APPROVED"
    void_group = first.find("odm:ItemGroupData[@ItemGroupOID='IG.MDT_VOID']", NS)
    assert void_group.find("odm:Signature/odm:SignatureRef", NS).get("SignatureOID") == "SD.VOIDED"
    assert item_value(first, "superseded_at") is not None
    assert second.find("odm:ItemGroupData[@ItemGroupOID='IG.MDT_VOID']", NS) is None
    assert item_value(second, "superseded_at") is None

    enrolled = subject(root, trial["enrolled"][0].screening_number)
    enrolment = enrolled.find(".//odm:FormData[@FormOID='F.ENROLMENT']", NS)
    assert item_value(enrolment, "study_number") == "EC-001"
    signature = enrolment.find("odm:Signature", NS)
    assert signature.find("odm:SignatureRef", NS).get("SignatureOID") == "SD.ENROLLED"
    assert signature.find("odm:UserRef", NS).get("UserOID") == f"USR.{data_manager.pk}"
    assert first.find("odm:Signature/odm:UserRef", NS).get("UserOID") == f"USR.{mdt_member.pk}"
    # Every reference names an element of the file.
    for element in root.iter(f"{{{odm.NAMESPACE}}}SignatureRef"):
        assert element.get("SignatureOID") in signature_defs
    for element in root.iter(f"{{{odm.NAMESPACE}}}UserRef"):
        assert element.get("UserOID") in users
    for element in root.iter(f"{{{odm.NAMESPACE}}}LocationRef"):
        assert element.get("LocationOID") in locations


def test_each_value_has_the_audit_record_of_its_latest_change(trial, data_manager):
    waiting = trial["waiting"][-1]  # approved, then its tumour location was corrected
    root = ET.fromstring(export_text())

    item = subject(root, waiting.screening_number).find(
        ".//odm:ItemData[@ItemOID='IT.TUMOUR_LOCATION']", NS
    )
    assert item.get("Value") == "cervical"
    created = subject(root, waiting.screening_number).find(
        ".//odm:ItemData[@ItemOID='IT.SEX']/odm:AuditRecord", NS
    )
    changed = item.find("odm:AuditRecord", NS)
    assert changed.find("odm:UserRef", NS).get("UserOID") == f"USR.{data_manager.pk}"
    stamps = [record.find("odm:DateTimeStamp", NS).text for record in (created, changed)]
    assert stamps[1] >= stamps[0]
    sources = [record.find("odm:SourceID", NS).text for record in (created, changed)]
    created_event, changed_event = (int(source.rsplit(" ", 1)[1]) for source in sources)
    assert changed_event > created_event


def test_metadata_defines_every_pseudonymous_field_item_and_code_list(trial):
    root = ET.fromstring(export_text())

    item_defs = {d.get("OID"): d for d in root.iter(f"{{{odm.NAMESPACE}}}ItemDef")}
    fields = [k for k in REFERRAL_KEYS if k not in odm.LEFT_OUT and k not in odm.UNIT_KEYS]
    assert {odm.item_oid(key) for key in fields} <= set(item_defs)
    assert {odm.item_oid(code) for code in rules.CODES} <= set(item_defs)
    assert item_defs["IT.ALT"].get("DataType") == "float"
    assert item_defs["IT.ECOG"].get("DataType") == "integer"
    assert item_defs["IT.LABS_DATE"].get("DataType") == "date"
    assert item_defs["IT.SEX"].get("DataType") == "text"
    code_lists = {c.get("OID"): c for c in root.iter(f"{{{odm.NAMESPACE}}}CodeList")}
    for ref in root.iter(f"{{{odm.NAMESPACE}}}CodeListRef"):
        assert ref.get("CodeListOID") in code_lists
    decodes = code_lists["CL.SEX"].findall("odm:CodeListItem[@CodedValue='F']/odm:Decode/*", NS)
    assert [d.text for d in decodes] == ["Female", "女"]
    for data in root.iter(f"{{{odm.NAMESPACE}}}ItemData"):
        assert data.get("ItemOID") in item_defs
    global_variables = root.find("odm:Study/odm:GlobalVariables", NS)
    assert global_variables.find("odm:StudyName", NS).text == odm.TRIAL_TITLE
    assert root.get("ODMVersion") == "1.3.2"
    assert root.get("FileType") == "Snapshot"


def test_the_download_is_streamed_and_logged(client_as, data_manager, trial, schema):
    response = client_as("data_manager").get(reverse("export_odm"), {"site": "wuwei"})

    assert response.streaming
    assert response["Content-Type"] == "application/xml; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="trialscreen-EC-odm-')
    content = b"".join(response.streaming_content)
    assert list(schema.iter_errors(content.decode())) == []
    root = ET.fromstring(content)
    wuwei = Referral.objects.filter(site__code="wuwei")
    assert len(root.findall("odm:ClinicalData/odm:SubjectData", NS)) == wuwei.count()
    assert root.get("Granularity") is None  # a part of the trial
    entry = ExportLog.objects.get()
    assert (entry.kind, entry.file_format, entry.outcome, entry.exported_by) == (
        "odm",
        "xml",
        "delivered",
        data_manager,
    )
    assert entry.row_count == wuwei.count()


# Session, user with its roles, row count, the export log's insert, then the document: protocol,
# sites, users, the four cursors read side by side (referrals, audit events, decisions,
# signatures), and the export log's update.
@pytest.mark.parametrize("count", [10, 200])
def test_the_download_takes_the_same_queries_for_10_and_200_referrals(
    client_as, coordinator_wuwei, mdt_member, django_assert_num_queries, count
):
    referrals = create_referrals(count, site=("wuwei", "lanzhou"))
    for referral in referrals[:3]:
        approve(referral, mdt_member)
        enrol(referral, coordinator_wuwei)
    client = client_as("data_manager")

    with django_assert_num_queries(12):
        response = client.get(reverse("export_odm"))
        content = b"".join(response.streaming_content)

    root = ET.fromstring(content)
    assert len(root.findall("odm:ClinicalData/odm:SubjectData", NS)) == count


def test_the_command_writes_the_file_and_logs_the_run(trial, tmp_path, schema):
    path = tmp_path / "trial.xml"

    call_command("export_odm", "--output", str(path))

    text = path.read_text(encoding="utf-8")
    assert list(schema.iter_errors(text)) == []
    root = ET.fromstring(text)
    assert root.get("Granularity") == "All"
    assert len(root.findall("odm:ClinicalData/odm:SubjectData", NS)) == Referral.objects.count()
    entry = ExportLog.objects.get()
    assert (entry.kind, entry.file_format, entry.channel, entry.outcome) == (
        "odm",
        "xml",
        "command",
        "delivered",
    )


def test_a_control_character_in_free_text_does_not_break_the_xml(schema):
    referral = create_referral(number=1)
    Referral.objects.filter(pk=referral.pk).update(referring_physician="Dr\x01 Sun")

    text = export_text()

    assert list(schema.iter_errors(text)) == []
    assert "Dr\ufffd Sun" in text


def test_chunks_come_out_while_the_subjects_are_written(coordinator_wuwei, monkeypatch):
    monkeypatch.setattr(odm, "SUBJECTS_PER_CHUNK", 2)
    create_referrals(5)

    chunks = list(odm.OdmExport(Referral.objects.all(), complete=True).chunks())

    assert len(chunks) >= 5
    assert b"".join(chunks).count(b"<SubjectData ") == 5
    assert io.BytesIO(b"".join(chunks)).read(5) == b"<?xml"
