"""Message helpers: for the pure domain modules (rules, units, national_id), and moments as
the pages and messages show them.

Templates are marked with ``gettext_noop`` and translated only when rendered, and only when
Django settings are configured, so these modules work (in English) without Django set up.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext, pgettext


def gettext_noop(message: str) -> str:
    """Mark ``message`` for translation; makemessages extracts by this name."""
    # Django's own gettext_noop reads settings.USE_I18N, which would make importing the pure
    # modules require configured settings; marking needs no settings.
    return message


def translate(message: str) -> str:
    """gettext when Django settings are configured, else the (English) message unchanged."""
    return gettext(message) if _configured() else message


def _configured() -> bool:
    # Deferred import: these modules must not touch settings at import time.
    from django.conf import settings

    return settings.configured


def _list_separator() -> str:
    # Translators: between the items of a list, e.g. "I1, I2 and I4" or "ALT, AST".
    return pgettext("list separator", ", ") if _configured() else ", "


def _clause_separator() -> str:
    # Translators: between clauses or reasons, e.g. "ALT 250 U/L is above 100 U/L; labs undated".
    return pgettext("clause separator", "; ") if _configured() else "; "


def join_words(items) -> str:
    """Items as a list in running text: "A", "A and B", "A, B and C"; in Chinese "A、B 和 C"."""
    *rest, last = items
    if not rest:
        return last
    return translate(gettext_noop("{items} and {last}")).format(
        items=_list_separator().join(rest), last=last
    )


def join_items(items) -> str:
    """Items one after another with no "and": "A, B, C"; in Chinese "A、B、C"."""
    return _list_separator().join(items)


def join_clauses(clauses) -> str:
    """Clauses one after another: "a; b"; in Chinese "a；b"."""
    return _clause_separator().join(clauses)


def format_number(value: object) -> str:
    """Render a number without trailing zeros or exponent: 31.50 -> "31.5", 1E+2 -> "100"."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            return str(value)
        value = value.normalize()
        if value.as_tuple().exponent > 0:
            value = value.quantize(Decimal(1))
        return f"{value:f}"
    return str(value)


def format_param(value: object) -> str:
    """A template param as text: dates ISO, numbers by format_number."""
    if isinstance(value, datetime.date):
        return value.isoformat()
    return format_number(value)


def render(template: str, params: dict) -> str:
    """Translate a gettext_noop-marked template and fill ``{name}`` fields from params."""
    return translate(template).format(**{k: format_param(v) for k, v in params.items()})


def local_minute(moment: datetime.datetime | None) -> str:
    """``YYYY-MM-DD HH:MM`` in the trial's time zone (settings.TIME_ZONE); "" for None."""
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else ""
