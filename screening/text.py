"""Message helpers: for the pure domain modules (rules, units, national_id), and moments as
the pages and messages show them.

Templates are marked with ``gettext_noop`` and translated only when rendered, and only when
Django settings are configured, so these modules work (in English) without Django set up.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext


def gettext_noop(message: str) -> str:
    """Mark ``message`` for translation; makemessages extracts by this name."""
    # Django's own gettext_noop reads settings.USE_I18N, which would make importing the pure
    # modules require configured settings; marking needs no settings.
    return message


def translate(message: str) -> str:
    """gettext when Django settings are configured, else the (English) message unchanged."""
    # Deferred import: these modules must not touch settings at import time.
    from django.conf import settings

    return gettext(message) if settings.configured else message


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
