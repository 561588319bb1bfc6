"""Figures kept while the database shows the same snapshot: counts that read every referral
(CONSORT's boxes, the dashboard's, a list's number of pages) are worked out once and reused
until anything is committed anywhere in the database, so a kept figure is never stale. The
part of a page drawn from such data alone is kept the same way, rendered (``kept_fragment``).

A part drawn from a few values read anyway is kept under a digest of those values instead
(``kept_drawing``), whatever else is committed: the referral page records every view of it,
a commit, so what it keeps by snapshot is never found again."""

import hashlib
import json
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache
from django.db import connection
from django.template.loader import render_to_string
from django.utils.safestring import SafeString
from django.utils.translation import get_language

T = TypeVar("T")


def snapshot_seen() -> str | None:
    """What a query at this moment can see: the server (since its start), the database and
    its snapshot ("xmin:xmax:ids in progress"), hashed; or None when this transaction has
    written, as its own changes are visible to it alone. Two moments with the same text see
    the same committed data. (A server restored from a backup or started again reuses
    transaction ids, hence its start time.)"""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_postmaster_start_time()::text, current_database(), "
            "pg_current_snapshot()::text, pg_current_xact_id_if_assigned() IS NULL"
        )
        started, database, snapshot, unwritten = cursor.fetchone()
    if not unwritten:
        return None
    server = connection.settings_dict
    seen = f"{server['HOST']}:{server['PORT']} {started}/{database}@{snapshot}"
    return hashlib.sha256(seen.encode()).hexdigest()


_ASK = object()


def kept(name: str, compute: Callable[[], T], *, seen=_ASK) -> T:
    """``compute()``, or what it gave at the same snapshot (one query then, three when it is
    worked out). ``name`` must say everything the figure depends on besides the data: the
    site it is limited to, its dates, the user's scope. ``seen`` is ``snapshot_seen()`` when
    the caller has asked it already (a page keeping several parts asks once)."""
    if seen is _ASK:
        seen = snapshot_seen()
    key = f"kept:{name}:{seen}"
    value = cache.get(key) if seen else None
    if value is None:
        value = compute()
        # Kept only if nothing was committed while computing: then the value is of ``seen``.
        if seen and snapshot_seen() == seen:
            cache.set(key, value)
    return value


def kept_fragment(
    name: str, template_name: str, context: Callable[[], dict], request=None, *, seen=_ASK
) -> SafeString:
    """``template_name`` rendered with ``context()``, or the HTML it gave at the same snapshot
    and in the same language: the queries and the rendering of a page's data are done once a
    snapshot. ``name`` as for ``kept`` (the active language is added to it); the template
    must show nothing of the request that ``name`` does not say, and no CSRF token."""
    return kept(
        f"{name}:{get_language()}",
        lambda: render_to_string(template_name, context(), request),
        seen=seen,
    )


def kept_drawing(name: str, drawn_from: list, draw: Callable[[], T]) -> T:
    """``draw()``, or what it gave for the same ``drawn_from`` in the same language. The caller
    passes everything the drawing depends on besides the language, as JSON values (dates and
    decimals as their text): whatever changes one of them draws afresh, so a kept drawing is
    never stale. A digest of a few kilobytes costs a tenth of the drawing of a table."""
    digest = hashlib.sha256(
        json.dumps([drawn_from, get_language()], sort_keys=True, default=str).encode()
    ).hexdigest()
    key = f"drawn:{name}:{digest}"
    value = cache.get(key)
    if value is None:
        value = draw()
        cache.set(key, value)
    return value
