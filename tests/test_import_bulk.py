"""The import's bulk check (``ReferralRows``) says exactly what ``ReferralForm`` says, and a big
file is checked whole before anything is saved."""

import csv
import functools
import io
import random

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import F
from django.utils import translation

from screening.forms.referrals import REFERRAL_KEYS, ReferralForm, ReferralRows
from screening.imports import batches
from screening.management.commands import import_referrals
from screening.models import Evaluation, EvaluationEvent, ProtocolVersion, Referral, Site
from tests.factories import referral_data

pytestmark = pytest.mark.django_db

# Values a file may hold in any column: good for some, wrong for most, some wrong only beside
# another value (a date after the screening date, a unit without its value).
CELLS = [
    "",
    " ",
    "x",
    "0",
    "-1",
    "1.5",
    "12.50",
    "3e1",
    "1,5",
    "1_500",
    "٣٠",
    "３０",
    "0.123456",
    "999999",
    "NaN",
    "2026-02-30",
    "12/02/1955",
    "1955-02-12",
    "1899-12-31",
    "2099-01-01",
    "yes",
    "no",
    "unknown",
    "maybe",
    "M",
    "F",
    "squamous",
    "adenocarcinoma",
    "T3",
    "cT3",
    "N1",
    "M0",
    "g/L",
    "g/dL",
    "umol/L",
    "µmol/L",
    "mg/dL",
    "10^9/L",
    "x10^9/L",
    "wuwei",
    "lanzhou",
    "beijing",
    "11010519491231002X",
    "110105194912310021",
    "张\x00三",
    "A" * 300,
    "王 小明",
]
LAB_UNITS = {
    "total_bilirubin_unit": ["µmol/L", "umol/L", "mg/dL", "mg/L", ""],
    "creatinine_unit": ["µmol/L", "mg/dL", "mmol/L", ""],
    "hemoglobin_unit": ["g/L", "g/dL", "mmol/L", ""],
}


def thousand_rows() -> list[dict]:
    """1,000 rows as a file gives them (text), a third untouched, the rest with one to four
    cells replaced or left out."""
    rng = random.Random(18)
    rows = []
    for number in range(1, 1001):
        row = {key: str(value) for key, value in referral_data(number=number % 40 + 1).items()}
        for _change in range(rng.choice((0, 0, 1, 2, 4))):
            key = rng.choice(REFERRAL_KEYS)
            if rng.random() < 0.1:
                row.pop(key, None)
            else:
                row[key] = rng.choice(LAB_UNITS.get(key) or CELLS)
        rows.append(row)
    return rows


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_bulk_check_and_the_form_say_the_same_of_a_thousand_rows(seeded, language):
    protocol, sites = ProtocolVersion.current(), list(Site.objects.all())
    rows = thousand_rows()
    with translation.override(language):
        bulk = ReferralRows(protocol=protocol, sites=sites)
        outcomes = []
        for row in rows:
            form = ReferralForm(
                data=row, protocol=protocol, sites=sites, check_person=False, from_file=True
            )
            valid = form.is_valid()
            cleaned, errors = bulk.validate(row)

            assert errors == {field: list(messages) for field, messages in form.errors.items()}
            assert (cleaned is not None) == valid
            if valid:
                assert {key: cleaned[key] for key in REFERRAL_KEYS} == form.clinical_data()
            outcomes.append(valid)
    # Both kinds were compared, and many kinds of message.
    assert 200 < sum(outcomes) < 800


def last_screening_number() -> tuple:
    with connection.cursor() as cursor:
        cursor.execute("SELECT last_value, is_called FROM screening_referral_number_seq")
        return cursor.fetchone()


def write_csv(path, rows):
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def many_rows(count: int) -> list[dict]:
    return [
        referral_data(number=number, hospital_number=f"WU{number:06d}", national_id=None)
        for number in range(1, count + 1)
    ]


