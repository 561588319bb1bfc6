"""Dashboard figures: referrals by site and status, enrolment against the target, accrual
against the protocol's straight line (server-side SVG), and median days to the MDT decision."""

import datetime
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, DateField, QuerySet
from django.db.models.functions import TruncMonth
from django.utils import timezone

from screening.models import Enrolment, ProtocolVersion, Referral

Status = Referral.Status

# Rows of the dashboard's "what awaits you" lists.
ACTION_ROWS = 10
# Drawing area of the chart in SVG user units; the SVG scales to the width of its container.
WIDTH, HEIGHT = 720, 280
LEFT, RIGHT, TOP, BOTTOM = 44, 16, 12, 32


def _month_starts(first: datetime.date, last: datetime.date) -> list[datetime.date]:
    months, month = [], first.replace(day=1)
    while month <= last:
        months.append(month)
        month = (month + datetime.timedelta(days=32)).replace(day=1)
    return months


def _next_month(month: datetime.date) -> datetime.date:
    return (month + datetime.timedelta(days=32)).replace(day=1)


@dataclass(frozen=True)
class AccrualMonth:
    month: datetime.date  # first day of the month
    enrolled: int
    cumulative: int
    expected: float  # on the straight line from 0 at accrual start to the target at its end


def accrual_by_month(protocol: ProtocolVersion, today: datetime.date) -> list[AccrualMonth]:
    """Enrolments per calendar month (local time) from the accrual start to this month.

    One query. ``expected`` is read at the end of the month, or today for the current month.
    """
    by_month = (
        Enrolment.objects.annotate(month=TruncMonth("enrolled_at", output_field=DateField()))
        .values_list("month")
        .annotate(n=Count("id"))
    )
    counts = dict(by_month)
    last = min(today, protocol.accrual_end)
    months, cumulative = [], 0
    for month in _month_starts(protocol.accrual_start, last):
        cumulative += counts.get(month, 0)
        month_end = min(_next_month(month) - datetime.timedelta(days=1), last)
        months.append(
            AccrualMonth(month, counts.get(month, 0), cumulative, expected_by(protocol, month_end))
        )
    return months


def expected_by(protocol: ProtocolVersion, day: datetime.date) -> float:
    """Enrolments the straight line expects by ``day``: 0 at accrual start, target at its end."""
    span = (protocol.accrual_end - protocol.accrual_start).days
    elapsed = min(max((day - protocol.accrual_start).days, 0), span)
    return protocol.enrolment_target * elapsed / span


def accrual_chart(protocol: ProtocolVersion, today: datetime.date | None = None) -> dict:
    """Everything the accrual chart template draws: bars of enrolments per month, the
    cumulative line, the protocol's straight line to the target, axes and a summary.

    One query (the monthly counts).
    """
    today = today or timezone.localdate()
    months = accrual_by_month(protocol, today)
    enrolled = months[-1].cumulative if months else 0
    top = max(protocol.enrolment_target, enrolled)
    start, end = protocol.accrual_start, _next_month(protocol.accrual_end)
    span = (end - start).days
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(day: datetime.date) -> float:
        return round(LEFT + plot_width * (day - start).days / span, 1)

    def y(count: float) -> float:
        return round(TOP + plot_height * (1 - count / top), 1)

    bars, line = [], [(x(start), y(0))]
    for month in months:
        left, right = x(month.month), x(_next_month(month.month))
        if month.enrolled:
            bars.append(
                {
                    "x": left + 1,
                    "y": y(month.enrolled),
                    "width": round(right - left - 2, 1),
                    "height": round(y(0) - y(month.enrolled), 1),
                }
            )
        line.append((min(right, x(today)), y(month.cumulative)))
    step = max(1, round(top / 4))
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "plot": {"left": LEFT, "right": WIDTH - RIGHT, "top": TOP, "bottom": y(0)},
        "bars": bars,
        "cumulative_points": " ".join(f"{px},{py}" for px, py in line),
        "target_line": {
            "x1": x(protocol.accrual_start),
            "y1": y(0),
            "x2": x(protocol.accrual_end),
            "y2": y(protocol.enrolment_target),
        },
        "y_ticks": [{"value": v, "y": y(v)} for v in range(0, top + 1, step)],
        "x_ticks": [
            {"label": f"{month:%Y}" if month.month == 1 else f"{month:%Y-%m}", "x": x(month)}
            for month in _month_starts(start, protocol.accrual_end)
            if month == start.replace(day=1) or month.month == 1
        ],
        "today_x": x(min(today, protocol.accrual_end)),
        "months": months,
        "enrolled": enrolled,
        "expected_today": int(expected_by(protocol, today)),
        "target": protocol.enrolment_target,
        "accrual_start": protocol.accrual_start,
        "accrual_end": protocol.accrual_end,
        "today": today,
    }


def median_days_to_decision() -> float | None:
    """Median days from referral to the MDT meeting of the first decision on it; None before
    any decision.

    One query, aggregated in the database; a decision later superseded or voided still counts,
    as the first time the MDT decided.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT percentile_cont(0.5) WITHIN GROUP (
                ORDER BY first.meeting_date - referral.referral_date
            )
            FROM (
                SELECT DISTINCT ON (referral_id) referral_id, meeting_date
                FROM screening_mdtdecision ORDER BY referral_id, decided_at, id
            ) AS first
            JOIN screening_referral AS referral ON referral.id = first.referral_id
            """
        )
        (median,) = cursor.fetchone()
    return median


def dashboard(
    *, referrals: QuerySet[Referral], sites, with_incomplete: bool, with_mdt_queue: bool
) -> dict:
    """Everything the dashboard shows of ``referrals`` (the ones its reader may see) at
    ``sites``: counts by site and status, enrolment against the target, the accrual chart, the
    median days to decision and, when asked for, the incomplete referrals and the MDT queue.

    A constant number of queries whatever the number of referrals.
    """
    by_site_status = {}
    for site_id, status, count in (
        referrals.order_by().values_list("site_id", "status").annotate(n=Count("id"))
    ):
        by_site_status[site_id, status] = count
    sites = list(sites)
    site_rows = [
        {
            "site": site,
            "counts": [by_site_status.get((site.id, status), 0) for status in Status.values],
            "total": sum(n for (site_id, _s), n in by_site_status.items() if site_id == site.id),
        }
        for site in sites
    ]
    totals = {
        status: sum(by_site_status.get((site.id, status), 0) for site in sites)
        for status in Status.values
    }
    protocol = ProtocolVersion.current()
    enrolled = Enrolment.objects.count()
    incomplete = None
    if with_incomplete:
        waiting = referrals.filter(status=Status.SCREENING).select_related("site")
        incomplete = {
            "count": totals[Status.SCREENING],
            "referrals": list(waiting.order_by("referral_date", "id")[:ACTION_ROWS]),
        }
    return {
        "statuses": Status.choices,
        "status_totals": [
            {"status": status, "label": label, "count": totals[status]}
            for status, label in Status.choices
        ],
        "total": sum(totals.values()),
        "site_rows": site_rows,
        "enrolment": {
            "enrolled": enrolled,
            "target": protocol.enrolment_target,
            "percent": min(100, round(100 * enrolled / protocol.enrolment_target)),
        },
        "protocol": protocol,
        "incomplete": incomplete,
        "mdt_queue": {"count": totals[Status.MDT_REVIEW]} if with_mdt_queue else None,
        "accrual": accrual_chart(protocol),
        "median_days_to_decision": median_days_to_decision(),
    }
