"""The workflow's steps, and referrals that have gone every way through the trial, for the
export and CONSORT tests.

Everything goes through the services a coordinator and the MDT use, so the data is what the
app itself would hold.
"""

from django.utils import timezone

from screening import amendments, services
from screening.models import ProtocolVersion
from tests.factories import create_referral, create_referrals


def approve(referral, mdt_user, **options):
    return services.mdt_decision_record(
        referral=referral, user=mdt_user, decision="approve", rationale="Fit for CIRT.", **options
    )


def reject(referral, mdt_user, reason_code):
    return services.mdt_decision_record(
        referral=referral,
        user=mdt_user,
        decision="reject",
        rationale="Not suitable.",
        reason_code=reason_code,
    )


def enrol(referral, user):
    return services.participant_enrol(
        referral=referral, user=user, consent_date=timezone.localdate()
    )


def amend(user, **changes):
    """Amend the protocol in force with ``changes`` as a data manager would: the new version.
    Open referrals are evaluated again under it."""
    current = ProtocolVersion.current()
    fields = {name: getattr(current, name) for name in amendments.AMENDABLE_FIELDS}
    protocol, _changes = amendments.protocol_amend(
        user=user, **{**fields, "note": "Amendment", **changes}
    )
    return protocol


# (site, overrides) of referrals whose outcome the rules decide alone.
SCREENED = (
    ("wuwei", {"cm": "M1"}),  # I2
    ("wuwei", {"alt": 180, "platelets": 80}),  # I4 and I5: counts under each, once in total
    ("lanzhou", {"ct": "T2", "cn": "N0", "ecog": 2, "cardiac_implantable_device": "yes"}),
    ("lanzhou", {"fistula_or_perforation": "yes"}),  # E3
    ("wuwei", {"pathology_confirmed": "unknown"}),  # incomplete
    ("lanzhou", {"cn": "NX"}),  # incomplete
)


def varied_trial(coordinator, mdt_user) -> dict:
    """Referrals at both sites in every box of the flow; returns them by what happened.

    Potentially eligible referrals: four waiting (one of them approved, then changed, so its
    decision is superseded), one withdrawn before a decision, three rejected (I2, E2, other),
    six approved: two enrolled, one declined consent, one withdrawn for another reason, two
    awaiting enrolment.
    """
    screened = [
        create_referral(user=coordinator, number=number, site=site, **overrides)
        for number, (site, overrides) in enumerate(SCREENED, start=100)
    ]
    screened += [
        create_referral(user=coordinator, number=120, site="wuwei", age=74),  # I1
        create_referral(user=coordinator, number=121, site="lanzhou", age=80, cm="M1"),  # I1, I2
    ]
    incomplete_withdrawn = screened[4]
    services.referral_withdraw(
        code="other", referral=incomplete_withdrawn, reason="moved away", user=coordinator
    )

    eligible = create_referrals(14, user=coordinator, number=200, site=("wuwei", "lanzhou"))
    waiting, superseded, withdrawn_early = eligible[0:3], eligible[3], eligible[4]
    rejected, approved = eligible[5:8], eligible[8:14]

    approve(superseded, mdt_user)
    # A clinical change other than labs or dosimetry supersedes the approval and sends the
    # referral back to the queue.
    services.referral_update(
        change_reason="Corrected from the source record.",
        referral=superseded,
        data={"tumour_location": "cervical"},
        user=coordinator,
    )
    services.referral_withdraw(
        code="other", referral=withdrawn_early, reason="changed mind", user=coordinator
    )
    for referral, reason in zip(rejected, ("I2", "E2", "other"), strict=True):
        reject(referral, mdt_user, reason)
    for referral in approved:
        approve(referral, mdt_user)
    enrolled, declined, withdrawn_late = approved[0:2], approved[2], approved[3]
    for referral in enrolled:
        enrol(referral, coordinator)
    services.participant_decline(referral=declined, user=coordinator)
    services.referral_withdraw(
        code="other", referral=withdrawn_late, reason="died", user=coordinator
    )
    return {
        "screened": screened,
        "waiting": [*waiting, superseded],
        "withdrawn_early": withdrawn_early,
        "rejected": rejected,
        "approved": approved,
        "enrolled": enrolled,
        "declined": declined,
        "withdrawn_late": withdrawn_late,
    }
