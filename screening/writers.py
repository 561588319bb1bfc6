"""Export rows (dicts keyed by column) written as CSV, XLSX or JSON; nothing here knows referrals.

The row builders of ``screening.exports`` feed these writers, for the command-line exports and
the browser downloads alike.
"""

import csv
import datetime
import io
import itertools
import json
import operator
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Protocol, runtime_checkable

from django.utils import translation
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

# A cell starting with one of these is run as a formula by spreadsheets (tab and carriage
# return too, as OWASP's CSV-injection advice notes), so it is quoted.
FORMULA_STARTS = frozenset("=+-@\t\r")
# Where such a cell starts in CSV text: right after a comma or a line break, behind its opening
# quote if quoted (always, for a carriage return: an unquoted one ends the line). Two patterns,
# each starting with one character, are searched for far faster than one.
_CELL_FORMULA = '(?:"[{}]|[{}])'.format(
    re.escape("".join(sorted(FORMULA_STARTS))), re.escape("".join(sorted(FORMULA_STARTS - {"\r"})))
)
FORMULA_AFTER_COMMA = re.compile("," + _CELL_FORMULA)
FORMULA_AFTER_LINE_BREAK = re.compile("\n" + _CELL_FORMULA)
# What an XLSX file cannot hold: characters outside XML 1.0's (control characters but tab, line
# feed and carriage return; U+FFFE, U+FFFF; lone surrogates). openpyxl refuses control
# characters with an error and writes U+FFFE into a file no spreadsheet opens.
NOT_IN_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Where such a character was: the replacement character shows that something was there.
REPLACEMENT = "\ufffd"
# Rows per chunk of CSV text: a download is one write per chunk rather than one per row.
ROWS_PER_CHUNK = 500
# Spreadsheet column widths (characters) where the header's length is not a good guide.
COLUMN_WIDTHS = {"reasons": 80, "full_name": 16, "national_id": 22, "hospital_number": 18}


# A protocol, not an import of exports.QueryRows (the one class that fits it): the writers stay
# free of referral code, yet csv_chunks can tell the rows it may build in its second thread.
@runtime_checkable
class BuiltRows(Protocol):
    """Plain values, and ``build``: a function from one value to its row's cells in ``columns``
    order, that makes no query."""

    build: Callable
    columns: tuple[str, ...]

    def values(self) -> Iterator: ...


def defuse(value):
    """``value``, with a leading quote if it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value and value[0] in FORMULA_STARTS:
        return "'" + value
    return value


def _defused(cells) -> list:
    """``cells``, each as ``defuse`` leaves it: the same test, without a call per cell."""
    return [
        "'" + value if isinstance(value, str) and value and value[0] in FORMULA_STARTS else value
        for value in cells
    ]


def _may_start_formula(text: str) -> bool:
    """Whether CSV ``text`` (whole lines) may hold a cell that starts like a formula. A chunk
    where none may needs no cell checked, which costs a fraction of checking each."""
    text = "\n" + text  # the first line's first cell too
    return bool(FORMULA_AFTER_COMMA.search(text) or FORMULA_AFTER_LINE_BREAK.search(text))


def _cell_getter(keys):
    """A function from a row to its cells at ``keys``, a tuple even of one."""
    return operator.itemgetter(*keys) if len(keys) > 1 else lambda row: (row[keys[0]],)


def xlsx_cell(value):
    """``value`` as an XLSX cell holds it: text without the characters XML cannot hold (each
    replaced by U+FFFD), then defused (``defuse``); other values as they are.

    The forms refuse control characters; this keeps a value that reached the database another
    way (an import, SQL) from failing a whole download.
    """
    if isinstance(value, str):
        value = NOT_IN_XML.sub(REPLACEMENT, value)
    return defuse(value)


def _chunks(items, size: int):
    items = iter(items)
    while chunk := list(itertools.islice(items, size)):
        yield chunk


def _one_behind(function, chunks):
    """Yield ``function(chunk)`` for each of ``chunks``, computed in a second thread while this
    one reads the next chunk (the output of one chunk is ready as the next is read)."""
    with ThreadPoolExecutor(max_workers=1) as second_thread:
        pending = None
        for chunk in chunks:
            done, pending = pending, second_thread.submit(function, chunk)
            if done is not None:
                yield done.result()
        if pending is not None:
            yield pending.result()


def csv_chunks(rows, columns, *, headers=None, rows_per_chunk: int = ROWS_PER_CHUNK):
    """Yield CSV text: a BOM and the header first (Excel reads UTF-8 then), then the rows
    ``rows_per_chunk`` at a time.

    ``rows`` are read in this thread and written in a second one; ``BuiltRows`` are built
    there too, in this thread's language. The header row is ``headers`` when given (see
    ``exports.column_headers``), else the keys.
    """
    if isinstance(rows, BuiltRows):
        source, build = rows.values(), rows.build
        # The built cells are in the rows' own column order: picked only when that differs.
        same = tuple(columns) == tuple(rows.columns)
        cells = None if same else _cell_getter([rows.columns.index(c) for c in columns])
    else:
        source, build, cells = rows, None, _cell_getter(columns)
    language = translation.get_language()
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def text():
        written = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return written

    def write(chunk):
        with translation.override(language):
            built = chunk if build is None else map(build, chunk)
            lines = list(built if cells is None else map(cells, built))
        writer.writerows(lines)
        written = text()
        if _may_start_formula(written):
            writer.writerows(map(_defused, lines))
            written = text()
        return written

    writer.writerow(headers or columns)
    yield "\ufeff" + text()
    try:
        yield from _one_behind(write, _chunks(source, rows_per_chunk))
    finally:
        # Ends the read's transaction now when the download stops early or a row fails (the
        # error's traceback would keep ``source`` alive until the garbage collector ran).
        if build is not None:
            source.close()


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


def write_xlsx(rows, columns, target, *, title: str = "export", headers=None) -> None:
    """Write an XLSX workbook in openpyxl's write-only mode (memory stays flat).

    Dates are real dates, the header row is frozen and columns have readable widths. The
    header row is ``headers`` when given, else the keys.
    """
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    sheet.freeze_panes = "A2"
    for index, column in enumerate(columns, start=1):
        width = COLUMN_WIDTHS.get(column, max(12, min(40, len(column) + 4)))
        sheet.column_dimensions[get_column_letter(index)].width = width
    header = []
    for label in headers or columns:
        cell = WriteOnlyCell(sheet, value=xlsx_cell(label))
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    # Plain values: openpyxl stores a date as a date formatted yyyy-mm-dd by itself.
    for row in rows:
        sheet.append([xlsx_cell(row[column]) for column in columns])
    workbook.save(target)
