"""Eligibility at the consent date (PROTOCOL sections 4 and 6): enrolment judges the twelve
criteria again as of the consent date, under the protocol in force, inside its accrual window."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from screening import services
from screening.models import Enrolment, ProtocolVersion, Referral
from tests.factories import PASSWORD, create_referral, days_ago

pytestmark = pytest.mark.django_db

Status = Referral.Status


def _today() -> datetime.date:
    return timezone.localdate()


def _enrol_page_post(client_as, referral, consent_date: datetime.date):
    client = client_as("coordinator_wuwei")
    url = reverse("referral_enrol", args=[referral.screening_number])
    return client.post(url, {"password": PASSWORD, "consent_date": consent_date.isoformat()})


def test_labs_fresh_at_screening_but_stale_on_the_consent_date_refuse_enrolment(
    client_as, coordinator_wuwei
):
    # Labs 10 days old at screening (20 days ago), 30 days old on today's consent date.
    referral = create_referral(
        user=coordinator_wuwei,
        status=Status.MDT_APPROVED,
        referral_date=days_ago(20),
        screening_date=days_ago(20),
        labs_date=days_ago(30),
    )

    response = _enrol_page_post(client_as, referral, _today())

    html = response.content.decode()
    assert response.status_code == 200
    assert f"labs dated {days_ago(30)} are 30 days old on that day" in html
    assert "I4, I5:" in html
    assert "enter a new blood panel" in html
    assert not Enrolment.objects.exists()


def test_a_patient_who_turned_71_before_the_consent_date_is_refused(coordinator_wuwei):
    today = _today()
    birthday = today - datetime.timedelta(days=10)
    referral = create_referral(
        user=coordinator_wuwei,
        status=Status.MDT_APPROVED,
        referral_date=days_ago(20),
        screening_date=days_ago(20),
        labs_date=days_ago(20),
        date_of_birth=birthday.replace(year=birthday.year - 71).isoformat(),
    )
    assert referral.age() == 70

    with pytest.raises(services.WorkflowError, match="I1: age 71 is above 70"):
        services.participant_enrol(referral=referral, user=coordinator_wuwei, consent_date=today)
    assert not Enrolment.objects.exists()


def test_enrolment_stores_the_evaluation_it_made_on_the_consent_date(coordinator_wuwei):
    referral = create_referral(user=coordinator_wuwei, status=Status.MDT_APPROVED)

    enrolment = services.participant_enrol(
        referral=referral, user=coordinator_wuwei, consent_date=_today()
    )

    assert enrolment.eligibility["as_of"] == _today().isoformat()
    assert enrolment.eligibility["protocol_version"] == ProtocolVersion.current().version
    assert [result["code"] for result in enrolment.eligibility["results"]][:2] == ["I1", "I2"]
    assert enrolment.eligibility["outcome"] == "potentially_eligible"


def test_consent_after_the_accrual_window_of_the_protocol_in_force_is_refused(
    client_as, coordinator_wuwei
):
    referral = create_referral(user=coordinator_wuwei, status=Status.MDT_APPROVED)
    yesterday = _today() - datetime.timedelta(days=1)
    ProtocolVersion.objects.create(version=2, effective_date=yesterday, accrual_end=yesterday)

    response = _enrol_page_post(client_as, referral, _today())

    message = f"The consent date is after the accrual window closed ({yesterday.isoformat()})."
    assert message in response.content.decode()
    assert not Enrolment.objects.exists()


def test_the_decision_page_shows_eligibility_as_of_today(client_as, coordinator_wuwei):
    referral = create_referral(
        user=coordinator_wuwei,
        referral_date=days_ago(20),
        screening_date=days_ago(20),
        labs_date=days_ago(30),
    )
    assert referral.status == Status.MDT_REVIEW

    page = client_as("mdt").get(reverse("referral_decision", args=[referral.screening_number]))

    html = page.content.decode()
    assert f"Eligibility if consent were given on {_today().isoformat()}" in html
    assert "Enrolment on that day would be refused" in html
    assert f"labs dated {days_ago(30)} are 30 days old on that day" in html
