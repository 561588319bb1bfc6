"""The CONSORT-style flow of referrals (issue 5): counts from the database, drawn as SVG.

Every referral lands in exactly one box at the end of the flow, decided by its current outcome,
its current (not superseded) MDT decision and its status:

    referred ─┬─ excluded: ineligible (counted per failed criterion as well)
              ├─ incomplete: data missing
              └─ potentially eligible ─┬─ awaiting an MDT decision
                                       ├─ withdrawn before a decision
                                       ├─ MDT rejected (counted per reason as well)
                                       └─ MDT approved ─┬─ awaiting consent and enrolment
                                                        ├─ declined consent
                                                        ├─ withdrawn for another reason
                                                        └─ enrolled (against the target)

A referral withdrawn while ineligible or incomplete stays in that box: the flow shows why
patients did not go on, and those referrals never reached the MDT. The same referrals, outcomes,
decisions and statuses make the screening log, so both agree (tests/test_consort.py).
"""

import hashlib
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, FilteredRelation, Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from screening import rules
from screening.models import MdtDecision, ProtocolVersion, Referral, Site
from screening.services import DECLINED_CONSENT, REJECTION_REASONS

Outcome = Referral.Outcome
Status = Referral.Status
Decision = MdtDecision.Decision

# Short names of the criteria for the diagram's narrow boxes (the table gives the full text).
SHORT_NAMES = {
    "I1": gettext_lazy("age"),
    "I2": gettext_lazy("stage"),
    "I3": gettext_lazy("prior treatment"),
    "I4": gettext_lazy("liver or kidney function"),
    "I5": gettext_lazy("bone marrow function"),
    "I6": gettext_lazy("cardiopulmonary function"),
    "E1": gettext_lazy("no pathological confirmation"),
    "E2": gettext_lazy("dose constraints"),
    "E3": gettext_lazy("perforation risk"),
    "E4": gettext_lazy("abdominal lymph nodes"),
    "E5": gettext_lazy("implanted metal device"),
    "E6": gettext_lazy("contraindication to RT"),
    "other": gettext_lazy("Other reason"),
}


COUNTED_BOXES = (
    "referred",
    "ineligible",
    "incomplete",
    "potentially_eligible",
    "awaiting_decision",
    "withdrawn_before_decision",
    "rejected",
    "approved",
    "awaiting_enrolment",
    "declined_consent",
    "withdrawn_after_approval",
    "enrolled",
)


@dataclass
class Flow:
    """The numbers of one site, or of all sites together."""

    referred: int = 0
    ineligible: int = 0
    incomplete: int = 0
    potentially_eligible: int = 0
    awaiting_decision: int = 0
    withdrawn_before_decision: int = 0
    rejected: int = 0
    approved: int = 0
    awaiting_enrolment: int = 0
    declined_consent: int = 0
    withdrawn_after_approval: int = 0
    enrolled: int = 0
    # Criterion code -> ineligible referrals failing it; one referral may fail several.
    failed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(rules.CODES, 0))
    # Reason code -> MDT rejections resting on it.
    rejected_by_reason: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(REJECTION_REASONS, 0)
    )

    def __add__(self, other: "Flow") -> "Flow":
        return Flow(
            **{name: getattr(self, name) + getattr(other, name) for name in COUNTED_BOXES},
            failed=_sum_counts(self.failed, other.failed),
            rejected_by_reason=_sum_counts(self.rejected_by_reason, other.rejected_by_reason),
        )


def _sum_counts(first: dict[str, int], second: dict[str, int]) -> dict[str, int]:
    return {key: first.get(key, 0) + second.get(key, 0) for key in {**first, **second}}


@dataclass
class Report:
    overall: Flow
    by_site: list[tuple[Site, Flow]]
    target: int

    def flow_of(self, site: Site | None) -> Flow:
        if site is None:
            return self.overall
        return next(flow for each, flow in self.by_site if each.pk == site.pk)


