"""Seed the bench database: users, N referrals, MDT decisions, enrolments and withdrawals.

Needs Django set up against the bench database. Each referral is evaluated by the real rules
and stored as ``services.referrals_create`` stores it (the same evaluation JSON, status and
audit context), but written in two INSERTs per batch with ids drawn up front: the service's
insert-then-update takes twice as long (400 against 700 referrals a second on this machine),
too long for the 15-minute budget at 100,000. Workflow steps are written in bulk for the same
reason; the services that own them change one referral at a time.
"""

import datetime
import random
import secrets
import time

import pghistory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.utils import timezone

from bench import synthetic
from screening import rules, services
from screening.models import (
    Enrolment,
    Evaluation,
    MdtDecision,
    ProtocolVersion,
    Referral,
    Role,
    Site,
)
from screening.progress import Progress

BATCH = 2000
USERS = {
    "coordinator": ("bench-coordinator", Role.COORDINATOR),
    "mdt": ("bench-mdt", Role.MDT),
    "data_manager": ("bench-datamanager", Role.ADMIN),
}
# The MDT meets weekly: most referrals in review for a fortnight have a decision, few newer.
DECISION_LAG = datetime.timedelta(days=14)
DECIDED_SHARE = {"older": 0.97, "recent": 0.15}
APPROVED_SHARE = 0.75  # of decisions
RECONSIDERED_SHARE = 0.03  # decisions with an earlier, superseded one
WITHDRAWN_SHARE = 0.03  # of referrals still open
REJECTION_CODES = ("I2", "I6", "E2", "E3", "")
Status = Referral.Status


def users() -> dict:
    """The bench users by role key, created on first use (one per role, both sites)."""
    found = {}
    for key, (username, role) in USERS.items():
        user, created = get_user_model().objects.get_or_create(
            username=username, defaults={"is_staff": role == Role.ADMIN}
        )
        if created:
            user.set_password(secrets.token_urlsafe(16))
            user.save(update_fields=["password"])
            user.groups.add(Group.objects.get(name=role))
            if role == Role.COORDINATOR:
                user.sites.set(Site.objects.all())
        found[key] = user
    return found


def seed(n: int) -> dict:
    """Create ``n`` referrals and move a realistic share along the workflow; returns counts."""
    cast = users()
    sites = {site.code: site for site in Site.objects.all()}
    protocol = ProtocolVersion.current()
    today = timezone.localdate()
    rng = random.Random(1)
    counts = {"referrals": n, "decisions": 0, "withdrawn": 0}
    progress = Progress("seeding referrals", n)
    started = time.perf_counter()
    for start in range(0, n, BATCH):
        stop = min(start + BATCH, n)
        rows = [
            synthetic.clinical_data(synthetic.referral_row(index, today=today), sites)
            for index in range(start, stop)
        ]
        batch = _create_batch(rows, protocol=protocol, cast=cast, today=today, rng=rng)
        for key, value in batch.items():
            counts[key] += value
        progress.update(stop)
    progress.close()
    counts["referrals_seconds"] = time.perf_counter() - started
    with transaction.atomic():
        _spread_decision_dates()
        counts["enrolled"] = _enrol(cast["coordinator"], protocol, today)
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS bench_seed "
                "(version integer, referrals integer, seeded_at timestamptz)"
            )
            cursor.execute("DELETE FROM bench_seed")
            cursor.execute(
                "INSERT INTO bench_seed VALUES (%s, %s, now())", [synthetic.SEED_VERSION, n]
            )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    counts["seconds"] = time.perf_counter() - started
    return counts


