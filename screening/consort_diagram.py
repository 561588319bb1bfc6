"""The CONSORT flow laid out for the SVG template: a main column of stages, each with the boxes
of those who left it on the right."""

from dataclasses import dataclass

from django.utils.translation import gettext as _

from screening import consort
from screening.models import Site

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


def _content(flow: consort.Flow, box: str, details=()) -> _Content:
    """Box ``box`` of ``flow``: its label and count, then ``details``."""
    label, count = consort.BOX_LABELS[box], getattr(flow, box)
    heading = _("%(label)s (n = %(count)s)") % {"label": label, "count": count}
    return _Content(heading=heading, details=tuple(details))


def _code_lines(counts: dict[str, int]) -> list[str]:
    """One line per code with a non-zero count, e.g. "I1 age: 3"."""
    return [f"{consort.short_label(code)}: {count}" for code, count in counts.items() if count]


def _stages(report: consort.Report, flow: consort.Flow, site: Site | None) -> list:
    """(main box, side boxes) for each stage of the flow, top to bottom."""
    failing = _code_lines(flow.failed)
    if failing:
        failing.insert(0, _("failing (a referral may fail several):"))
    reasons = {code: flow.rejected_by_reason.get(code, 0) for code in consort.reason_codes(flow)}
    target = (
        _("target: %(target)s") if site is None else _("target for all sites together: %(target)s")
    ) % {"target": report.target}
    return [
        (
            _content(flow, "referred"),
            [_content(flow, "ineligible", failing), _content(flow, "incomplete")],
        ),
        (
            _content(flow, "potentially_eligible", [_("referred to the MDT")]),
            [
                _content(flow, "awaiting_decision"),
                _content(flow, "withdrawn_before_decision"),
                _content(flow, "rejected", _code_lines(reasons)),
            ],
        ),
        (
            _content(flow, "approved"),
            [
                _content(flow, "awaiting_enrolment"),
                _content(flow, "declined_consent"),
                _content(flow, "withdrawn_after_approval"),
            ],
        ),
        (_content(flow, "enrolled", [target]), []),
    ]


def _dates_phrase(scope: consort.Scope) -> str:
    """The referral dates a report counts, e.g. "referred 2026-01-01 to 2026-06-30"."""
    start, end = scope.referred_from, scope.referred_to
    if start and end:
        return _("referred %(start)s to %(end)s") % {
            "start": start.isoformat(),
            "end": end.isoformat(),
        }
    if start:
        return _("referred from %(start)s") % {"start": start.isoformat()}
    if end:
        return _("referred up to %(end)s") % {"end": end.isoformat()}
    return ""


def diagram(report: consort.Report, site: Site | None = None) -> Diagram:
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
    scope = site.display_name if site else _("all sites")
    dates = _dates_phrase(report.scope)
    if dates:
        scope = _("%(scope)s, %(dates)s") % {"scope": scope, "dates": dates}
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
