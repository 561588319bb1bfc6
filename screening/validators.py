"""Validators for what people type and files hold, shared by the forms (PROTOCOL section 3)."""

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy as _

# Invisible characters that change the display order of the text around them: a name or a
# reason holding one can read differently on screen from what is stored and searched.
BIDI_CONTROLS = frozenset(
    "\u061c"  # Arabic letter mark
    "\u200e\u200f"  # left-to-right and right-to-left marks
    "\u202a\u202b\u202c\u202d\u202e"  # embeddings and overrides
    "\u2066\u2067\u2068\u2069"  # isolates
)
LINE_BREAKS = frozenset("\r\n")


@deconstructible
class PlainTextValidator:
    """Refuses control characters (C0, DEL, C1) and bidirectional controls in free text; a
    ``multiline`` text keeps its line breaks (CR and LF), never tabs or other controls.

    NUL is left to Django's ProhibitNullCharactersValidator, which every ``forms.CharField``
    runs, so that it is reported once.
    """

    messages = {
        "control_character": _(
            "Remove the invisible control character %(character)s, usually copied in from "
            "another program."
        ),
        "bidi_control": _(
            "Remove the invisible text-direction character %(character)s: it can make the "
            "text display differently from what is stored."
        ),
    }

    def __init__(self, *, multiline: bool = False):
        self.multiline = multiline

    def __call__(self, value):
        allowed = LINE_BREAKS if self.multiline else frozenset()
        for character in str(value):
            if character in allowed or character == "\x00":
                continue
            if character in BIDI_CONTROLS:
                code = "bidi_control"
            elif unicodedata.category(character) == "Cc":
                code = "control_character"
            else:
                continue
            raise ValidationError(
                self.messages[code], code=code, params={"character": f"U+{ord(character):04X}"}
            )

    def __eq__(self, other):
        return isinstance(other, PlainTextValidator) and self.multiline == other.multiline
