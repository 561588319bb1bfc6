"""import_referrals and export_screening_log from the command line."""

import csv
import datetime
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from screening import rules
from screening.imports import validate_rows
from screening.models import Evaluation, ProtocolVersion, Referral
from tests.factories import UserFactory, days_ago, referral_data

pytestmark = pytest.mark.django_db

EXAMPLES = Path(__file__).parent / "data" / "example_referrals.json"


def write_json(tmp_path, rows, name="referrals.json"):
    path = tmp_path / name
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    return path


def write_csv(tmp_path, rows, *, bom=True, name="referrals.csv"):
    columns = sorted({key for row in rows for key in row})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    path = tmp_path / name
    path.write_text(("\ufeff" if bom else "") + buffer.getvalue(), encoding="utf-8")
    return path


def import_errors(path, capsys) -> str:
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_referrals", str(path))
    return capsys.readouterr().err


def exported_log(*args) -> list[dict]:
    out = io.StringIO()
    call_command("export_screening_log", "--format", "json", *args, stdout=out)
    return json.loads(out.getvalue())


def test_valid_file_imports_and_evaluates(tmp_path, capsys):
    path = write_json(
        tmp_path, [referral_data(number=1), referral_data(number=2, ct="T1", cn="N0")]
    )

    call_command("import_referrals", str(path))

    assert "imported 2 referral(s): ineligible 1, potentially_eligible 1" in capsys.readouterr().out
    assert Referral.objects.count() == 2
    assert Evaluation.objects.count() == 2


def test_csv_with_bom_and_chinese_names_imports(tmp_path):
    path = write_csv(tmp_path, [referral_data(full_name="王建国", hospital_number="住院001")])

    call_command("import_referrals", str(path))

    referral = Referral.objects.get()
    assert referral.full_name == "王建国"
    assert referral.hospital_number == "住院001"
    assert referral.status == Referral.Status.MDT_REVIEW


def test_examples_import_and_export_with_expected_results(tmp_path):
    examples = json.loads(EXAMPLES.read_text(encoding="utf-8"))
    rows = [example["referral"] for example in examples]
    call_command("import_referrals", str(write_json(tmp_path, rows)))

    exported = {row["hospital_number"]: row for row in exported_log("--identified")}

    for example in examples:
        row = exported[example["referral"]["hospital_number"]]
        expected = example["expected"]
        assert row["outcome"] == expected["outcome"], example["referral"]["hospital_number"]
        assert {code: row[code] for code in rules.CODES} == {
            code: expected[code] for code in rules.CODES
        }
        assert row["full_name"] == example["referral"]["full_name"]


def test_examples_file_with_wrapped_objects_imports_as_is(capsys):
    call_command("import_referrals", str(EXAMPLES))

    assert "imported 5 referral(s)" in capsys.readouterr().out


def test_pseudonymous_export_has_exactly_the_protocol_keys(tmp_path):
    call_command("import_referrals", str(write_json(tmp_path, [referral_data()])))

    (row,) = exported_log()

    assert list(row) == [
        "screening_number", "site", "referral_date", "screening_date", "age", "sex",
        "histology", "ct", "cn", "cm", "stage_group", "outcome", "status",
        "I1", "I2", "I3", "I4", "I5", "I6", "E1", "E2", "E3", "E4", "E5", "E6",
        "reasons", "protocol_version", "mdt_decision", "mdt_decision_date",
        "mdt_decision_signature", "study_number", "previous_screening_number",
        "withdrawal_reason", "consent_date",
    ]  # fmt: skip
    assert row["screening_number"].startswith("S-")
    assert row["mdt_decision"] is None
    assert row["protocol_version"] == 1


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"hemoglobin": 26, "hemoglobin_unit": "g/dL"}, "hemoglobin", "check the unit"),
        ({"alt": 6000}, "alt", "check the unit"),
        ({"creatinine": 5, "creatinine_unit": "umol/L"}, "creatinine", "check the unit"),
        ({"total_bilirubin": 1, "total_bilirubin_unit": "mmol/L"}, "total_bilirubin_unit", "mg/dL"),
        ({"national_id": "620602195804210316"}, "national_id", "check character"),
        ({"ecog": 7}, "ecog", "ECOG is a grade from 0 to 5."),
        ({"ct": "T5"}, "ct", "T5"),
        ({"sex": "X"}, "sex", "X"),
        ({"pathology_confirmed": "maybe"}, "pathology_confirmed", "maybe"),
        ({"site": "beijing"}, "site", "choice"),
        (
            {"referral_date": "2025-04-30", "screening_date": "2025-05-02"},
            "referral_date",
            "accrual",
        ),
        (
            {"screening_date": "2025-06-01", "referral_date": "2025-06-02"},
            "screening_date",
            "before",
        ),
        ({"screening_date": "2999-01-01"}, "screening_date", "future"),
        ({"labs_date": "2999-01-01"}, "labs_date", "after the screening date"),
        ({"date_of_birth": "1899-12-31"}, "date_of_birth", "1900"),
        ({"date_of_birth": "2026-13-01"}, "date_of_birth", "valid date"),
        ({"full_name": None}, "full_name", "required"),
        ({"lvef_percent": 120}, "lvef_percent", "100"),
    ],
)
def test_bad_input_names_row_and_field_and_imports_nothing(
    tmp_path, capsys, overrides, field, message
):
    rows = [referral_data(number=1), referral_data(number=2, **overrides)]

    errors = import_errors(write_json(tmp_path, rows), capsys)

    lines = [line for line in errors.splitlines() if line.startswith(f"row 2: {field}: ")]
    assert lines, errors
    assert message.lower() in " ".join(lines).lower()
    assert "row 1" not in errors
    assert Referral.objects.count() == 0