def _box_conditions() -> dict[str, Q]:
    """The condition of each box but the first, on referrals with ``current_decision``."""
    potentially_eligible = Q(outcome=Outcome.POTENTIALLY_ELIGIBLE)
    undecided = Q(current_decision__isnull=True)
    withdrawn = Q(status=Status.WITHDRAWN)
    declined = Q(withdrawal_reason=DECLINED_CONSENT)
    approved = potentially_eligible & Q(current_decision__decision=Decision.APPROVE)
    return {
        "ineligible": Q(outcome=Outcome.INELIGIBLE),
        "incomplete": Q(outcome=Outcome.INCOMPLETE),
        "potentially_eligible": potentially_eligible,
        "awaiting_decision": potentially_eligible & undecided & ~withdrawn,
        "withdrawn_before_decision": potentially_eligible & undecided & withdrawn,
        "rejected": potentially_eligible & Q(current_decision__decision=Decision.REJECT),
        "approved": approved,
        "awaiting_enrolment": approved & Q(status=Status.MDT_APPROVED),
        "declined_consent": approved & withdrawn & declined,
        "withdrawn_after_approval": approved & withdrawn & ~declined,
        "enrolled": approved & Q(status=Status.ENROLLED),
    }


def _snapshot_seen() -> str | None:
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


def count_boxes() -> tuple[dict, dict]:
    """Box counts by site id and rejection reasons by site id: two queries."""
    # At most one current decision per referral (a database constraint), so this join adds no
    # rows and plain counts stay right.
    referrals = Referral.objects.annotate(
        current_decision=FilteredRelation(
            "decisions", condition=Q(decisions__superseded_at__isnull=True)
        )
    )
    conditions = _box_conditions()
    # From the plain array of the twelve results: reading each row's JSON took a second.
    failing = {
        f"failed_{code}": Count(
            "id",
            filter=conditions["ineligible"]
            & Q(**{f"evaluation__criterion_results__{index}": rules.Result.FAIL.value}),
        )
        for index, code in enumerate(rules.CODES)
    }
    counts = {
        row["site_id"]: row
        for row in referrals.order_by()
        .values("site_id")
        .annotate(
            referred=Count("id"),
            **{name: Count("id", filter=condition) for name, condition in conditions.items()},
            **failing,
        )
    }
    rejections = (
        referrals.filter(conditions["rejected"])
        .order_by()
        .values("site_id", "current_decision__reason_code")
        .annotate(count=Count("id"))
    )
    reasons_by_site: dict[int, dict[str, int]] = {}
    for row in rejections:
        reasons = reasons_by_site.setdefault(row["site_id"], {})
        code = row["current_decision__reason_code"] or "other"
        reasons[code] = reasons.get(code, 0) + row["count"]
    return counts, reasons_by_site


def consort_report() -> Report:
    """Count every box per site in the database, in a constant number of queries.

    Counting reads every referral, which takes a few hundred milliseconds at 100,000, so the
    counts are kept (in Django's cache) for as long as the database shows the same snapshot:
    the page and its SVG download, or a reload, count once. Any committed write anywhere in
    the database changes the snapshot, so kept counts are never stale.
    """
    seen = _snapshot_seen()
    key = f"consort-counts:{seen}"
    counted = cache.get(key) if seen else None
    if counted is None:
        counted = count_boxes()
        # Kept only if nothing was committed while counting: then the counts are of ``seen``.
        if seen and _snapshot_seen() == seen:
            cache.set(key, counted)
    counts, reasons_by_site = counted
    by_site = []
    for site in Site.objects.order_by("code"):
        row = counts.get(site.pk, {})
        flow = Flow(
            **{name: row.get(name, 0) for name in COUNTED_BOXES},
            failed={code: row.get(f"failed_{code}", 0) for code in rules.CODES},
        )
        flow.rejected_by_reason = _sum_counts(
            flow.rejected_by_reason, reasons_by_site.get(site.pk, {})
        )
        by_site.append((site, flow))
    return Report(
        overall=sum((flow for _site, flow in by_site), Flow()),
        by_site=by_site,
        target=ProtocolVersion.current().enrolment_target,
    )


