"""Form fields that read what a person typed, or a file holds, one way only (PROTOCOL sections
2 and 3): a date as ``YYYY-MM-DD``, a number as a plain decimal, notes without control
characters."""

import datetime
import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from screening.validators import PlainTextValidator

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_PLAIN_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
# What a Chinese input method types in full-width mode: the digits, the point, the minus.
_FULL_WIDTH = str.maketrans("０１２３４５６７８９．－", "0123456789.-")


class IsoDateField(forms.DateField):
    """A date written ``YYYY-MM-DD`` and no other way.

    Django's default input formats also read ``12/02/1955`` as 2 December: a month and a day
    swapped silently can make an ineligible patient look eligible. ``1955-02-30`` has the form
    but no such day, and keeps Django's "Enter a valid date."
    """

    input_formats = ["%Y-%m-%d"]
    default_error_messages = {
        "format": _("Enter the date as YYYY-MM-DD, for example 1955-02-12."),
    }

    def to_python(self, value):
        if isinstance(value, str) and value.strip() and not _ISO_DATE.fullmatch(value.strip()):
            raise ValidationError(self.error_messages["format"], code="format")
        return super().to_python(value)

    def strptime(self, value, format):
        # The one input format, already matched: read by the C parser, as strptime took a
        # tenth of an imported file's check.
        return datetime.date.fromisoformat(value)


class PlainNumberMixin:
    """Reads ASCII digits with an optional leading minus and point, full-width forms included.

    Python's Decimal and int also read ``1_500``, ``+30``, ``3e1`` and other scripts' digits
    (``٣٠``); everything but the plain form is refused before Django parses it, with a message
    that says what is expected (Django's "Enter a number." did not, for ``1,500``).
    """

    default_error_messages = {
        "plain_number": _(
            "Enter a plain number such as 12.5: digits with an optional leading minus and "
            "decimal point, without thousands separators, decimal commas, exponents or spaces."
        ),
    }

    def to_python(self, value):
        if isinstance(value, str) and value.strip():
            value = value.strip().translate(_FULL_WIDTH)
            if not _PLAIN_NUMBER.fullmatch(value):
                raise ValidationError(self.error_messages["plain_number"], code="plain_number")
        return super().to_python(value)


class PlainDecimalField(PlainNumberMixin, forms.DecimalField):
    pass


class PlainIntegerField(PlainNumberMixin, forms.IntegerField):
    pass


class NotesField(forms.CharField):
    """Multi-line free text (a rationale, a reason): its line breaks are kept, control and
    direction-override characters refused."""

    def __init__(self, *, rows: int = 3, max_length: int = 2000, **kwargs):
        super().__init__(
            max_length=max_length,
            widget=forms.Textarea(attrs={"rows": rows}),
            validators=[PlainTextValidator(multiline=True)],
            **kwargs,
        )
