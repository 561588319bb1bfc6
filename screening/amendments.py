"""Protocol amendments (PROTOCOL section 1): a new version, and whose outcome it changed.

A data manager amends the protocol by adopting a new ``ProtocolVersion``; every referral still
being worked (not enrolled, not withdrawn) is re-evaluated under it by the same service as any
edit, so MDT decisions bound to an outcome that changes are superseded as usual. Earlier
evaluations keep the version they were made under.
"""

from dataclasses import dataclass, replace

import pghistory
from django.db import connection, transaction
from django.db.models import F, OuterRef, Subquery
from django.utils.translation import gettext as _

from screening import consort, notifications, rules, services
from screening.models import Enrolment, Evaluation, ProtocolVersion, Referral

# What a data manager sets in an amendment; the version number and author are assigned.
AMENDABLE_FIELDS = tuple(
    field.name
    for field in ProtocolVersion._meta.concrete_fields
    if field.name not in ("id", "version", "created_at", "created_by")
)


@dataclass(frozen=True)
class OutcomeChange:
    screening_number: str
    site: str
    old_outcome: str
    new_outcome: str

    def get_old_outcome_display(self) -> str:
        return Referral.Outcome(self.old_outcome).label

    def get_new_outcome_display(self) -> str:
        return Referral.Outcome(self.new_outcome).label


@dataclass(frozen=True)
class PreviewChange(OutcomeChange):
    """An outcome an amendment would change, with the workflow status before and after."""

    old_status: str
    new_status: str

    def get_old_status_display(self) -> str:
        return Referral.Status(self.old_status).label

    def get_new_status_display(self) -> str:
        return Referral.Status(self.new_status).label


@dataclass(frozen=True)
class Preview:
    changes: list[PreviewChange]
    before: consort.Flow
    after: consort.Flow


def status_on_amendment(status: str, outcome: str) -> str:
    """Where ``referral_evaluate`` sends an open referral re-evaluated to ``outcome`` by an
    amendment, which changes no clinical field: an approval stands while the referral is still
    potentially eligible."""
    if status == Referral.Status.MDT_APPROVED and services.approval_kept((), outcome):
        return status
    return services.STATUS_FOR_OUTCOME[outcome]


def protocol_amend_preview(**fields) -> Preview:
    """What adopting ``fields`` now would change, worked out without writing anything.

    Each referral ``protocol_amend`` would re-evaluate is judged by the rules under the
    proposed limits; the CONSORT counts before and after come from the same rows. Two queries
    and the rules for every open referral; the referrals are read, not locked, so adoption
    judges them again.
    """
    limits = ProtocolVersion(**fields).limits()
    rows = consort.flow_rows()
    before = consort.flow_from_rows(rows.values())
    changes = []
    open_referrals = (
        Referral.objects.exclude(status__in=Referral.CLOSED_STATUSES)
        .select_related("site")
        .order_by("screening_number")
    )
    for referral in open_referrals.iterator(chunk_size=500):
        result = rules.evaluate(referral.snapshot(), limits)
        outcome = str(result.outcome)
        status = status_on_amendment(referral.status, outcome)
        # A referral created since ``rows`` were read counts after only: adoption will judge it.
        row = rows.get(referral.pk) or consort.FlowRow(
            referral.outcome, referral.status, None, None, referral.withdrawal_code, frozenset()
        )
        rows[referral.pk] = replace(
            row,
            outcome=outcome,
            status=status,
            # A superseded approval is no longer the current decision.
            decision=row.decision if status == referral.status else None,
            failed=frozenset(r.code for r in result.results if r.result == rules.Result.FAIL),
        )
        if outcome != referral.outcome:
            changes.append(
                PreviewChange(
                    referral.screening_number,
                    referral.site.code,
                    referral.outcome,
                    outcome,
                    referral.status,
                    status,
                )
            )
    return Preview(changes=changes, before=before, after=consort.flow_from_rows(rows.values()))


@transaction.atomic
def protocol_amend(*, user, **fields) -> tuple[ProtocolVersion, list[OutcomeChange]]:
    """Adopt a new protocol version and re-evaluate every referral not enrolled or withdrawn.

    ``fields`` are ``AMENDABLE_FIELDS``; the version number is the next integer. Enrolments
    wait meanwhile (their lock), so the target is never set below the number enrolled. Costs
    a few queries per re-evaluated referral, in one transaction: all or nothing.
    """
    unknown = set(fields) - set(AMENDABLE_FIELDS)
    if unknown:
        raise TypeError(f"not amendable: {', '.join(sorted(unknown))}")
    # The audit events name the data manager even outside a web request (a shell, a test).
    with pghistory.context(user=user.pk):
        return _amend(user, fields)


def _amend(user, fields):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [services.ENROLMENT_LOCK])
    current = ProtocolVersion.objects.select_for_update().order_by("-version").first()
    enrolled = Enrolment.objects.count()
    target = fields.get("enrolment_target", current.enrolment_target)
    if target < enrolled:
        raise services.WorkflowError(
            _("The enrolment target cannot be lower than the %(count)s already enrolled.")
            % {"count": enrolled}
        )
    protocol = ProtocolVersion.objects.create(
        version=current.version + 1, created_by=user, **fields
    )
    open_referrals = (
        Referral.objects.exclude(status__in=Referral.CLOSED_STATUSES)
        .select_related("evaluation")
        .order_by("screening_number")
    )
    # Whom the re-evaluations send back to the MDT is told in one INSERT at the end.
    with notifications.batch():
        for referral in open_referrals.iterator(chunk_size=500):
            services.referral_evaluate(referral=referral, user=user, protocol=protocol)
    return protocol, protocol_outcome_changes(protocol=protocol)


def protocol_outcome_changes(*, protocol: ProtocolVersion) -> list[OutcomeChange]:
    """The referrals whose outcome changed when ``protocol`` was adopted (one query).

    The adoption's evaluations are those under ``protocol`` that directly follow one under an
    earlier version; later edits (already under ``protocol``) and referrals created since
    (nothing before) are not part of it. Evaluation ids grow with time, so "directly
    follows" is "the next lower id of the same referral".
    """
    earlier = Evaluation.objects.filter(referral=OuterRef("referral"), pk__lt=OuterRef("pk"))
    earlier = earlier.order_by("-pk")
    rows = (
        Evaluation.objects.filter(protocol_version=protocol)
        .annotate(
            earlier_outcome=Subquery(earlier.values("outcome")[:1]),
            earlier_version=Subquery(earlier.values("protocol_version__version")[:1]),
        )
        .filter(earlier_version__lt=protocol.version)
        .exclude(outcome=F("earlier_outcome"))
        .order_by("referral__screening_number")
        .values_list(
            "referral__screening_number", "referral__site__code", "earlier_outcome", "outcome"
        )
    )
    return [OutcomeChange(*row) for row in rows]
