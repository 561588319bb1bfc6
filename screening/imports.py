"""Reading referral files (PROTOCOL section 7) and checking every row as ``ReferralForm`` does."""

import csv
import io
import itertools
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

from django.utils.translation import gettext as _

from screening import persons
from screening.forms.referrals import REFERRAL_KEYS, ReferralRows
from screening.models import Site
from screening.text import join_items

KNOWN_KEYS = frozenset(REFERRAL_KEYS)


class ImportFileError(Exception):
    """The file as a whole cannot be read (wrong format, bad encoding, not a list)."""


@dataclass(frozen=True)
class RowError:
    row: int
    field: str  # "" for a problem of the row as a whole
    message: str

    def __str__(self):
        if not self.field:
            return f"row {self.row}: {self.message}"
        return f"row {self.row}: {self.field}: {self.message}"


@dataclass(frozen=True)
class MalformedRow:
    """A row whose shape in the file is wrong, found before any value is read; validate_rows
    reports each (field, message) of ``problems`` with the row's number."""

    problems: tuple[tuple[str, str], ...]


def read_rows(path: Path) -> Iterator[dict | MalformedRow]:
    """Data rows of a ``.json`` array of objects or a UTF-8 ``.csv`` (BOM allowed), as dicts,
    one at a time: a CSV is read line by line, so a file of any length takes little memory (a
    JSON file is parsed whole).

    Raises ImportFileError, as the rows are read, for a file that cannot be read as a whole:
    not UTF-8, not CSV or JSON, a CSV header naming a column twice, or no data rows at all.
    """
    name = path.name
    suffix = _suffix(name)
    if suffix == ".json":
        yield from read_content(path.read_bytes(), name)
        return
    with path.open(encoding="utf-8-sig", newline="") as stream:
        yield from _some_rows(_csv_rows(_utf8_lines(stream, name), name), name)


def read_content(content: bytes, name: str) -> list[dict | MalformedRow]:
    """Data rows of a file's ``content`` (an upload's, say); ``name`` gives its format by its
    ending and names it in messages. Raises ImportFileError as ``read_rows`` does."""
    suffix = _suffix(name)
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportFileError(_not_utf8(name)) from error
    if not text.strip():
        rows = []
    elif suffix == ".csv":
        rows = _csv_rows(io.StringIO(text), name)
    else:
        rows = _json_rows(text, name)
    return list(_some_rows(rows, name))


def count_lines(path: Path) -> int:
    """Lines in a file, read in large blocks: about the rows of a CSV, for a progress bar."""
    with path.open("rb") as stream:
        return sum(block.count(b"\n") for block in iter(lambda: stream.read(1 << 20), b""))


