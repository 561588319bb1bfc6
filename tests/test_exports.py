"""Row builders of screening/exports.py and writers of screening/writers.py."""

import csv
import datetime
import io

import pytest
from django.db import connection
from django.utils import timezone, translation
from openpyxl import load_workbook

from screening import exports, writers
from screening.models import Referral
from screening.national_id import check_character
from tests.factories import create_referral, create_referrals, referral_data
from tests.flows import amend, approve, enrol

COLUMNS = ("name", "number", "when")


def parsed(lines) -> list[list[str]]:
    text = "".join(lines)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


@pytest.mark.parametrize(
    "text", ["=1+1", "+86 139", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1", '=HYPERLINK("x")']
)
def test_formula_looking_text_is_quoted_in_csv_and_xlsx(text):
    rows = [{"name": text, "number": -5, "when": datetime.date(2026, 1, 2)}]

    (header, row) = parsed(writers.csv_chunks(rows, COLUMNS))
    target = io.BytesIO()
    writers.write_xlsx(rows, COLUMNS, target)

    assert header == list(COLUMNS)
    assert row == ["'" + text, "-5", "2026-01-02"]
    cells = next(load_workbook(target).active.iter_rows(min_row=2, values_only=True))
    # XML reads a lone carriage return back as a line feed.
    assert cells[0] == "'" + text.replace("\r", "\n")
    assert cells[1] == -5
    assert cells[2] == datetime.datetime(2026, 1, 2)


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("王\x01建国", "王\ufffd建国"),
        ("\x00\x08\x0b\x0c\x1f", "\ufffd" * 5),
        ("a\ufffeb\uffff", "a\ufffdb\ufffd"),
        # What XML can hold stays: tab and line feed inside, DEL, C1 controls, emoji.
        ("a\tb\nc\x7f\x85😀", "a\tb\nc\x7f\x85😀"),
        # Replaced before the formula check: the mark is no formula and needs no quote.
        ("\x01=1+1", "\ufffd=1+1"),
    ],
)
def test_xlsx_replaces_what_xml_cannot_hold_and_opens(text, kept):
    rows = [{"name": text, "number": 1, "when": None}]
    target = io.BytesIO()

    writers.write_xlsx(rows, COLUMNS, target, headers=["na\x02me", "number", "when"])

    sheet = load_workbook(target).active
    assert sheet["A1"].value == "na\ufffdme"
    assert sheet["A2"].value == kept


def test_formula_looking_text_among_many_rows_is_quoted_and_the_chunk_written_once():
    rows = [{"name": f"n{n}", "number": n, "when": None} for n in range(10)]
    rows[7]["name"] = "=1+1"
    rows[3]["name"] = "\r=1+1"

    (header, *written) = parsed(writers.csv_chunks(rows, COLUMNS, rows_per_chunk=5))

    assert [row[0] for row in written] == [
        *["n0", "n1", "n2", "'\r=1+1", "n4"],
        *["n5", "n6", "'=1+1", "n8", "n9"],
    ]


def test_a_negative_number_or_an_empty_last_cell_is_left_alone():
    rows = [{"name": "a", "number": -5, "when": None}, {"name": "-b", "number": 1, "when": None}]

    assert parsed(writers.csv_chunks(rows, COLUMNS))[1:] == [["a", "-5", ""], ["'-b", "1", ""]]


def test_plain_text_and_chinese_are_left_alone():
    rows = [{"name": '王建国, Jr. "A"', "number": None, "when": None}]

    assert parsed(writers.csv_chunks(rows, COLUMNS))[1] == ['王建国, Jr. "A"', "", ""]


def test_csv_is_streamed_header_first_then_rows_a_chunk_at_a_time():
    rows = ({"name": str(n), "number": n, "when": None} for n in range(5))

    chunks = writers.csv_chunks(rows, COLUMNS, rows_per_chunk=2)

    assert next(chunks) == "\ufeffname,number,when\r\n"
    assert list(chunks) == ["0,0,\r\n1,1,\r\n", "2,2,\r\n3,3,\r\n", "4,4,\r\n"]


@pytest.mark.django_db(transaction=True)
def test_a_download_stopped_early_ends_its_read(seeded):
    create_referrals(10, site=("wuwei", "lanzhou"))
    chunks = writers.csv_chunks(
        exports.screening_log_rows(), exports.SCREENING_LOG_COLUMNS, rows_per_chunk=2
    )

    next(chunks), next(chunks)  # the header, then the first rows
    assert connection.in_atomic_block
    chunks.close()

    assert not connection.in_atomic_block


