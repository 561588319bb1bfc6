"""MDT decisions and enrolments racing on a real PostgreSQL: each thread has its own connection
and transaction, and all of them start together, so only the database's locks keep order."""

import functools
import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from screening import services
from screening.models import Enrolment, MdtDecision, ProtocolVersion, Referral
from tests.factories import PASSWORD, UserFactory, create_referral, create_referrals

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("seeded")]


def _race(*calls):
    """Run each call in its own thread, all released at once; their results or exceptions."""
    barrier = threading.Barrier(len(calls))
    outcomes = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            outcomes[index] = call()
        except Exception as error:  # the test inspects what each thread met
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=item) for item in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def _mdt_client(username):
    client = Client()
    client.force_login(UserFactory(username=username, role="mdt"))
    return client


def test_two_simultaneous_decisions_leave_one(coordinator_wuwei):
    clients = {"mdt-li": _mdt_client("mdt-li"), "mdt-wang": _mdt_client("mdt-wang")}
    for number in range(1, 4):
        referral = create_referral(user=coordinator_wuwei, number=number)
        url = reverse("referral_decision", args=[referral.screening_number])
        data = {
            "password": PASSWORD,
            "rationale": "Discussed.",
            "meeting_date": timezone.localdate().isoformat(),
            "evaluation": referral.evaluation_id,
        }

        responses = _race(
            functools.partial(clients["mdt-li"].post, url, {**data, "decision": "approve"}),
            functools.partial(
                clients["mdt-wang"].post, url, {**data, "decision": "reject", "reason": "E3"}
            ),
        )

        assert sorted(response.status_code for response in responses) == [200, 302]
        decision = MdtDecision.objects.select_related("decided_by").get(referral=referral)
        loser = next(response for response in responses if response.status_code == 200)
        winner = decision.decided_by.username
        assert f"already decided by {winner} at" in loser.content.decode()
        referral.refresh_from_db()
        expected = {"approve": Referral.Status.MDT_APPROVED, "reject": Referral.Status.MDT_REJECTED}
        assert referral.status == expected[decision.decision]


def test_forty_racing_enrolments_fill_a_target_of_32_exactly(coordinator_wuwei, mdt_member):
    assert ProtocolVersion.current().enrolment_target == 32
    referrals = create_referrals(40, user=coordinator_wuwei, status=Referral.Status.MDT_APPROVED)
    today = timezone.localdate()

    outcomes = _race(
        *(
            functools.partial(
                services.participant_enrol,
                referral=referral,
                user=coordinator_wuwei,
                consent_date=today,
            )
            for referral in referrals
        )
    )

    enrolled = [outcome for outcome in outcomes if isinstance(outcome, Enrolment)]
    refused = [outcome for outcome in outcomes if not isinstance(outcome, Enrolment)]
    assert len(enrolled) == 32
    assert len(refused) == 8
    assert all(isinstance(error, services.WorkflowError) for error in refused), refused
    assert all("The enrolment target of 32 is reached" in str(error) for error in refused)
    numbers = list(Enrolment.objects.order_by("sequence").values_list("sequence", "study_number"))
    assert numbers == [(n, f"EC-{n:03d}") for n in range(1, 33)]
    statuses = Referral.objects.values_list("status", flat=True)
    assert sorted(set(statuses)) == [Referral.Status.ENROLLED, Referral.Status.MDT_APPROVED]
    assert list(statuses).count(Referral.Status.ENROLLED) == 32
