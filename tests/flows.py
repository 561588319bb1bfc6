"""Referrals that have gone every way through the trial, for the export and CONSORT tests.

Everything goes through the services a coordinator and the MDT use, so the data is what the
app itself would hold.
"""

import datetime

from django.utils import timezone

from screening import services
from screening.imports import validate_rows
from screening.models import ProtocolVersion, Site
from tests.factories import referral_data


def aged(years: int, **overrides) -> dict:
    """``referral_data(**overrides)`` for a patient of exactly ``years`` at screening."""
    data = referral_data(**overrides)
    screening = datetime.date.fromisoformat(data["screening_date"])
    # Born on 1 January: the birthday of the screening year has always passed.
    data["date_of_birth"] = datetime.date(screening.year - years, 1, 1).isoformat()
    return data


def create_referrals(rows: list[dict], user=None) -> list:
    """Validate ``referral_data`` rows as the import does and create them in one batch."""
    cleaned, errors = validate_rows(rows, protocol=ProtocolVersion.current())
    assert not errors, errors
    return services.referrals_create(rows=cleaned, user=user)


def eligible_rows(count: int, *, start: int = 1, site: str = "wuwei") -> list[dict]:
    return [referral_data(number=number, site=site) for number in range(start, start + count)]


def copies(rows: list[dict], count: int, *, start: int = 1) -> list[dict]:
    """``count`` patients, alternately at Wuwei and Lanzhou, with the data of ``rows`` in turn.

    Only ``rows`` go through the form (about 50 constraint queries each), so hundreds of
    patients cost what a few do.
    """
    cleaned, errors = validate_rows(rows, protocol=ProtocolVersion.current())
    assert not errors, errors
    sites = [Site.objects.get(code="wuwei"), Site.objects.get(code="lanzhou")]
    return [
        {
            **cleaned[index % len(cleaned)],
            "site": sites[index % 2],
            "hospital_number": f"C{start + index:06d}",
        }
        for index in range(count)
    ]


def create_copies(rows: list[dict], count: int, *, start: int = 1, user=None) -> list:
    return services.referrals_create(rows=copies(rows, count, start=start), user=user)


def approve(referral, mdt_user):
    return services.mdt_decision_record(
        referral=referral, user=mdt_user, decision="approve", rationale="Fit for CIRT."
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
    rows = [
        referral_data(number=number, site=site, **overrides)
        for number, (site, overrides) in enumerate(SCREENED, start=100)
    ]
    rows.append(aged(74, number=120, site="wuwei"))  # I1
    rows.append(aged(80, number=121, site="lanzhou", cm="M1"))  # I1 and I2
    screened = create_referrals(rows, user=coordinator)
    incomplete_withdrawn = screened[4]
    services.referral_withdraw(referral=incomplete_withdrawn, reason="moved away", user=coordinator)

    eligible = create_copies([referral_data(number=200)], 14, user=coordinator)
    waiting, superseded, withdrawn_early = eligible[0:3], eligible[3], eligible[4]
    rejected, approved = eligible[5:8], eligible[8:14]

    approve(superseded, mdt_user)
    # A changed lab value supersedes the approval and sends the referral back to the queue.
    services.referral_update(referral=superseded, data={"alt": 61}, user=coordinator)
    services.referral_withdraw(referral=withdrawn_early, reason="changed mind", user=coordinator)
    for referral, reason in zip(rejected, ("I2", "E2", "other"), strict=True):
        reject(referral, mdt_user, reason)
    for referral in approved:
        approve(referral, mdt_user)
    enrolled, declined, withdrawn_late = approved[0:2], approved[2], approved[3]
    for referral in enrolled:
        enrol(referral, coordinator)
    services.participant_decline(referral=declined, user=coordinator)
    services.referral_withdraw(referral=withdrawn_late, reason="died", user=coordinator)
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