@pytest.mark.django_db(transaction=True)
def test_a_row_that_fails_to_build_ends_the_read(seeded):
    create_referrals(10, site=("wuwei", "lanzhou"))

    def broken(values):
        raise KeyError("a reason template without its parameter")

    rows = exports.QueryRows(
        exports.screening_log_queryset(), broken, exports.SCREENING_LOG_COLUMNS
    )
    with pytest.raises(KeyError):
        list(writers.csv_chunks(rows, exports.SCREENING_LOG_COLUMNS, rows_per_chunk=2))

    assert not connection.in_atomic_block


@pytest.mark.django_db
def test_a_download_stopped_early_inside_a_transaction_leaves_it_usable(coordinator_wuwei):
    create_referrals(10, site=("wuwei", "lanzhou"))
    chunks = writers.csv_chunks(
        exports.screening_log_rows(), exports.SCREENING_LOG_COLUMNS, rows_per_chunk=2
    )

    next(chunks), next(chunks)
    chunks.close()

    assert Referral.objects.count() == 10


def test_file_name_has_the_trial_code_and_date():
    name = exports.export_filename("screening-log", "csv", on=datetime.date(2026, 11, 26))

    assert name == "trialscreen-EC-screening-log-2026-11-26.csv"


@pytest.mark.django_db
def test_decision_date_is_the_day_the_mdt_met_not_the_day_it_was_typed_in(mdt_member):
    referral = create_referral()
    met_on = timezone.localdate() - datetime.timedelta(days=3)
    approve(referral, mdt_member, meeting_date=met_on)

    (row,) = exports.screening_log_rows()

    assert row["mdt_decision_date"] == met_on


@pytest.mark.django_db
def test_reasons_give_the_limits_of_each_evaluation_s_protocol_version(
    coordinator_wuwei, data_manager
):
    """An open referral is evaluated again under an amendment; a withdrawn one keeps its
    evaluation, its version and the limit it was judged by."""
    planned = {"user": coordinator_wuwei, "age": 80, "dosimetry_status": "feasible"}
    create_referral(number=1, alt=250, **planned)
    create_referral(number=2, status=Referral.Status.WITHDRAWN, **planned)
    amend(data_manager, age_max=75)

    rows = {row["screening_number"]: row for row in exports.screening_log_rows()}
    kept, withdrawn = (rows[number] for number in sorted(rows))

    assert kept["reasons"] == "I1: age 80 is above 75; I4: ALT 250 U/L is above 100 U/L"
    assert kept["protocol_version"] == 2
    assert withdrawn["reasons"] == "I1: age 80 is above 70"
    assert withdrawn["protocol_version"] == 1
    with translation.override("zh-hans"):
        (chinese, _withdrawn) = sorted(
            exports.screening_log_rows(), key=lambda row: row["screening_number"]
        )
    assert chinese["reasons"] == "I1: 年龄 80 岁，高于 75 岁；I4: ALT 250 U/L，高于 100 U/L"


@pytest.mark.django_db
def test_identification_rows_link_numbers_to_patients(coordinator_wuwei, mdt_member):
    patient = {"number": 1, "age": 62, "sex": "M"}
    born = referral_data(**patient)["date_of_birth"]
    first17 = "620602" + born.replace("-", "") + "013"  # 13: odd, male
    national_id = first17 + check_character(first17)
    with_id = create_referral(**patient, national_id=national_id)
    enrolled = create_referral(number=2, age=62)
    approve(enrolled, mdt_member)
    enrol(enrolled, coordinator_wuwei)

    rows = list(exports.identification_rows())

    assert [list(row) for row in rows] == [list(exports.IDENTIFICATION_COLUMNS)] * 2
    assert rows[0]["screening_number"] == with_id.screening_number
    assert rows[0]["study_number"] is None
    assert rows[0]["national_id"] == national_id
    assert rows[1]["study_number"] == "EC-001"
    assert rows[1]["national_id"] is None
    assert rows[1]["full_name"] == enrolled.full_name
    assert rows[1]["hospital_number"] == enrolled.hospital_number


@pytest.mark.django_db
@pytest.mark.parametrize(
    "rows", [exports.screening_log_rows, exports.enrolment_rows, exports.identification_rows]
)
def test_row_builders_take_one_query_however_many_rows(
    django_assert_num_queries, coordinator_wuwei, rows
):
    create_referrals(5, site=("wuwei", "lanzhou"))
    with django_assert_num_queries(1):
        list(rows())
    create_referrals(150, number=100, site=("wuwei", "lanzhou"))
    with django_assert_num_queries(1):
        list(rows())


@pytest.mark.django_db
def test_referrals_filtered_by_site_and_inclusive_dates(coordinator_wuwei):
    first, second = create_referral(number=1), create_referral(number=2)
    day = second.referral_date

    same_day = exports.referrals_filtered(referred_from=day, referred_to=day)
    lanzhou = exports.referrals_filtered(site="lanzhou")

    assert second in same_day
    assert (first in same_day) == (first.referral_date == day)
    assert not lanzhou.exists()
