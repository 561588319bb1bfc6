"""Reading referral files (PROTOCOL section 7) and validating every row with ``ReferralForm``."""

import csv
import io
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.utils.translation import gettext as _

from screening import persons
from screening.forms.referrals import REFERRAL_KEYS, ReferralForm
from screening.models import Site
from screening.text import join_items


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


def read_rows(path: Path) -> list[dict | MalformedRow]:
    """Data rows of a ``.json`` array of objects or a UTF-8 ``.csv`` (BOM allowed), as dicts.

    Raises ImportFileError for a file that cannot be read as a whole: not UTF-8, not CSV or
    JSON, a CSV header naming a column twice, or no data rows at all.
    """
    return read_content(path.read_bytes(), path.name)


def read_content(content: bytes, name: str) -> list[dict | MalformedRow]:
    """Data rows of a file's ``content`` (an upload's, say); ``name`` gives its format by its
    ending and names it in messages. Raises ImportFileError as ``read_rows`` does."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportFileError(_("%(file)s is not UTF-8 text.") % {"file": name}) from error
    suffix = Path(name).suffix.lower()
    if suffix not in (".csv", ".json"):
        raise ImportFileError(
            _("%(file)s: the file name must end in .json or .csv.") % {"file": name}
        )
    if not text.strip():
        rows = []
    elif suffix == ".csv":
        rows = _csv_rows(text, name)
    else:
        rows = _json_rows(text, name)
    if not rows:
        raise ImportFileError(_("%(file)s: no referrals in the file.") % {"file": name})
    return rows


def _csv_rows(text: str, name: str) -> list[dict | MalformedRow]:
    try:
        # Blank lines hold no cells and are skipped, as csv.DictReader skips them.
        records = [record for record in csv.reader(io.StringIO(text)) if record]
    except csv.Error as error:
        raise ImportFileError(
            _("%(file)s is not readable CSV: %(error)s") % {"file": name, "error": error}
        ) from error
    if not records:
        return []
    header, *body = records
    repeated = [column for column, count in Counter(header).items() if count > 1]
    if repeated:
        raise ImportFileError(
            _("%(file)s: the header names a column more than once: %(columns)s.")
            % {"file": name, "columns": join_items(repeated)}
        )
    rows = []
    for record in body:
        if len(record) == len(header):
            rows.append(dict(zip(header, record, strict=True)))
        else:
            # A cell too many or too few shifts every value after it into the wrong column.
            message = _("the row has %(cells)s cells, the header %(columns)s") % {
                "cells": len(record),
                "columns": len(header),
            }
            rows.append(MalformedRow((("", message),)))
    return rows


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


def validate_rows(
    rows: list, *, protocol, sites=None, progress: Callable[[int], None] | None = None
) -> tuple[list[dict], list[RowError]]:
    """Validate every row; return the clean clinical data and the errors (data rows count
    from 1, a CSV header not counted).

    The sites are read once, and the person checks of PROTOCOL section 3a are made for the
    whole file at once: a constant number of queries besides the rows' own validation.
    """
    numbered, errors = validate_numbered_rows(
        rows, protocol=protocol, sites=sites, progress=progress
    )
    return [data for _number, data in numbered], errors


def validate_numbered_rows(
    rows: list, *, protocol, sites=None, progress: Callable[[int], None] | None = None
) -> tuple[list[tuple[int, dict]], list[RowError]]:
    """``validate_rows`` with each clean row's number beside its data, for a preview that
    shows every row; rows refused for their person (section 3a) are among the clean ones."""
    sites = list(Site.objects.all() if sites is None else sites)
    forms, errors = [], []
    for number, row in enumerate(rows, start=1):
        if progress:
            progress(number)
        if isinstance(row, MalformedRow):
            errors.extend(RowError(number, field, message) for field, message in row.problems)
            continue
        if not isinstance(row, dict):
            errors.append(RowError(number, "-", _("not an object")))
            continue
        for key in row.keys() - set(REFERRAL_KEYS):
            errors.append(RowError(number, key, _("unknown field")))
        structured = {key for key, value in row.items() if isinstance(value, dict | list)}
        for key in structured:
            errors.append(RowError(number, key, _("must be a single value, not a list or object")))
        data = {
            key: _form_value(value)
            for key, value in row.items()
            if key in REFERRAL_KEYS and key not in structured
        }
        form = ReferralForm(
            data=data, protocol=protocol, sites=sites, check_person=False, from_file=True
        )
        if not form.is_valid():
            for field, messages in form.errors.items():
                if field in structured:
                    continue  # already reported, better than "This field is required"
                for message in messages:
                    errors.append(RowError(number, field if field != "__all__" else "-", message))
            continue
        forms.append((number, form))
    errors.extend(_person_errors(forms, visible_site_ids={site.pk for site in sites}))
    numbered = [(number, form.clinical_data()) for number, form in forms]
    return numbered, sorted(errors, key=_row_order)


def _row_order(error: RowError) -> int:
    return error.row


def _person_errors(forms, *, visible_site_ids) -> list[RowError]:
    """Rows about a person who is already in an earlier row, already has an open referral or
    is enrolled (PROTOCOL section 3a); two queries for the whole file."""
    people = [(number, form.person()) for number, form in forms]
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
    findings = persons.check(
        [person for _number, person in people], visible_site_ids=visible_site_ids
    )
    for (number, _person), finding in zip(people, findings, strict=True):
        errors.extend(RowError(number, field, message) for field, message in finding.refusals)
    return errors