def _create_batch(rows, *, protocol, cast, today, rng) -> dict:
    """Referrals with their evaluation, and the MDT's decision or a withdrawal for some."""
    coordinator = cast["coordinator"]
    limits = protocol.limits()
    referrals, evaluations, decisions = [], [], []
    withdrawn = 0
    with transaction.atomic(), pghistory.context(user=coordinator.pk):
        # The service's own numbering, so numbers look as the app gives them.
        numbers = services._next_screening_numbers(len(rows))
        referral_ids = services._draw_ids(Referral, len(rows))
        evaluation_ids = services._draw_ids(Evaluation, len(rows))
        # Each referral points at its evaluation and the evaluation back at it; the database
        # checks both foreign keys at commit, so the order of the two INSERTs does not matter.
        for number, referral_id, evaluation_id, data in zip(
            numbers, referral_ids, evaluation_ids, rows, strict=True
        ):
            referral = Referral(
                id=referral_id,
                screening_number=number,
                evaluation_id=evaluation_id,
                created_by=coordinator,
                **data,
            )
            snapshot = referral.snapshot()
            result = rules.evaluate(snapshot, limits)
            referral.outcome = str(result.outcome)
            referral.status = services.STATUS_FOR_OUTCOME[result.outcome]
            evaluations.append(
                Evaluation(
                    id=evaluation_id,
                    referral_id=referral_id,
                    protocol_version=protocol,
                    outcome=referral.outcome,
                    results={criterion.code: criterion.to_json() for criterion in result.results},
                    snapshot=snapshot.to_json(),
                    created_by=coordinator,
                )
            )
            if referral.status == Status.MDT_REVIEW:
                decisions += _decisions(referral, cast["mdt"], today, rng)
            withdrawn += _maybe_withdraw(referral, rng)
            referrals.append(referral)
        Referral.objects.bulk_create(referrals)
        Evaluation.objects.bulk_create(evaluations)
    with transaction.atomic(), pghistory.context(user=cast["mdt"].pk):
        MdtDecision.objects.bulk_create(decisions)
    return {"decisions": len(decisions), "withdrawn": withdrawn}


def _decisions(referral, mdt_member, today, rng) -> list[MdtDecision]:
    """The MDT's decision on a referral in review, if it has met since; sets the status."""
    age = "older" if today - referral.referral_date > DECISION_LAG else "recent"
    if rng.random() >= DECIDED_SHARE[age]:
        return []
    approve = rng.random() < APPROVED_SHARE
    common = {
        "referral_id": referral.id,
        "evaluation_id": referral.evaluation_id,
        "decided_by": mdt_member,
        "meeting_date": min(today, referral.referral_date + DECISION_LAG),
    }
    decisions = []
    if rng.random() < RECONSIDERED_SHARE:
        decisions.append(
            MdtDecision(
                **common,
                decision=MdtDecision.Decision.REJECT,
                rationale="待补充 PET-CT 后复议",
                reason_code="I2",
                superseded_at=timezone.now(),
            )
        )
    decisions.append(
        MdtDecision(
            **common,
            decision=MdtDecision.Decision.APPROVE if approve else MdtDecision.Decision.REJECT,
            rationale="MDT 讨论同意入组筛选" if approve else "MDT 讨论认为不适合",
            reason_code="" if approve else rng.choice(REJECTION_CODES),
            attendees="放疗科 胸外科 肿瘤内科 影像科",
        )
    )
    referral.status = Status.MDT_APPROVED if approve else Status.MDT_REJECTED
    return decisions


def _maybe_withdraw(referral, rng) -> int:
    if referral.status not in (Status.SCREENING, Status.MDT_REVIEW):
        return 0
    if rng.random() >= WITHDRAWN_SHARE:
        return 0
    referral.status = Status.WITHDRAWN
    referral.withdrawal_code = Referral.WithdrawalReason.PATIENT_CHOICE
    referral.withdrawal_reason = "患者及家属拒绝参加试验"
    return 1


def _spread_decision_dates() -> None:
    """auto_now_add stamps every decision "now"; place each a few days after screening."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE screening_mdtdecision d
               SET decided_at = LEAST(
                       now(),
                       (r.screening_date + 3 + (d.id %% 11)::integer + time '15:00') AT TIME ZONE %s
                   )
              FROM screening_referral r
             WHERE r.id = d.referral_id
            """,
            [timezone.get_current_timezone_name()],
        )


def _enrol(coordinator, protocol, today) -> int:
    """Enrol the earliest approved referrals, up to the protocol's target."""
    approved = Referral.objects.filter(status=Status.MDT_APPROVED).order_by("referral_date", "pk")
    chosen = list(approved.values_list("pk", "screening_date")[: protocol.enrolment_target])
    with pghistory.context(user=coordinator.pk):
        Enrolment.objects.bulk_create(
            Enrolment(
                referral_id=referral_id,
                sequence=sequence,
                study_number=protocol.study_number(sequence),
                consent_date=min(screening_date + datetime.timedelta(days=14), today),
                enrolled_by=coordinator,
                protocol_version=protocol,
            )
            for sequence, (referral_id, screening_date) in enumerate(chosen, start=1)
        )
        Referral.objects.filter(pk__in=[pk for pk, _date in chosen]).update(status=Status.ENROLLED)
    return len(chosen)
