"""Export rows (PROTOCOL section 7), built once and written as CSV, XLSX or JSON.

The row builders take a queryset and yield plain dicts; the writers know nothing about
referrals. The command-line exports and the browser downloads share both.
"""

import csv
import datetime
import io
import json
from decimal import Decimal

from django.db.models import OuterRef, Subquery
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter

from screening import rules, staging
from screening.models import MdtDecision, Referral

SCREENING_LOG_COLUMNS = (
    "screening_number",
    "site",
    "referral_date",
    "screening_date",
    "age",
    "sex",
    "histology",
    "ct",
    "cn",
    "cm",
    "stage_group",
    "outcome",
    "status",
    *rules.CODES,
    "reasons",
    "protocol_version",
    "mdt_decision",
    "mdt_decision_date",
    "study_number",
)
IDENTIFYING_COLUMNS = ("hospital_number", "full_name")
ENROLMENT_COLUMNS = (
    "study_number",
    "screening_number",
    "site",
    "consent_date",
    "enrolment_date",
    "age",
    "sex",
    "histology",
    "ct",
    "cn",
    "cm",
    "stage_group",
    "mdt_approval_date",
)
FORMULA_PREFIXES = ("=", "+", "-", "@")
ROWS_PER_FETCH = 2000


def screening_log_columns(*, identified: bool = False) -> tuple[str, ...]:
    if identified:
        return (SCREENING_LOG_COLUMNS[0], *IDENTIFYING_COLUMNS, *SCREENING_LOG_COLUMNS[1:])
    return SCREENING_LOG_COLUMNS


def _current_decision(field: str) -> Subquery:
    decisions = MdtDecision.objects.filter(referral=OuterRef("pk"), superseded_at__isnull=True)
    return Subquery(decisions.values(field)[:1])


def _local_date(moment: datetime.datetime | None) -> datetime.date | None:
    return None if moment is None else moment.astimezone().date()


def reasons_text(results: dict) -> str:
    """The reasons of every criterion that does not pass, e.g. "I2: cT2 cN0 is early stage"."""
    parts = []
    for code in rules.CODES:
        result = results.get(code)
        if result and result["result"] != rules.Result.PASS:
            reason = rules.render_reason(result["template"], result["params"])
            parts.append(f"{code}: {reason}")
    return "; ".join(parts)


def screening_log_queryset(referrals=None):
    """Referrals with everything a screening-log row needs, in one query."""
    referrals = Referral.objects.all() if referrals is None else referrals
    return (
        referrals.select_related("site", "evaluation", "evaluation__protocol_version", "enrolment")
        .defer("evaluation__snapshot")
        .annotate(
            mdt_decision=_current_decision("decision"),
            mdt_decided_at=_current_decision("decided_at"),
        )
        .order_by("screening_number")
    )


def screening_log_rows(referrals=None, *, identified: bool = False):
    """Yield one dict per referral with the screening-log columns; constant query count."""
    for referral in screening_log_queryset(referrals).iterator(chunk_size=ROWS_PER_FETCH):
        evaluation = referral.evaluation
        results = evaluation.results if evaluation else {}
        row = {
            "screening_number": referral.screening_number,
            "site": referral.site.code,
            "referral_date": referral.referral_date,
            "screening_date": referral.screening_date,
            "age": referral.age(),
            "sex": referral.sex,
            "histology": referral.histology,
            "ct": referral.ct or None,
            "cn": referral.cn or None,
            "cm": referral.cm or None,
            "stage_group": staging.stage_group(
                referral.histology, referral.ct or None, referral.cn or None, referral.cm or None
            ),
            "outcome": referral.outcome,
            "status": referral.status,
            **{code: results[code]["result"] if code in results else None for code in rules.CODES},
            "reasons": reasons_text(results),
            "protocol_version": evaluation.protocol_version.version if evaluation else None,
            "mdt_decision": referral.mdt_decision,
            "mdt_decision_date": _local_date(referral.mdt_decided_at),
            "study_number": (
                referral.enrolment.study_number if hasattr(referral, "enrolment") else None
            ),
        }
        if identified:
            row["hospital_number"] = referral.hospital_number
            row["full_name"] = referral.full_name
        yield row


def enrolment_queryset(referrals=None):
    referrals = Referral.objects.all() if referrals is None else referrals
    approvals = MdtDecision.objects.filter(
        referral=OuterRef("pk"), superseded_at__isnull=True, decision="approve"
    )
    return (
        referrals.filter(enrolment__isnull=False)
        .select_related("site", "enrolment")
        .annotate(approved_at=Subquery(approvals.values("decided_at")[:1]))
        .order_by("enrolment__sequence")
    )


def enrolment_rows(referrals=None):
    """Yield one dict per enrolled participant in study-number order; constant query count."""
    for referral in enrolment_queryset(referrals).iterator(chunk_size=ROWS_PER_FETCH):
        yield {
            "study_number": referral.enrolment.study_number,
            "screening_number": referral.screening_number,
            "site": referral.site.code,
            "consent_date": referral.enrolment.consent_date,
            "enrolment_date": _local_date(referral.enrolment.enrolled_at),
            "age": referral.age(),
            "sex": referral.sex,
            "histology": referral.histology,
            "ct": referral.ct or None,
            "cn": referral.cn or None,
            "cm": referral.cm or None,
            "stage_group": staging.stage_group(
                referral.histology, referral.ct or None, referral.cn or None, referral.cm or None
            ),
            "mdt_approval_date": _local_date(referral.approved_at),
        }


def _cell_text(value) -> str:
    """A cell as text; a string that a spreadsheet would run as a formula is quoted."""
    if value is None:
        return ""
    if isinstance(value, datetime.date):
        return value.isoformat()
    text = str(value)
    if isinstance(value, str) and text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def csv_lines(rows, columns):
    """Yield CSV text a line at a time: a BOM and the header first (Excel reads UTF-8 then)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values):
        writer.writerow(values)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield "\ufeff" + line(columns)
    for row in rows:
        yield line([_cell_text(row[column]) for column in columns])


def _json_value(value):
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def json_text(rows, columns) -> str:
    """An array of objects with exactly ``columns`` as keys; dates as YYYY-MM-DD, gaps null."""
    objects = [{column: _json_value(row[column]) for column in columns} for row in rows]
    return json.dumps(objects, ensure_ascii=False, indent=1)


def _xlsx_value(value):
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def write_xlsx(rows, columns, target, *, title: str = "export") -> None:
    """Write an XLSX workbook in openpyxl's write-only mode (memory stays flat).

    Dates are real dates, the header row is frozen and columns have readable widths.
    """
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    sheet.freeze_panes = "A2"
    for index, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = max(12, min(40, len(column) + 4))
    sheet.append(list(columns))
    for row in rows:
        cells = []
        for column in columns:
            value = _xlsx_value(row[column])
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, datetime.date):
                cell.number_format = "yyyy-mm-dd"
            cells.append(cell)
        sheet.append(cells)
    workbook.save(target)
