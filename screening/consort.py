"""The CONSORT-style flow of referrals: counts from the database and the table of them.

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
``screening.consort_diagram`` draws the flow as SVG.
"""

import datetime
from dataclasses import dataclass, field, make_dataclass

from django.db.models import Count, FilteredRelation, Q
from django.utils.translation import gettext_lazy

from screening import kept, rules
from screening.exports import referrals_filtered
from screening.models import MdtDecision, ProtocolVersion, Referral, Site
from screening.services import REJECTION_REASONS

Outcome = Referral.Outcome
Status = Referral.Status
Decision = MdtDecision.Decision

# Short names of the criteria (and of a rejection for another reason) for the diagram's narrow
# boxes and the table's rows.
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


# The boxes of the flow in its order, each with its label for the table and the diagram.
BOX_LABELS = {
    "referred": gettext_lazy("Referred and assessed"),
    "ineligible": gettext_lazy("Excluded: ineligible"),
    "incomplete": gettext_lazy("Incomplete: data missing"),
    "potentially_eligible": gettext_lazy("Potentially eligible"),
    "awaiting_decision": gettext_lazy("Awaiting an MDT decision"),
    "withdrawn_before_decision": gettext_lazy("Withdrawn before a decision"),
    "rejected": gettext_lazy("Rejected by the MDT"),
    "approved": gettext_lazy("Approved by the MDT"),
    "awaiting_enrolment": gettext_lazy("Awaiting consent and enrolment"),
    "declined_consent": gettext_lazy("Declined consent"),
    "withdrawn_after_approval": gettext_lazy("Withdrawn for another reason"),
    "enrolled": gettext_lazy("Enrolled"),
}
# The table says in one row what the diagram's box says in a heading and a detail line.
TABLE_LABELS = BOX_LABELS | {
    "potentially_eligible": gettext_lazy("Potentially eligible: referred to the MDT")
}
COUNTED_BOXES = tuple(BOX_LABELS)


# One count per box, 0 by default (``flow.referred`` ...), made from COUNTED_BOXES so the
# names of the boxes are written once.
_BoxCounts = make_dataclass("_BoxCounts", [(name, int, 0) for name in COUNTED_BOXES])


@dataclass
class Flow(_BoxCounts):
    """The numbers of one site, or of all sites together: a count per box, and these."""

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


@dataclass(frozen=True)
class Scope:
    """Which referrals a report counts: one site or all, and a referral-date range (both
    ends included); None means any."""

    site: Site | None = None
    referred_from: datetime.date | None = None
    referred_to: datetime.date | None = None

    def referrals(self):
        return referrals_filtered(
            site=self.site.code if self.site else None,
            referred_from=self.referred_from,
            referred_to=self.referred_to,
        )

    @property
    def key(self) -> str:
        site = self.site.code if self.site else ""
        return f"{site}:{self.referred_from or ''}:{self.referred_to or ''}"


@dataclass
class Report:
    overall: Flow
    by_site: list[tuple[Site, Flow]]
    target: int
    limits: rules.Limits  # of the protocol in force, which words the criteria
    scope: Scope = field(default_factory=Scope)

    def flow_of(self, site: Site | None) -> Flow:
        if site is None:
            return self.overall
        return next(flow for each, flow in self.by_site if each.pk == site.pk)


def _box_conditions() -> dict[str, Q]:
    """The condition of each box but the first, on referrals with ``current_decision``."""
    potentially_eligible = Q(outcome=Outcome.POTENTIALLY_ELIGIBLE)
    undecided = Q(current_decision__isnull=True)
    withdrawn = Q(status=Status.WITHDRAWN)
    declined = Q(withdrawal_code=Referral.WithdrawalReason.DECLINED_CONSENT)
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


@dataclass(frozen=True)
class FlowRow:
    """What places one referral in the flow: the fields ``_box_conditions`` reads."""

    outcome: str
    status: str
    decision: str | None  # of the current (not superseded) MDT decision
    reason_code: str | None  # of a current rejection
    withdrawal_code: str
    failed: frozenset[str]  # the criteria its evaluation fails


def box_names(row: FlowRow) -> list[str]:
    """The boxes ``row`` counts in, as ``_box_conditions`` places it in the database."""
    names = ["referred"]
    if row.outcome != Outcome.POTENTIALLY_ELIGIBLE:
        names += [row.outcome] if row.outcome in COUNTED_BOXES else []
        return names
    names.append("potentially_eligible")
    withdrawn = row.status == Status.WITHDRAWN
    if row.decision is None:
        names.append("withdrawn_before_decision" if withdrawn else "awaiting_decision")
    elif row.decision == Decision.REJECT:
        names.append("rejected")
    elif row.decision == Decision.APPROVE:
        names.append("approved")
        if row.status == Status.MDT_APPROVED:
            names.append("awaiting_enrolment")
        elif row.status == Status.ENROLLED:
            names.append("enrolled")
        elif withdrawn:
            declined = row.withdrawal_code == Referral.WithdrawalReason.DECLINED_CONSENT
            names.append("declined_consent" if declined else "withdrawn_after_approval")
    return names