def _reason_codes(flow: Flow) -> list[str]:
    """The protocol's rejection reasons in order, then any other code found in the data."""
    return [*REJECTION_REASONS, *sorted(set(flow.rejected_by_reason) - set(REJECTION_REASONS))]


def _short_label(code: str) -> str:
    """E.g. "I1 age", or "other reason"."""
    return (
        str(SHORT_NAMES[code]) if code == "other" else f"{code} {SHORT_NAMES.get(code, '')}".strip()
    )


def table_rows(report: Report) -> list[dict]:
    """Rows of the accessible table: a label, its depth in the flow, the numbers overall and
    by site (in the order of ``report.by_site``)."""
    flows = [report.overall, *(flow for _site, flow in report.by_site)]

    def row(label, depth, count):
        return {"label": label, "depth": depth, "counts": [count(flow) for flow in flows]}

    def box(name):
        return lambda flow: getattr(flow, name)

    def failing(code):
        return lambda flow: flow.failed.get(code, 0)

    def rejected_for(code):
        return lambda flow: flow.rejected_by_reason.get(code, 0)

    return [
        row(_("Referred and assessed"), 0, box("referred")),
        row(_("Excluded: ineligible"), 1, box("ineligible")),
        *(row(_short_label(code), 2, failing(code)) for code in rules.CODES),
        row(_("Incomplete: data missing"), 1, box("incomplete")),
        row(_("Potentially eligible: referred to the MDT"), 1, box("potentially_eligible")),
        row(_("Awaiting an MDT decision"), 2, box("awaiting_decision")),
        row(_("Withdrawn before a decision"), 2, box("withdrawn_before_decision")),
        row(_("Rejected by the MDT"), 2, box("rejected")),
        # Only the reasons the MDT gave: thirteen rows of zeros would hide the ones that count.
        *(
            row(_short_label(code), 3, rejected_for(code))
            for code in _reason_codes(report.overall)
            if report.overall.rejected_by_reason.get(code)
        ),
        row(_("Approved by the MDT"), 2, box("approved")),
        row(_("Awaiting consent and enrolment"), 3, box("awaiting_enrolment")),
        row(_("Declined consent"), 3, box("declined_consent")),
        row(_("Withdrawn for another reason"), 3, box("withdrawn_after_approval")),
        row(_("Enrolled"), 3, box("enrolled")),
    ]


# The diagram: a main column of stages, each with the boxes of those who left it on the right.

MARGIN = 16
MAIN_X = MARGIN
MAIN_WIDTH = 300
SIDE_X = MAIN_X + MAIN_WIDTH + 60
SIDE_WIDTH = 360
LINE_HEIGHT = 18
PADDING = 10
BASELINE = 13  # from the top of a text line to its baseline, for a 13px font
GAP = 14


@dataclass(frozen=True)
class TextLine:
    x: int
    y: int
    text: str
    bold: bool


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    width: int
    height: int
    kind: str  # "main", "side" or "enrolled": the fill colour and CSS class
    lines: tuple[TextLine, ...]


@dataclass(frozen=True)
class Arrow:
    x1: int
    y1: int
    x2: int
    y2: int


@dataclass(frozen=True)
class Diagram:
    width: int
    height: int
    title: str
    description: str
    boxes: tuple[Box, ...]
    arrows: tuple[Arrow, ...]


@dataclass(frozen=True)
class _Content:
    """What a box says before it has a place: a heading and detail lines."""

    heading: str
    details: tuple[str, ...] = ()

    def placed(self, *, x: int, y: int, width: int, kind: str) -> Box:
        texts = (self.heading, *self.details)
        lines = tuple(
            TextLine(
                x=x + PADDING,
                y=y + PADDING + LINE_HEIGHT * index + BASELINE,
                text=text,
                bold=index == 0,
            )
            for index, text in enumerate(texts)
        )
        height = 2 * PADDING + LINE_HEIGHT * len(texts)
        return Box(x=x, y=y, width=width, height=height, kind=kind, lines=lines)