def test_one_bad_row_deep_in_a_big_file_imports_nothing_and_uses_no_number(
    seeded, tmp_path, capsys
):
    rows = many_rows(4_500)
    rows[4_321]["ecog"] = "7"
    path = write_csv(tmp_path / "referrals.csv", rows)

    numbered = last_screening_number()
    with pytest.raises(CommandError, match=r"1 problem\(s\) in 1 of 4500 row\(s\)"):
        call_command("import_referrals", str(path))

    assert "row 4322: ecog: ECOG is a grade from 0 to 5." in capsys.readouterr().err
    assert not Referral.objects.exists()
    # The evaluations of the first 4,000 rows, stored while the rest was checked, are undone.
    assert not Evaluation.objects.exists()
    assert not EvaluationEvent.objects.exists()
    # The file was checked whole before any referral was numbered.
    assert last_screening_number() == numbered


def test_a_big_file_shows_its_progress_and_is_saved_in_batches(seeded, tmp_path, capsys):
    path = write_csv(tmp_path / "referrals.csv", many_rows(2_500))

    call_command("import_referrals", str(path))

    output = capsys.readouterr()
    assert "imported 2500 referral(s)" in output.out
    # Off a terminal the bar is printed at every tenth of the way.
    assert "checking rows [##############################] 2,500/2,500" in output.err
    assert "saving rows [##############################] 2,500/2,500" in output.err
    numbers = sorted(
        int(number.removeprefix("S-"))
        for number in Referral.objects.values_list("screening_number", flat=True)
    )
    assert numbers == list(range(numbers[0], numbers[0] + 2_500))
    # Each referral and its evaluation point at each other.
    linked = Referral.objects.filter(evaluation__referral_id=F("pk"))
    assert linked.count() == 2_500


@pytest.fixture
def small_batches(monkeypatch):
    """Batches of 3 rows, checked by 2 forked processes, saved 5 at a time: a few rows cross
    several batches and both processes' shares."""
    monkeypatch.setattr(import_referrals, "batches", functools.partial(batches, size=3))
    monkeypatch.setattr(import_referrals, "CHECKING_PROCESSES", 2)
    monkeypatch.setattr(import_referrals, "SAVED_AT_ONCE", 5)


def problems_told(path, capsys) -> list[str]:
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_referrals", str(path))
    return capsys.readouterr().err.splitlines()


def test_checking_in_processes_tells_the_same_problems_with_the_same_rows(
    seeded, small_batches, monkeypatch, tmp_path, capsys
):
    rows = many_rows(14)
    rows[1]["ecog"] = "7"  # the first batch
    rows[4]["wbc"] = "lots"  # the second, which the other process checks
    rows[5]["date_of_birth"] = "12/02/1955"  # the last row of that batch
    rows[9]["hospital_number"] = rows[2]["hospital_number"]  # the same patient, batches apart
    rows[13]["sex"] = "X"  # the last batch, of two rows
    path = write_csv(tmp_path / "referrals.csv", rows)

    in_processes = problems_told(path, capsys)
    monkeypatch.setattr(import_referrals, "CHECKING_PROCESSES", 1)
    in_one = problems_told(path, capsys)

    assert in_processes == in_one
    assert [line.split(":")[0] for line in in_processes] == [
        "row 2",
        "row 5",
        "row 6",
        "row 10",
        "row 14",
    ]
    assert not Referral.objects.exists()


def test_a_bad_row_in_another_process_share_imports_nothing_and_uses_no_number(
    seeded, small_batches, tmp_path, capsys
):
    rows = many_rows(12)
    rows[10]["ecog"] = "7"
    path = write_csv(tmp_path / "referrals.csv", rows)
    numbered = last_screening_number()

    assert problems_told(path, capsys)[0] == "row 11: ecog: ECOG is a grade from 0 to 5."
    assert not Referral.objects.exists()
    assert last_screening_number() == numbered


def test_rows_checked_in_processes_are_saved_in_the_file_order(small_batches, tmp_path):
    # Inside the test's transaction: the processes leave its connection alone.
    rows = many_rows(14)
    path = write_csv(tmp_path / "referrals.csv", rows)

    call_command("import_referrals", str(path), stdout=io.StringIO())

    saved = Referral.objects.order_by("screening_number").values_list("hospital_number", flat=True)
    assert list(saved) == [row["hospital_number"] for row in rows]
