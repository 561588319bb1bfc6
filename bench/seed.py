"""Seed the bench database: users, N referrals, MDT decisions, enrolments and withdrawals.

Needs Django set up against the bench database. Referrals go through the real service
(``services.referrals_create``: bulk insert, evaluation by the rules, audit triggers) in
batches; the later workflow steps are written in bulk because the services that own them
change one referral at a time, which would take longer than the whole benchmark budget.
"""

import datetime
import random
import secrets
import time

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.utils import timezone

from bench import synthetic
from bench.progress import Progress
from screening import services
from screening.models import Enrolment, MdtDecision, ProtocolVersion, Referral, Role, Site

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
    today = timezone.localdate()
    progress = Progress("seeding referrals", n)
    started = time.perf_counter()
    for start in range(0, n, BATCH):
        stop = min(start + BATCH, n)
        rows = [
            synthetic.clinical_data(synthetic.referral_row(index, today=today), sites)
            for index in range(start, stop)
        ]
        services.referrals_create(rows=rows, user=cast["coordinator"])
        progress.update(stop)
    progress.close()
    referrals_seconds = time.perf_counter() - started
    with transaction.atomic():
        decisions = _decide(cast["mdt"], today)
        enrolled = _enrol(cast["coordinator"], today)
        withdrawn = _withdraw()
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
    return {
        "referrals": n,
        "decisions": decisions,
        "enrolled": enrolled,
        "withdrawn": withdrawn,
        "referrals_seconds": referrals_seconds,
        "seconds": time.perf_counter() - started,
    }


def _decide(mdt_member, today) -> int:
    """MDT decisions on most referrals in review, each bound to the evaluation it saw."""
    rng = random.Random(1)
    candidates = Referral.objects.filter(status=Status.MDT_REVIEW).order_by("pk")
    decisions, approved, rejected = [], [], []
    now = timezone.now()
    rows = candidates.values_list("pk", "evaluation_id", "referral_date")
    for referral_id, evaluation_id, referral_date in rows:
        age = "older" if today - referral_date > DECISION_LAG else "recent"
        if rng.random() >= DECIDED_SHARE[age]:
            continue
        approve = rng.random() < APPROVED_SHARE
        common = {"referral_id": referral_id, "evaluation_id": evaluation_id}
        if rng.random() < RECONSIDERED_SHARE:
            decisions.append(
                MdtDecision(
                    **common,
                    decision=MdtDecision.Decision.REJECT,
                    rationale="待补充 PET-CT 后复议",
                    reason_code="I2",
                    decided_by=mdt_member,
                    superseded_at=now,
                )
            )
        decisions.append(
            MdtDecision(
                **common,
                decision=MdtDecision.Decision.APPROVE if approve else MdtDecision.Decision.REJECT,
                rationale="MDT 讨论同意入组筛选" if approve else "MDT 讨论认为不适合",
                reason_code="" if approve else rng.choice(REJECTION_CODES),
                attendees="放疗科 胸外科 肿瘤内科 影像科",
                decided_by=mdt_member,
            )
        )
        (approved if approve else rejected).append(referral_id)
    MdtDecision.objects.bulk_create(decisions, batch_size=BATCH)
    _set_status(approved, Status.MDT_APPROVED)
    _set_status(rejected, Status.MDT_REJECTED)
    # auto_now_add stamps every decision "now"; spread them after each screening date instead.
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
    return len(decisions)


def _enrol(coordinator, today) -> int:
    """Enrol the earliest approved referrals, up to the protocol's target."""
    protocol = ProtocolVersion.current()
    approved = Referral.objects.filter(status=Status.MDT_APPROVED).order_by("referral_date", "pk")
    chosen = list(approved.values_list("pk", "screening_date")[: protocol.enrolment_target])
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
    _set_status([referral_id for referral_id, _date in chosen], Status.ENROLLED)
    return len(chosen)


def _withdraw() -> int:
    rng = random.Random(2)
    still_open = Referral.objects.filter(status__in=(Status.SCREENING, Status.MDT_REVIEW))
    chosen = [
        pk for pk in still_open.values_list("pk", flat=True) if rng.random() < WITHDRAWN_SHARE
    ]
    for start in range(0, len(chosen), BATCH * 5):
        Referral.objects.filter(pk__in=chosen[start : start + BATCH * 5]).update(
            status=Status.WITHDRAWN, withdrawal_reason="患者及家属拒绝参加试验"
        )
    return len(chosen)


def _set_status(referral_ids: list[int], status: str) -> None:
    for start in range(0, len(referral_ids), BATCH * 5):
        Referral.objects.filter(pk__in=referral_ids[start : start + BATCH * 5]).update(
            status=status
        )
