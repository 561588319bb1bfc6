"""The colour of a status's or an outcome's badge: one mapping for the badge partials
(``referrals/status_badge.html``, ``referrals/outcome_badge.html``) and the referral list's
rows, which show the badges without including a partial per row."""

from django import template

from screening.models import Referral

register = template.Library()

Status, Outcome = Referral.Status, Referral.Outcome

STATUS_CLASSES = {
    Status.SCREENING: "text-bg-secondary",
    Status.SCREEN_FAILED: "text-bg-danger",
    Status.MDT_REVIEW: "text-bg-info",
    Status.MDT_APPROVED: "text-bg-success",
    Status.MDT_REJECTED: "text-bg-warning",
    Status.ENROLLED: "text-bg-primary",
    Status.WITHDRAWN: "text-bg-dark",
}
OUTCOME_CLASSES = {
    Outcome.POTENTIALLY_ELIGIBLE: "text-bg-success",
    Outcome.INELIGIBLE: "text-bg-danger",
    Outcome.INCOMPLETE: "text-bg-warning",
}


@register.filter
def status_badge_class(status: str) -> str:
    """``{{ referral.status|status_badge_class }}``: "text-bg-info" for MDT review."""
    return STATUS_CLASSES.get(status, "text-bg-dark")


@register.filter
def outcome_badge_class(outcome: str) -> str:
    """``{{ referral.outcome|outcome_badge_class }}``: "text-bg-success" when potentially
    eligible."""
    return OUTCOME_CLASSES.get(outcome, "text-bg-warning")
