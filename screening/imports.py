"""Reading referral files (PROTOCOL section 7) and validating every row with ``ReferralForm``."""

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.utils.translation import gettext as _

from screening.forms.referrals import REFERRAL_KEYS, ReferralForm


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
        # Numbers keep the text they are written in, so that the form reads them as it reads
        # typed ones: 3e1, NaN and Infinity are refused, 12.50 stays exact.
        data = json.loads(text, parse_float=str, parse_int=str, parse_constant=str)
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
    if isinstance(value, int | float | Decimal):
        # A number given by code, not text from a file: plain digits, never 1E+1.
        return f"{Decimal(str(value)):f}"
    return str(value)


def validate_rows(
    rows: list, *, protocol, sites=None, progress: Callable[[int], None] | None = None
) -> tuple[list[dict], list[RowError]]:
    """Validate every row; return the clean clinical data and the errors (rows count from 1)."""
    cleaned, errors = [], []
    seen_patients = {}
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
        form = ReferralForm(data=data, protocol=protocol, sites=sites, from_file=True)
        if not form.is_valid():
            for field, messages in form.errors.items():
                if field in structured:
                    continue  # already reported, better than "This field is required"
                for message in messages:
                    errors.append(RowError(number, field if field != "__all__" else "-", message))
            continue
        patient = (form.cleaned_data["site"].code, form.cleaned_data["hospital_number"])
        if patient in seen_patients:
            errors.append(
                RowError(
                    number,
                    "hospital_number",
                    _("the same patient is already in row %(row)s of this file")
                    % {"row": seen_patients[patient]},
                )
            )
            continue
        seen_patients[patient] = number
        cleaned.append(form.clinical_data())
    return cleaned, errors
