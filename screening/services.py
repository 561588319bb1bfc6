"""Every state change of a referral has its home here (STYLE.md lesson 2)."""

from collections.abc import Iterable

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from screening import rules
from screening.models import Evaluation, MdtDecision, ProtocolVersion, Referral

Status = Referral.Status


class WorkflowError(Exception):
    """A state change the workflow refuses; the message is meant for the user."""


# Where evaluation sends a referral that is still being screened or reviewed.
STATUS_FOR_OUTCOME = {
    rules.Outcome.INELIGIBLE: Status.SCREEN_FAILED,
    rules.Outcome.INCOMPLETE: Status.SCREENING,
    rules.Outcome.POTENTIALLY_ELIGIBLE: Status.MDT_REVIEW,
}


def _next_screening_numbers(count: int) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval('screening_referral_number_seq') FROM generate_series(1, %s)", [count]
        )
        return [f"S-{number:05d}" for (number,) in cursor.fetchall()]


def _evaluation_build(referral, protocol, user) -> Evaluation:
    snapshot = referral.snapshot()
    result = rules.evaluate(snapshot, protocol.limits())
    return Evaluation(
        referral=referral,
        protocol_version=protocol,
        outcome=str(result.outcome),
        results={criterion.code: criterion.to_json() for criterion in result.results},
        snapshot=snapshot.to_json(),
        created_by=user,
    )


def _status_after(referral: Referral, outcome: str) -> str:
    """The workflow status once a referral has a new evaluation (PROTOCOL section 6)."""
    if referral.status in Referral.CLOSED_STATUSES:
        return referral.status
    return STATUS_FOR_OUTCOME[outcome]


@transaction.atomic
def referrals_create(*, rows: Iterable[dict], user=None) -> list[Referral]:
    """Create and evaluate referrals from validated clinical data (``ReferralForm.clinical_data``).

    One transaction for all rows: either every referral is saved or none. Costs a constant
    number of queries per batch plus the audit triggers' own writes.
    """
    rows = list(rows)
    if not rows:
        return []
    protocol = ProtocolVersion.current()
    numbers = _next_screening_numbers(len(rows))
    referrals = [
        Referral(screening_number=number, created_by=user, **data)
        for number, data in zip(numbers, rows, strict=True)
    ]
    Referral.objects.bulk_create(referrals)
    evaluations = [_evaluation_build(referral, protocol, user) for referral in referrals]
    Evaluation.objects.bulk_create(evaluations)
    for referral, evaluation in zip(referrals, evaluations, strict=True):
        referral.evaluation = evaluation
        referral.outcome = evaluation.outcome
        referral.status = _status_after(referral, evaluation.outcome)
    Referral.objects.bulk_update(referrals, ["evaluation", "outcome", "status"])
    return referrals


def referral_create(*, data: dict, user=None) -> Referral:
    """Create one referral from validated clinical data and evaluate it."""
    return referrals_create(rows=[data], user=user)[0]


@transaction.atomic
def referral_evaluate(*, referral: Referral, user=None, protocol=None) -> Evaluation:
    """Evaluate the referral's current data and move it along the workflow.

    A current MDT decision is bound to the evaluation it saw: when the new outcome differs from
    it or the clinical data it judged changed, the decision is superseded and the referral
    goes where the new outcome sends it.
    """
    protocol = protocol or ProtocolVersion.current()
    evaluation = _evaluation_build(referral, protocol, user)
    evaluation.save()
    previous = referral.evaluation
    referral.evaluation = evaluation
    referral.outcome = evaluation.outcome
    decided = referral.status in (Status.MDT_APPROVED, Status.MDT_REJECTED)
    evidence_changed = (
        previous is None
        or previous.snapshot != evaluation.snapshot
        or previous.outcome != evaluation.outcome
    )
    if decided and evidence_changed:
        MdtDecision.objects.filter(referral=referral, superseded_at__isnull=True).update(
            superseded_at=timezone.now()
        )
    if not decided or evidence_changed:
        referral.status = _status_after(referral, evaluation.outcome)
    referral.save(update_fields=["evaluation", "outcome", "status", "updated_at"])
    return evaluation


@transaction.atomic
def referral_update(*, referral: Referral, data: dict, user=None) -> Referral:
    """Assign edited clinical data to a referral and re-evaluate it."""
    if referral.is_closed:
        raise WorkflowError(
            _("%(number)s is closed (%(status)s); its data can no longer change.")
            % {"number": referral.screening_number, "status": referral.get_status_display()}
        )
    changed = [name for name, value in data.items() if getattr(referral, name) != value]
    for name in changed:
        setattr(referral, name, data[name])
    referral.save(update_fields=[*changed, "updated_at"])
    referral_evaluate(referral=referral, user=user)
    return referral


@transaction.atomic
def referral_withdraw(*, referral: Referral, reason: str, user=None) -> Referral:
    """Withdraw a referral that is not yet enrolled; irreversible."""
    if referral.is_closed:
        raise WorkflowError(
            _("%(number)s is %(status)s and cannot be withdrawn.")
            % {"number": referral.screening_number, "status": referral.get_status_display()}
        )
    referral.status = Status.WITHDRAWN
    referral.withdrawal_reason = reason
    referral.save(update_fields=["status", "withdrawal_reason", "updated_at"])
    return referral
