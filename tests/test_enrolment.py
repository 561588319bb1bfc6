"""Enrolment under the cap, study numbers and declined consent."""

import datetime
import json

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from screening import services
from screening.models import Enrolment, MdtDecision, ProtocolVersion, Referral
from tests.factories import PASSWORD, create_referral, create_referrals, referral_data

Status = Referral.Status


@pytest.fixture
def approved(coordinator_wuwei):
    """A Wuwei referral approved by the cast's MDT member."""
    return create_referral(user=coordinator_wuwei, status=Status.MDT_APPROVED)


def _today():
    return timezone.localdate()


def test_decline_is_post_only(client_as, approved):
    client = client_as("coordinator_wuwei")
    assert (
        client.get(reverse("referral_decline", args=[approved.screening_number])).status_code == 405
    )


# --- enrolment ---


def test_enrolment_assigns_consecutive_study_numbers(client_as, coordinator_wuwei):
    first, second = create_referrals(2, user=coordinator_wuwei, status=Status.MDT_APPROVED)
    client = client_as("coordinator_wuwei")

    for referral in (first, second):
        url = reverse("referral_enrol", args=[referral.screening_number])
        response = client.post(url, {"password": PASSWORD, "consent_date": _today().isoformat()})
        assert response.status_code == 302
        assert response.url == reverse("referral_detail", args=[referral.screening_number])

    enrolments = list(Enrolment.objects.values_list("referral", "sequence", "study_number"))
    assert enrolments == [(first.pk, 1, "EC-001"), (second.pk, 2, "EC-002")]
    first.refresh_from_db()
    assert first.status == Status.ENROLLED
    enrolment = first.enrolment
    assert enrolment.enrolled_by == coordinator_wuwei
    assert enrolment.consent_date == _today()
    assert enrolment.protocol_version == ProtocolVersion.current()
    detail = client.get(response.url).content.decode()
    assert f"{second.screening_number} enrolled as EC-002." in detail


def test_study_number_follows_the_protocols_format(coordinator_wuwei, mdt_member, approved):
    ProtocolVersion.objects.update(study_number_format="CIRT-{:04d}")
    enrolment = services.participant_enrol(
        referral=approved, user=coordinator_wuwei, consent_date=_today()
    )
    assert enrolment.study_number == "CIRT-0001"


def test_consent_date_is_required(client_as, approved):
    client = client_as("coordinator_wuwei")
    response = client.post(reverse("referral_enrol", args=[approved.screening_number]), {})
    assert "Give the date the patient signed consent." in response.content.decode()
    assert not Enrolment.objects.exists()


def test_consent_date_before_the_mdt_meeting_is_refused(client_as, approved):
    met_on = MdtDecision.objects.get(referral=approved).meeting_date
    client = client_as("coordinator_wuwei")
    day_before = met_on - datetime.timedelta(days=1)

    response = client.post(
        reverse("referral_enrol", args=[approved.screening_number]),
        {"password": PASSWORD, "consent_date": day_before.isoformat()},
    )

    assert response.status_code == 200
    message = f"The consent date is before the MDT meeting that approved it ({met_on.isoformat()})."
    assert message in response.content.decode()
    assert not Enrolment.objects.exists()


def test_consent_date_in_the_future_is_refused(client_as, approved):
    client = client_as("coordinator_wuwei")
    tomorrow = _today() + datetime.timedelta(days=1)
    response = client.post(
        reverse("referral_enrol", args=[approved.screening_number]),
        {"password": PASSWORD, "consent_date": tomorrow.isoformat()},
    )
    assert "The consent date is in the future." in response.content.decode()
    assert not Enrolment.objects.exists()


def test_date_picker_offers_only_acceptable_dates(client_as, approved):
    approved_on = timezone.localdate(MdtDecision.objects.get(referral=approved).decided_at)
    client = client_as("coordinator_wuwei")
    html = client.get(reverse("referral_enrol", args=[approved.screening_number])).content.decode()
    assert f'min="{approved_on.isoformat()}"' in html
    assert f'max="{_today().isoformat()}"' in html


