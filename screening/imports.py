"""Reading referral files (PROTOCOL section 7) and validating every row with ``ReferralForm``."""

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.utils.translation import gettext as _

from screening import persons
from screening.forms.referrals import REFERRAL_KEYS, ReferralForm
from screening.models import Site


class ImportFileError(Exception):
    """The file as a whole cannot be read (wrong format, bad encoding, not a list)."""


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    message: str

    def __str__(self):
        return f"row {self.row}: {self.field}: {self.message}"


def read_rows(path: Path) -> list[dict]:
    """Rows of a ``.json`` array of objects or a UTF-8 ``.csv`` (BOM allowed), as dicts."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportFileError(_("%(file)s is not UTF-8 text.") % {"file": path.name}) from error
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            return list(csv.DictReader(io.StringIO(text)))
        except csv.Error as error:
            raise ImportFileError(
                _("%(file)s is not readable CSV: %(error)s") % {"file": path.name, "error": error}
            ) from error
    if suffix == ".json":
        return _json_rows(text, path.name)
    raise ImportFileError(
        _("%(file)s: the file name must end in .json or .csv.") % {"file": path.name}
    )


def _json_rows(text: str, name: str) -> list[dict]:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        raise ImportFileError(
            _("%(file)s is not valid JSON: %(error)s") % {"file": name, "error": error}
        ) from error
    if not isinstance(data, list):
        raise ImportFileError(_("%(file)s must hold a JSON array of objects.") % {"file": name})
    # Objects may be wrapped as {"referral": {...}, "expected": {...}}, as in the examples file.
    return [
        item["referral"]
        if isinstance(item, dict) and isinstance(item.get("referral"), dict)
        else item
        for item in data
    ]


def _form_value(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def validate_rows(
    rows: list, *, protocol, sites=None, progress: Callable[[int], None] | None = None
) -> tuple[list[dict], list[RowError]]:
    """Validate every row; return the clean clinical data and the errors (rows count from 1).

    The sites are read once, and the person checks of PROTOCOL section 3a are made for the
    whole file at once: a constant number of queries besides the rows' own validation.
    """
    sites = list(Site.objects.all() if sites is None else sites)
    forms, errors = [], []
    for number, row in enumerate(rows, start=1):
        if progress:
            progress(number)
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
        form = ReferralForm(data=data, protocol=protocol, sites=sites, check_person=False)
        if not form.is_valid():
            for field, messages in form.errors.items():
                if field in structured:
                    continue  # already reported, better than "This field is required"
                for message in messages:
                    errors.append(RowError(number, field if field != "__all__" else "-", message))
            continue
        forms.append((number, form))
    errors.extend(_person_errors(forms, visible_site_ids={site.pk for site in sites}))
    return [form.clinical_data() for _number, form in forms], sorted(errors, key=_row_order)


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