@pytest.mark.parametrize("value", ["12/02/1955", "1955/12/02", "02.12.1955", "Oct 30 1955"])
def test_a_date_not_written_yyyy_mm_dd_is_refused_not_guessed(tmp_path, capsys, value):
    rows = [referral_data(number=1, date_of_birth=value)]

    errors = import_errors(write_csv(tmp_path, rows), capsys)

    assert "row 1: date_of_birth: Enter the date as YYYY-MM-DD, for example 1955-02-12." in errors
    assert Referral.objects.count() == 0


@pytest.mark.parametrize("value", ["1,500", "12,5", "3e1", "1_50", "+30", "٣٠", "NaN", "Infinity"])
def test_a_number_that_is_not_a_plain_decimal_is_refused(tmp_path, capsys, value):
    rows = [referral_data(number=1, platelets=value)]

    errors = import_errors(write_csv(tmp_path, rows), capsys)

    assert "row 1: platelets: Enter a plain number such as 12.5" in errors
    assert Referral.objects.count() == 0


@pytest.mark.parametrize("literal", ["3e1", "2E2", "NaN", "Infinity", "-Infinity"])
def test_a_json_number_with_an_exponent_or_not_finite_is_refused(tmp_path, capsys, literal):
    path = write_json(tmp_path, [referral_data(platelets=0)])
    path.write_text(
        path.read_text(encoding="utf-8").replace('"platelets": 0', f'"platelets": {literal}')
    )

    errors = import_errors(path, capsys)

    assert "row 1: platelets: Enter a plain number such as 12.5" in errors


def test_full_width_numbers_are_read_as_ascii(tmp_path):
    rows = [referral_data(platelets="２１５", wbc="５．５", ecog="１")]

    call_command("import_referrals", str(write_csv(tmp_path, rows)))

    referral = Referral.objects.get()
    assert (referral.platelets, referral.wbc, referral.ecog) == (215, Decimal("5.5"), 1)


@pytest.mark.parametrize(
    ("key", "accepted"),
    [
        ("total_bilirubin", "umol/L, µmol/L, mg/dL"),
        ("creatinine", "umol/L, µmol/L, mg/dL"),
        ("hemoglobin", "g/L, g/dL"),
    ],
)
@pytest.mark.parametrize("unit", [None, "", "  "])
def test_a_file_value_whose_unit_differs_tenfold_needs_its_unit(
    tmp_path, capsys, key, accepted, unit
):
    rows = [referral_data(number=1, **{f"{key}_unit": unit})]

    errors = import_errors(write_csv(tmp_path, rows), capsys)

    assert f"row 1: {key}_unit: give the unit of " in errors
    assert f"; accepted: {accepted}" in errors
    assert Referral.objects.count() == 0


def test_other_lab_values_without_a_unit_are_si(tmp_path):
    row = referral_data(alt=40, wbc="5.5", creatinine_clearance=90)
    for key in ("alt_unit", "wbc_unit", "creatinine_clearance_unit"):
        row.pop(key, None)

    call_command("import_referrals", str(write_json(tmp_path, [row])))

    referral = Referral.objects.get()
    assert (referral.alt, referral.alt_unit) == (40, "U/L")
    assert (referral.wbc_unit, referral.creatinine_clearance_unit) == ("10^9/L", "mL/min")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("full_name", "Wang\x01Jianguo", "control character U+0001"),
        ("hospital_number", "WU\u202e100001", "text-direction character U+202E"),
        ("referring_physician", "Dr\tSun", "control character U+0009"),
    ],
)
def test_a_control_or_direction_character_in_free_text_is_refused(
    tmp_path, capsys, field, value, message
):
    errors = import_errors(write_csv(tmp_path, [referral_data(**{field: value})]), capsys)

    assert f"row 1: {field}: Remove the invisible {message}" in errors
    assert Referral.objects.count() == 0