def _suffix(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix not in (".csv", ".json"):
        raise ImportFileError(
            _("%(file)s: the file name must end in .json or .csv.") % {"file": name}
        )
    return suffix


def _not_utf8(name: str) -> str:
    return _("%(file)s is not UTF-8 text.") % {"file": name}


def _utf8_lines(stream, name: str) -> Iterator[str]:
    try:
        yield from stream
    except UnicodeDecodeError as error:
        raise ImportFileError(_not_utf8(name)) from error


def _some_rows(rows: Iterable, name: str) -> Iterator:
    empty = True
    for row in rows:
        empty = False
        yield row
    if empty:
        raise ImportFileError(_("%(file)s: no referrals in the file.") % {"file": name})


def _csv_rows(lines: Iterable[str], name: str) -> Iterator[dict | MalformedRow]:
    # Blank lines hold no cells and are skipped, as csv.DictReader skips them.
    records = (record for record in csv.reader(lines) if record)
    try:
        header = next(records, None)
        if header is None:
            return
        repeated = [column for column, count in Counter(header).items() if count > 1]
        if repeated:
            raise ImportFileError(
                _("%(file)s: the header names a column more than once: %(columns)s.")
                % {"file": name, "columns": join_items(repeated)}
            )
        for record in records:
            if len(record) == len(header):
                yield dict(zip(header, record, strict=True))
            else:
                # A cell too many or too few shifts every value after it into the wrong
                # column.
                message = _("the row has %(cells)s cells, the header %(columns)s") % {
                    "cells": len(record),
                    "columns": len(header),
                }
                yield MalformedRow((("", message),))
    except csv.Error as error:
        raise ImportFileError(
            _("%(file)s is not readable CSV: %(error)s") % {"file": name, "error": error}
        ) from error


class _JsonObject(dict):
    """A JSON object with the keys it was given more than once (json keeps only the last)."""

    repeated: tuple[str, ...] = ()


def _json_object(pairs: list[tuple[str, object]]) -> _JsonObject:
    found = _JsonObject(pairs)
    if len(found) < len(pairs):
        found.repeated = tuple(
            key for key, count in Counter(k for k, _v in pairs).items() if count > 1
        )
    return found


def _json_rows(text: str, name: str) -> list[dict | MalformedRow]:
    try:
        # Numbers keep the text they are written in, so that the form reads them as it reads
        # typed ones: 3e1, NaN and Infinity are refused, 12.50 stays exact.
        data = json.loads(
            text,
            object_pairs_hook=_json_object,
            parse_float=str,
            parse_int=str,
            parse_constant=str,
        )
    except (json.JSONDecodeError, RecursionError) as error:
        raise ImportFileError(
            _("%(file)s is not valid JSON: %(error)s") % {"file": name, "error": error}
        ) from error
    if not isinstance(data, list):
        raise ImportFileError(_("%(file)s must hold a JSON array of objects.") % {"file": name})
    return [_json_row(item) for item in data]


def _json_row(item) -> object:
    # Objects may be wrapped as {"referral": {...}, "expected": {...}}, as in the examples file.
    wrapped = isinstance(item, dict) and isinstance(item.get("referral"), dict)
    row = item["referral"] if wrapped else item
    repeated = (*getattr(item, "repeated", ()), *(row.repeated if wrapped else ()))
    if repeated:
        message = _("the key appears more than once in this object")
        return MalformedRow(tuple((key, message) for key in repeated))
    return row


def _form_value(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float | Decimal):
        # A number given by code, not text from a file: plain digits, never 1E+1.
        return f"{Decimal(str(value)):f}"
    return str(value)


BATCH_ROWS = 2_000  # rows checked, and then saved, at a time: memory stays flat


def batches(rows: Iterable, size: int = BATCH_ROWS) -> Iterator[list]:
    """``rows`` in lists of ``size``."""
    rows = iter(rows)
    while batch := list(itertools.islice(rows, size)):
        yield batch


@dataclass(frozen=True)
class CheckedRow:
    number: int
    data: dict  # the clean clinical data, as ``ReferralForm.clinical_data`` gives it


class BatchCheck(NamedTuple):
    rows: list[CheckedRow]  # the rows the form accepts
    errors: list[RowError]
    people: list[tuple[int, persons.Person]]  # of the accepted rows, by row number


class FileCheck:
    """The checks of a file's rows, made batch by batch so that a file of any length takes
    little memory: each row as ``ReferralForm`` checks it (``ReferralRows``); then, in
    ``finish``, a person given in two rows of the file and the person checks of PROTOCOL
    section 3a against the stored referrals (two queries for every 10,000 rows). Data rows
    count from 1, a CSV header not counted.
    """

    def __init__(self, *, protocol, sites=None):
        self.sites = list(Site.objects.all() if sites is None else sites)
        self.visible_site_ids = {site.pk for site in self.sites}
        self.referral_rows = ReferralRows(protocol=protocol, sites=self.sites)
        self.people: list[tuple[int, persons.Person]] = []
        self.errors: list[RowError] = []

    def check(self, numbered: Iterable[tuple[int, object]]) -> list[CheckedRow]:
        """Check a batch of (number, row); return the rows the form accepts."""
        checked, errors, people = self.check_batch(numbered)
        self.add(errors, people)
        return checked

    def check_batch(self, numbered: Iterable[tuple[int, object]]) -> BatchCheck:
        """``check`` without keeping anything for ``finish``: the accepted rows, the batch's
        errors and the people of its accepted rows, for ``add`` (in another process, say)."""
        checked, errors, people = [], [], []
        for number, row in numbered:
            data = self._check_row(number, row, errors)
            if data is not None:
                checked.append(CheckedRow(number, data))
                people.append((number, persons.Person.from_data(data)))
        return BatchCheck(checked, errors, people)

    def add(self, errors: list[RowError], people: list[tuple[int, persons.Person]]) -> None:
        """Keep a batch's errors and people (``check_batch``) for ``finish``."""
        self.errors.extend(errors)
        self.people.extend(people)

    def finish(self, *, against_stored: bool = True) -> list[RowError]:
        """Check the people of every accepted row; return all the problems, in row order.
        ``against_stored`` False leaves out the checks against the stored referrals, for the
        caller to make (``screen``) in the transaction that saves the rows."""
        self.errors.extend(_repeated_people(self.people))
        if against_stored:
            self.errors.extend(self.screen()[1])
        return sorted(self.errors, key=_row_order)

    def screen(self) -> tuple[persons.Screening, list[RowError]]:
        """The accepted rows' people screened against the stored referrals (PROTOCOL section
        3a, ``persons.screen``) and the problems of the rows it refuses; two queries for every
        10,000 rows."""
        screening = persons.screen(
            [person for _number, person in self.people], visible_site_ids=self.visible_site_ids
        )
        errors = [
            RowError(number, field, message)
            for (number, _person), finding in zip(self.people, screening.findings, strict=True)
            for field, message in finding.refusals
        ]
        return screening, errors

    def _check_row(self, number: int, row, errors: list[RowError]) -> dict | None:
        if isinstance(row, MalformedRow):
            errors.extend(RowError(number, field, message) for field, message in row.problems)
            return None
        if not isinstance(row, dict):
            errors.append(RowError(number, "-", _("not an object")))
            return None
        for key in row.keys() - KNOWN_KEYS:
            errors.append(RowError(number, key, _("unknown field")))
        structured = {key for key, value in row.items() if isinstance(value, (dict, list))}
        for key in structured:
            errors.append(RowError(number, key, _("must be a single value, not a list or object")))
        data = {
            # A CSV's cells are text already.
            key: value if type(value) is str else _form_value(value)
            for key, value in row.items()
            if key in KNOWN_KEYS and key not in structured
        }
        cleaned, problems = self.referral_rows.validate(data)
        for field, messages in problems.items():
            if field in structured:
                continue  # already reported, better than "This field is required"
            for message in messages:
                errors.append(RowError(number, field if field != "__all__" else "-", message))
        if cleaned is None:
            return None
        return {name: cleaned[name] for name in REFERRAL_KEYS}


def _repeated_people(people: list[tuple[int, persons.Person]]) -> list[RowError]:
    """Rows about a person who is already in an earlier row of the file."""
    errors, first_row = [], {}
    for number, person in people:
        keys = [("site", person.site_id, person.hospital_number)]
        if person.national_id:
            keys.append(("national_id", person.national_id))
        earlier = next((first_row[key] for key in keys if key in first_row), None)
        if earlier is not None:
            field = "hospital_number" if keys[0] in first_row else "national_id"
            message = _("the same patient is already in row %(row)s of this file")
            errors.append(RowError(number, field, message % {"row": earlier}))
        for key in keys:
            first_row.setdefault(key, number)
    return errors


def validate_rows(
    rows: Iterable, *, protocol, sites=None, progress: Callable[[int], None] | None = None
) -> tuple[list[dict], list[RowError]]:
    """Validate every row; return the clean clinical data and the errors (data rows count
    from 1, a CSV header not counted).

    The sites are read once, and the person checks of PROTOCOL section 3a are made for 10,000
    rows at once: three queries for a file of up to 10,000 rows.
    """
    numbered, errors = validate_numbered_rows(
        rows, protocol=protocol, sites=sites, progress=progress
    )
    return [data for _number, data in numbered], errors


def validate_numbered_rows(
    rows: Iterable, *, protocol, sites=None, progress: Callable[[int], None] | None = None
) -> tuple[list[tuple[int, dict]], list[RowError]]:
    """``validate_rows`` with each clean row's number beside its data, for a preview that
    shows every row; rows refused for their person (section 3a) are among the clean ones."""
    check = FileCheck(protocol=protocol, sites=sites)
    numbered = []
    for batch in batches(enumerate(rows, start=1)):
        numbered.extend((row.number, row.data) for row in check.check(batch))
        if progress:
            progress(batch[-1][0])
    return numbered, check.finish()


def _row_order(error: RowError) -> int:
    return error.row