def flow_from_rows(rows) -> Flow:
    """Count ``rows`` (``FlowRow``) into a flow without the database: the same numbers as
    ``count_boxes`` gives for the referrals they describe (tests/test_consort.py)."""
    flow = Flow()
    for row in rows:
        for name in box_names(row):
            setattr(flow, name, getattr(flow, name) + 1)
        if row.outcome == Outcome.INELIGIBLE:
            for code in row.failed:
                flow.failed[code] = flow.failed.get(code, 0) + 1
        if row.outcome == Outcome.POTENTIALLY_ELIGIBLE and row.decision == Decision.REJECT:
            code = row.reason_code or "other"
            flow.rejected_by_reason[code] = flow.rejected_by_reason.get(code, 0) + 1
    return flow


def flow_rows(referrals=None) -> dict[int, FlowRow]:
    """Referral id -> its ``FlowRow``, for ``referrals`` (default all): one query."""
    referrals = Referral.objects.all() if referrals is None else referrals
    values = referrals.annotate(
        current_decision=FilteredRelation(
            "decisions", condition=Q(decisions__superseded_at__isnull=True)
        )
    ).values_list(
        "pk",
        "outcome",
        "status",
        "current_decision__decision",
        "current_decision__reason_code",
        "withdrawal_code",
        "evaluation__criterion_results",
    )
    return {
        pk: FlowRow(
            outcome=outcome,
            status=status,
            decision=decision,
            reason_code=reason_code,
            withdrawal_code=withdrawal_code,
            failed=frozenset(
                code
                for code, result in zip(rules.CODES, results or (), strict=False)
                if result == rules.Result.FAIL
            ),
        )
        for pk, outcome, status, decision, reason_code, withdrawal_code, results in values
    }


def count_boxes(scope: Scope | None = None) -> tuple[dict, dict]:
    """Box counts by site id and rejection reasons by site id: two queries."""
    scope = scope or Scope()
    # At most one current decision per referral (a database constraint), so this join adds no
    # rows and plain counts stay right.
    referrals = scope.referrals().annotate(
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


def consort_report(scope: Scope | None = None) -> Report:
    """Count every box per site in the database, in a constant number of queries; with a
    site in ``scope``, that site alone, and with dates, the referrals referred between them.

    Counting reads every referral, which takes a few hundred milliseconds at 100,000, so the
    counts are kept while the database shows the same snapshot (``kept.kept``): the page and
    its SVG download, or a reload, count once, and kept counts are never stale.
    """
    scope = scope or Scope()
    counts, reasons_by_site = kept.kept(f"consort-counts:{scope.key}", lambda: count_boxes(scope))
    by_site = []
    sites = Site.objects.order_by("code")
    for site in sites.filter(pk=scope.site.pk) if scope.site else sites:
        row = counts.get(site.pk, {})
        flow = Flow(
            **{name: row.get(name, 0) for name in COUNTED_BOXES},
            failed={code: row.get(f"failed_{code}", 0) for code in rules.CODES},
        )
        flow.rejected_by_reason = _sum_counts(
            flow.rejected_by_reason, reasons_by_site.get(site.pk, {})
        )
        by_site.append((site, flow))
    protocol = ProtocolVersion.current()
    return Report(
        overall=sum((flow for _site, flow in by_site), Flow()),
        by_site=by_site,
        target=protocol.enrolment_target,
        limits=protocol.limits(),
        scope=scope,
    )


def reason_codes(flow: Flow) -> list[str]:
    """The protocol's rejection reasons in order, then any other code found in the data."""
    return [*REJECTION_REASONS, *sorted(set(flow.rejected_by_reason) - set(REJECTION_REASONS))]


def short_label(code: str) -> str:
    """E.g. "I1 age", or "Other reason"."""
    return (
        str(SHORT_NAMES[code]) if code == "other" else f"{code} {SHORT_NAMES.get(code, '')}".strip()
    )


def table_rows(report: Report) -> list[dict]:
    """Rows of the accessible table: a label, its depth in the flow, the numbers overall and
    by site (in the order of ``report.by_site``), and for a criterion its wording under the
    protocol in force as ``detail``."""
    return flow_table([report.overall, *(flow for _site, flow in report.by_site)], report.limits)


def flow_table(flows: list[Flow], limits: rules.Limits) -> list[dict]:
    """Rows of a table with a column per flow of ``flows``; criteria worded under ``limits``."""

    def row(label, depth, count, code=None):
        return {
            "label": label,
            "detail": rules.criterion_text(code, limits) if code in rules.CODES else "",
            "depth": depth,
            "counts": [count(flow) for flow in flows],
        }

    def box(name, depth):
        return row(str(TABLE_LABELS[name]), depth, lambda flow: getattr(flow, name))

    def failing(code):
        return lambda flow: flow.failed.get(code, 0)

    def rejected_for(code):
        return lambda flow: flow.rejected_by_reason.get(code, 0)

    return [
        box("referred", 0),
        box("ineligible", 1),
        *(row(short_label(code), 2, failing(code), code) for code in rules.CODES),
        box("incomplete", 1),
        box("potentially_eligible", 1),
        box("awaiting_decision", 2),
        box("withdrawn_before_decision", 2),
        box("rejected", 2),
        # Only the reasons the MDT gave: thirteen rows of zeros would hide the ones that count.
        *(
            row(short_label(code), 3, rejected_for(code), code)
            for code in reason_codes(flows[0])
            if any(flow.rejected_by_reason.get(code) for flow in flows)
        ),
        box("approved", 2),
        box("awaiting_enrolment", 3),
        box("declined_consent", 3),
        box("withdrawn_after_approval", 3),
        box("enrolled", 3),
    ]