def test_referral_without_approval_cannot_be_enrolled(client_as, coordinator_wuwei):
    in_review = create_referral(user=coordinator_wuwei)
    client = client_as("coordinator_wuwei")
    url = reverse("referral_enrol", args=[in_review.screening_number])

    assert b"Only an MDT-approved referral can be enrolled" in client.get(url).content
    response = client.post(url, {"password": PASSWORD, "consent_date": _today().isoformat()})

    assert "needs MDT approval first (status: MDT review)" in response.content.decode()
    assert not Enrolment.objects.exists()


def test_enrolled_referral_is_not_enrolled_twice(coordinator_wuwei, approved):
    services.participant_enrol(referral=approved, user=coordinator_wuwei, consent_date=_today())
    with pytest.raises(services.WorkflowError, match="already enrolled as EC-001"):
        services.participant_enrol(referral=approved, user=coordinator_wuwei, consent_date=_today())
    assert Enrolment.objects.count() == 1


def test_enrolment_stops_at_the_target_naming_it(client_as, coordinator_wuwei):
    ProtocolVersion.objects.update(enrolment_target=2)
    referrals = create_referrals(3, user=coordinator_wuwei, status=Status.MDT_APPROVED)
    for referral in referrals[:2]:
        services.participant_enrol(referral=referral, user=coordinator_wuwei, consent_date=_today())
    client = client_as("coordinator_wuwei")

    response = client.post(
        reverse("referral_enrol", args=[referrals[2].screening_number]),
        {"password": PASSWORD, "consent_date": _today().isoformat()},
    )

    assert "The enrolment target of 2 is reached" in response.content.decode()
    assert Enrolment.objects.count() == 2
    referrals[2].refresh_from_db()
    assert referrals[2].status == Status.MDT_APPROVED


# --- declined consent ---


def test_declined_consent_needs_confirmation(client_as, approved):
    client = client_as("coordinator_wuwei")
    response = client.post(reverse("referral_decline", args=[approved.screening_number]), {})
    assert response.status_code == 200
    assert "Tick the box to confirm that the patient declined consent." in response.content.decode()
    approved.refresh_from_db()
    assert approved.status == Status.MDT_APPROVED


def test_declined_consent_withdraws_the_referral(client_as, approved):
    client = client_as("coordinator_wuwei")
    url = reverse("referral_decline", args=[approved.screening_number])

    response = client.post(url, {"confirm": "on"})

    assert response.url == reverse("referral_detail", args=[approved.screening_number])
    approved.refresh_from_db()
    assert (approved.status, approved.withdrawal_code) == (Status.WITHDRAWN, "declined_consent")
    assert not Enrolment.objects.exists()


def test_only_an_approved_patient_can_decline(coordinator_wuwei):
    in_review = create_referral(user=coordinator_wuwei)
    with pytest.raises(services.WorkflowError, match="needs MDT approval first"):
        services.participant_decline(referral=in_review, user=coordinator_wuwei)


# --- the whole path: imported, approved by the MDT, enrolled ---


def test_imported_referral_is_approved_and_enrolled_as_ec_001(
    client_as, tmp_path, coordinator_wuwei
):
    path = tmp_path / "referrals.json"
    path.write_text(json.dumps([referral_data()]), encoding="utf-8")
    call_command("import_referrals", str(path), "--user", coordinator_wuwei.username)
    referral = Referral.objects.get()

    mdt = client_as("mdt")
    assert referral.screening_number in mdt.get(reverse("mdt_queue")).content.decode()
    mdt.post(
        reverse("referral_decision", args=[referral.screening_number]),
        {
            "password": PASSWORD,
            "decision": "approve",
            "rationale": "Fit.",
            "meeting_date": timezone.localdate().isoformat(),
            "evaluation": referral.evaluation_id,
        },
    )
    client_as("coordinator_wuwei").post(
        reverse("referral_enrol", args=[referral.screening_number]),
        {"password": PASSWORD, "consent_date": _today().isoformat()},
    )

    referral.refresh_from_db()
    assert referral.status == Status.ENROLLED
    assert referral.enrolment.study_number == "EC-001"