def csv_text(header: list[str], records: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([header, *records])
    return buffer.getvalue()


def test_a_csv_row_with_a_cell_too_few_or_too_many_is_refused(tmp_path, capsys):
    header = list(referral_data())
    records = [[str(value) for value in referral_data(number=n).values()] for n in (1, 2, 3)]
    records[1] = records[1][:-1]
    records[2] = [*records[2], "extra"]
    path = tmp_path / "referrals.csv"
    path.write_text(csv_text(header, records), encoding="utf-8")

    errors = import_errors(path, capsys)

    cells = len(header)
    assert errors.splitlines() == [
        f"row 2: the row has {cells - 1} cells, the header {cells}",
        f"row 3: the row has {cells + 1} cells, the header {cells}",
    ]
    assert Referral.objects.count() == 0


def test_a_column_twice_in_the_csv_header_is_refused_naming_it(tmp_path):
    row = referral_data()
    header = [*row, "ecog"]
    path = tmp_path / "referrals.csv"
    path.write_text(csv_text(header, [[*map(str, row.values()), "3"]]), encoding="utf-8")

    with pytest.raises(CommandError, match="names a column more than once: ecog"):
        call_command("import_referrals", str(path))

    assert Referral.objects.count() == 0


def test_a_key_twice_in_a_json_object_is_refused_naming_the_key_and_the_row(tmp_path, capsys):
    path = write_json(tmp_path, [referral_data(number=1), referral_data(number=2, ecog=3)])
    text = path.read_text(encoding="utf-8")
    # The second "ecog" would silently win: json keeps the last of two equal keys.
    path.write_text(text.replace('"ecog": 3', '"ecog": 3, "ecog": 0'), encoding="utf-8")

    errors = import_errors(path, capsys)

    assert errors.splitlines() == ["row 2: ecog: the key appears more than once in this object"]
    assert Referral.objects.count() == 0


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("empty.csv", ""),
        ("bom.csv", "\ufeff"),
        ("header.csv", "site,hospital_number,full_name\r\n"),
        ("header-and-blank-lines.csv", "site,hospital_number,full_name\n\n\n"),
        ("empty.json", ""),
        ("array.json", "[]"),
        ("blank.json", " \n"),
    ],
)
def test_a_file_without_referrals_is_an_error(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")

    with pytest.raises(CommandError, match="no referrals in the file"):
        call_command("import_referrals", str(path))


def test_national_id_disagreeing_with_birth_date_and_sex_is_rejected(tmp_path, capsys):
    # 620602195804210315 is valid for a man born 1958-04-21.
    rows = [
        referral_data(number=1, national_id="620602195804210315", sex="F"),
        referral_data(number=2, national_id="620602195804210315", date_of_birth="1958-04-22"),
    ]

    errors = import_errors(write_json(tmp_path, rows), capsys)

    assert "row 1: national_id:" in errors
    assert "row 2: national_id:" in errors


def test_one_bad_row_among_many_in_csv_imports_nothing(tmp_path, capsys):
    rows = [referral_data(number=n) for n in range(1, 30)]
    rows[-1]["wbc"] = "lots"

    errors = import_errors(write_csv(tmp_path, rows), capsys)

    assert errors.splitlines()[0].startswith("row 29: wbc: ")
    assert Referral.objects.count() == 0


def test_same_patient_twice_in_one_file_is_rejected(tmp_path, capsys):
    rows = [referral_data(number=1), referral_data(number=1)]

    errors = import_errors(write_json(tmp_path, rows), capsys)

    assert "row 2: hospital_number: the same patient is already in row 1" in errors


def test_patient_with_an_open_referral_is_rejected(tmp_path, capsys):
    call_command("import_referrals", str(write_json(tmp_path, [referral_data(number=1)])))

    errors = import_errors(write_json(tmp_path, [referral_data(number=1)], "again.json"), capsys)

    assert "row 1: hospital_number: This person already has an open referral" in errors
    assert Referral.objects.count() == 1


def test_unknown_column_is_rejected(tmp_path, capsys):
    errors = import_errors(write_json(tmp_path, [referral_data(favourite_colour="blue")]), capsys)

    assert "row 1: favourite_colour: unknown field" in errors


def test_dry_run_saves_nothing(tmp_path, capsys):
    call_command("import_referrals", str(write_json(tmp_path, [referral_data()])), "--dry-run")

    assert "would import 1 referral(s)" in capsys.readouterr().out
    assert Referral.objects.count() == 0
    assert Evaluation.objects.count() == 0


def test_a_dry_run_uses_up_no_screening_numbers(tmp_path, capsys):
    call_command("import_referrals", str(write_json(tmp_path, [referral_data(number=1)])))
    first = Referral.objects.get().screening_number
    rows = [referral_data(number=n) for n in range(2, 12)]

    call_command("import_referrals", str(write_json(tmp_path, rows, "dry.json")), "--dry-run")
    call_command("import_referrals", str(write_json(tmp_path, rows[:1], "real.json")))

    numbers = sorted(Referral.objects.values_list("screening_number", flat=True))
    assert numbers == [first, f"S-{int(first[2:]) + 1:05d}"]


def test_a_dry_run_reports_the_outcomes_the_import_gives(capsys):
    call_command("import_referrals", str(EXAMPLES), "--dry-run")
    dry = capsys.readouterr().out
    call_command("import_referrals", str(EXAMPLES))
    real = capsys.readouterr().out

    assert dry.startswith("would import 5 referral(s): ")
    assert real.startswith("imported 5 referral(s): ")
    assert dry.split(": ", 1)[1] == real.split(": ", 1)[1]
    assert Evaluation.objects.count() == 5


def test_file_that_is_not_json_is_refused(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("[{", encoding="utf-8")

    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("import_referrals", str(path))


def test_coordinator_imports_only_their_sites(tmp_path, capsys):
    UserFactory(username="lz", role="coordinator", site_codes=["lanzhou"])

    with pytest.raises(CommandError):
        call_command("import_referrals", str(write_json(tmp_path, [referral_data()])), "--user=lz")

    assert "row 1: site: " in capsys.readouterr().err


def test_missing_answers_are_unknown_and_screening_date_defaults(tmp_path):
    data = referral_data(pathology_confirmed=None, screening_date=None, labs_date=days_ago(0))
    data["referral_date"] = days_ago(0)
    call_command("import_referrals", str(write_json(tmp_path, [data])))

    referral = Referral.objects.get()
    assert referral.pathology_confirmed == "unknown"
    assert referral.screening_date == referral.referral_date
    assert referral.outcome == Referral.Outcome.INCOMPLETE
    assert referral.evaluation.results["E1"]["result"] == "unknown"


def test_lab_values_are_stored_in_si_with_the_entered_unit(tmp_path):
    data = referral_data(hemoglobin=11.5, hemoglobin_unit="g/dL", creatinine=1.1)
    data["creatinine_unit"] = "mg/dL"
    call_command("import_referrals", str(write_json(tmp_path, [data])))

    referral = Referral.objects.get()
    assert referral.hemoglobin == 115
    assert referral.hemoglobin_unit == "g/dL"
    assert referral.creatinine == Decimal("97.24")
    assert referral.creatinine_unit == "mg/dL"


def test_referral_after_the_accrual_window_closed_is_rejected(tmp_path, capsys):
    ProtocolVersion.objects.update(accrual_end=datetime.date(2025, 12, 31))
    rows = [referral_data(referral_date="2026-01-02", screening_date="2026-01-02")]

    errors = import_errors(write_json(tmp_path, rows), capsys)

    assert (
        "row 1: referral_date: Referral date is after the accrual window closed (2025-12-31)"
        in errors
    )


def test_validating_a_file_costs_three_queries_whatever_its_rows(django_assert_num_queries):
    protocol = ProtocolVersion.current()

    # For the whole file: the sites, then the people's other referrals (by hospital number or
    # national ID) and the referrals of the same birth dates (possible duplicates).
    for count in (1, 10):
        rows = [referral_data(number=n) for n in range(1, count + 1)]
        with django_assert_num_queries(3):
            cleaned, errors = validate_rows(rows, protocol=protocol)
        assert len(cleaned) == count and not errors


def test_a_list_or_object_where_a_value_belongs_is_rejected(tmp_path, capsys):
    errors = import_errors(write_json(tmp_path, [referral_data(hospital_number={"a": 1})]), capsys)

    assert "row 1: hospital_number: must be a single value, not a list or object" in errors


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("deep.json", "[" * 100_000, "not valid JSON"),
        ("huge.csv", "site,full_name\nwuwei," + "x" * 200_000 + "\n", "not readable CSV"),
    ],
)
def test_pathological_files_are_refused_with_a_message(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")

    with pytest.raises(CommandError, match=message):
        call_command("import_referrals", str(path))