def _content(label: str, count: int, details=()) -> _Content:
    heading = _("%(label)s (n = %(count)s)") % {"label": label, "count": count}
    return _Content(heading=heading, details=tuple(details))


def _code_lines(counts: dict[str, int]) -> list[str]:
    """One line per code with a non-zero count, e.g. "I1 age: 3"."""
    return [f"{_short_label(code)}: {count}" for code, count in counts.items() if count]


def _stages(report: Report, flow: Flow, site: Site | None) -> list:
    """(main box, side boxes) for each stage of the flow, top to bottom."""
    failing = _code_lines(flow.failed)
    if failing:
        failing.insert(0, _("failing (a referral may fail several):"))
    reasons = {code: flow.rejected_by_reason.get(code, 0) for code in _reason_codes(flow)}
    target = (
        _("target: %(target)s") if site is None else _("target for all sites together: %(target)s")
    ) % {"target": report.target}
    return [
        (
            _content(_("Referred and assessed"), flow.referred),
            [
                _content(_("Excluded: ineligible"), flow.ineligible, failing),
                _content(_("Incomplete: data missing"), flow.incomplete),
            ],
        ),
        (
            _content(
                _("Potentially eligible"), flow.potentially_eligible, [_("referred to the MDT")]
            ),
            [
                _content(_("Awaiting an MDT decision"), flow.awaiting_decision),
                _content(_("Withdrawn before a decision"), flow.withdrawn_before_decision),
                _content(_("Rejected by the MDT"), flow.rejected, _code_lines(reasons)),
            ],
        ),
        (
            _content(_("Approved by the MDT"), flow.approved),
            [
                _content(_("Awaiting consent and enrolment"), flow.awaiting_enrolment),
                _content(_("Declined consent"), flow.declined_consent),
                _content(_("Withdrawn for another reason"), flow.withdrawn_after_approval),
            ],
        ),
        (_content(_("Enrolled"), flow.enrolled, [target]), []),
    ]


def diagram(report: Report, site: Site | None = None) -> Diagram:
    """Lay out the flow of one site (or of all) as boxes and arrows for the SVG template."""
    flow = report.flow_of(site)
    boxes, arrows = [], []
    spine_x = MAIN_X + MAIN_WIDTH // 2
    y = MARGIN
    previous_bottom = None
    for index, (main, sides) in enumerate(_stages(report, flow, site)):
        last = index == 3
        box = main.placed(x=MAIN_X, y=y, width=MAIN_WIDTH, kind="enrolled" if last else "main")
        boxes.append(box)
        if previous_bottom is not None:
            arrows.append(Arrow(spine_x, previous_bottom, spine_x, y))
        side_y = y + box.height + GAP
        for side in sides:
            side_box = side.placed(x=SIDE_X, y=side_y, width=SIDE_WIDTH, kind="side")
            middle = side_y + side_box.height // 2
            arrows.append(Arrow(spine_x, middle, SIDE_X, middle))
            boxes.append(side_box)
            side_y += side_box.height + GAP
        previous_bottom = y + box.height
        y = max(previous_bottom + 3 * GAP, side_y + GAP)
    scope = site.name if site else _("all sites")
    return Diagram(
        width=SIDE_X + SIDE_WIDTH + MARGIN,
        height=previous_bottom + MARGIN,
        title=_("Flow of referrals, %(scope)s") % {"scope": scope},
        description=_(
            "%(referred)s referred and assessed; %(ineligible)s ineligible; %(incomplete)s "
            "incomplete; %(eligible)s potentially eligible, of whom %(rejected)s rejected and "
            "%(approved)s approved by the MDT; %(declined)s declined consent; %(enrolled)s "
            "enrolled of a target of %(target)s."
        )
        % {
            "referred": flow.referred,
            "ineligible": flow.ineligible,
            "incomplete": flow.incomplete,
            "eligible": flow.potentially_eligible,
            "rejected": flow.rejected,
            "approved": flow.approved,
            "declined": flow.declined_consent,
            "enrolled": flow.enrolled,
            "target": report.target,
        },
        boxes=tuple(boxes),
        arrows=tuple(arrows),
    )
