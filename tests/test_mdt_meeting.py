"""The MDT meeting as PROTOCOL section 6 records it: the meeting date, consent bounded by it,
voiding a decision before enrolment, and the pages that tell the story afterwards."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from screening import services
from screening.audit import referral_history
from screening.models import Enrolment, MdtDecision, Referral, Signature
from tests.factories import PASSWORD, create_referral, create_referrals, form_data
from tests.pages import find, find_all, text

pytestmark = pytest.mark.django_db

Status = Referral.Status


def _today():
    return timezone.localdate()


def _days_ago(days):
    return _today() - datetime.timedelta(days=days)


def _decide(client, referral, **changes):
    data = {
        "password": PASSWORD,
        "decision": "approve",
        "rationale": "Fit for carbon-ion therapy.",
        "meeting_date": _today().isoformat(),
        "evaluation": referral.evaluation_id,
        **changes,
    }
    return client.post(reverse("referral_decision", args=[referral.screening_number]), data)


def _page(client, referral):
    url = reverse("referral_detail", args=[referral.screening_number])
    return client.get(url).content.decode()


@pytest.fixture
def in_review(coordinator_wuwei):
    return create_referral(
        user=coordinator_wuwei,
        referral_date=_days_ago(10),
        screening_date=_days_ago(9),
        labs_date=_days_ago(9),
    )


# --- the meeting date ---


def test_the_decision_form_offers_today_as_the_meeting_date(client_as, in_review):
    page = client_as("mdt").get(reverse("referral_decision", args=[in_review.screening_number]))
    field = dict(find(page.content.decode(), "input", name="meeting_date").attributes)
    assert field["value"] == _today().isoformat()
    assert field["max"] == _today().isoformat()
    assert field["min"] == in_review.referral_date.isoformat()


def test_a_decision_records_the_day_the_mdt_met(client_as, in_review):
    response = _decide(client_as("mdt"), in_review, meeting_date=_days_ago(3).isoformat())

    assert response.status_code == 302
    decision = MdtDecision.objects.get(referral=in_review)
    assert decision.meeting_date == _days_ago(3)
    assert timezone.localdate(decision.decided_at) == _today()


@pytest.mark.parametrize(
    ("meeting_date", "message"),
    [
        (
            lambda referral: _today() + datetime.timedelta(days=1),
            "The meeting date is in the future.",
        ),
        (
            lambda referral: referral.referral_date - datetime.timedelta(days=1),
            "The meeting date is before the referral date",
        ),
        (lambda referral: "03/11/2026", "Enter the date as YYYY-MM-DD"),
    ],
)
def test_a_meeting_date_the_mdt_cannot_have_met_on_is_refused_on_its_field(
    client_as, in_review, meeting_date, message
):
    value = meeting_date(in_review)
    response = _decide(client_as("mdt"), in_review, meeting_date=str(value))

    assert response.status_code == 200
    page = response.content.decode()
    assert message in text(find(page, id="div_id_meeting_date"))
    # What was typed is still there.
    assert "Fit for carbon-ion therapy." in page
    assert not MdtDecision.objects.exists()


def test_the_meeting_on_the_referral_date_is_accepted(client_as, in_review):
    response = _decide(
        client_as("mdt"), in_review, meeting_date=in_review.referral_date.isoformat()
    )
    assert response.status_code == 302


def test_consent_after_the_meeting_is_accepted_though_the_decision_was_typed_in_later(
    client_as, mdt_member, in_review
):
    """An MDT that met three days ago, typed in today: consent two days ago is valid."""
    services.mdt_decision_record(
        referral=in_review,
        user=mdt_member,
        decision="approve",
        rationale="Fit.",
        meeting_date=_days_ago(3),
    )
    response = client_as("coordinator_wuwei").post(
        reverse("referral_enrol", args=[in_review.screening_number]),
        {"password": PASSWORD, "consent_date": _days_ago(2).isoformat()},
    )

    assert response.status_code == 302
    assert Enrolment.objects.get(referral=in_review).consent_date == _days_ago(2)


def test_consent_before_the_meeting_is_refused(mdt_member, coordinator_wuwei, in_review):
    services.mdt_decision_record(
        referral=in_review,
        user=mdt_member,
        decision="approve",
        rationale="Fit.",
        meeting_date=_days_ago(3),
    )
    with pytest.raises(services.WorkflowError, match="before the MDT meeting that approved it"):
        services.participant_enrol(
            referral=in_review, user=coordinator_wuwei, consent_date=_days_ago(4)
        )


# --- voiding a decision ---


def _void(client, referral, **changes):
    data = {"password": PASSWORD, "reason": "Wrong button pressed.", **changes}
    return client.post(reverse("referral_decision_void", args=[referral.screening_number]), data)


@pytest.mark.parametrize("status", [Status.MDT_APPROVED, Status.MDT_REJECTED])
def test_voiding_a_decision_returns_the_referral_to_the_queue(
    client_as, mdt_member, coordinator_wuwei, status
):
    (referral,) = create_referrals(1, user=coordinator_wuwei, status=status)
    decision = referral.current_decision()

    response = _void(client_as("mdt"), referral)

    assert response.status_code == 302
    referral.refresh_from_db()
    decision.refresh_from_db()
    assert referral.status == Status.MDT_REVIEW
    assert decision.superseded_at is not None
    assert (decision.voided_by, decision.void_reason) == (mdt_member, "Wrong button pressed.")
    signature = Signature.objects.get(meaning=Signature.Meaning.VOIDED)
    assert (signature.signer, signature.decision) == (mdt_member, decision)
    # The queue has it again, and the MDT can decide afresh.
    assert referral.screening_number in client_as("mdt").get(reverse("mdt_queue")).content.decode()
    assert _decide(client_as("mdt"), referral).status_code == 302
    assert referral.decisions.count() == 2


def test_voiding_needs_the_password_and_a_reason(client_as, coordinator_wuwei):
    (referral,) = create_referrals(1, user=coordinator_wuwei, status=Status.MDT_APPROVED)
    client = client_as("mdt")

    wrong = _void(client, referral, password="not-it").content.decode()
    blank = _void(client, referral, reason="  ").content.decode()

    assert "That password is not right: nothing was signed." in wrong
    assert "Give the reason for voiding the decision." in blank
    assert Referral.objects.get(pk=referral.pk).status == Status.MDT_APPROVED


def test_an_enrolled_participant_s_approval_cannot_be_voided(client_as, coordinator_wuwei):
    (referral,) = create_referrals(1, user=coordinator_wuwei, status=Status.ENROLLED)

    response = _void(client_as("mdt"), referral)

    assert response.status_code == 200
    assert "has no MDT decision that can be voided (status: Enrolled)" in response.content.decode()
    assert Referral.objects.get(pk=referral.pk).status == Status.ENROLLED


def test_a_rejection_is_not_voided_while_the_person_has_a_newer_open_referral(
    coordinator_wuwei, mdt_member
):
    (rejected,) = create_referrals(
        1, user=coordinator_wuwei, status=Status.MDT_REJECTED, hospital_number="WU-42"
    )
    create_referral(user=coordinator_wuwei, hospital_number="WU-42", number=1)

    with pytest.raises(services.WorkflowError, match="cannot be voided: This person already"):
        services.mdt_decision_void(referral=rejected, user=mdt_member, reason="Mis-click.")
    assert Referral.objects.get(pk=rejected.pk).status == Status.MDT_REJECTED


def test_the_history_and_the_pages_tell_the_voided_decision(
    client_as, coordinator_wuwei, mdt_member
):
    (referral,) = create_referrals(1, user=coordinator_wuwei, status=Status.MDT_APPROVED)
    services.mdt_decision_void(referral=referral, user=mdt_member, reason="Wrong patient file.")

    lines = [line.text for line in referral_history(referral)]
    assert any(
        line.startswith("voided the approval of") and line.endswith("reason: “Wrong patient file.”")
        for line in lines
    ), lines
    for page in (
        _page(client_as("coordinator_wuwei"), referral),
        client_as("mdt")
        .get(reverse("referral_decision", args=[referral.screening_number]))
        .content.decode(),
    ):
        decisions = text(find(page, "section", class_="mdt-decisions"))
        assert "voided" in decisions
        assert "Wrong patient file." in decisions
        assert "mdt-member" in decisions


# --- the referral page tells the whole story ---


def test_a_rejected_referral_reads_as_rejected_with_its_reason_and_rationale(
    client_as, coordinator_wuwei, mdt_member
):
    referral = create_referral(user=coordinator_wuwei)
    services.mdt_decision_record(
        referral=referral,
        user=mdt_member,
        decision="reject",
        reason_code="E3",
        rationale="Deep ulcer on endoscopy.",
        attendees="Dr Li, Dr Wang",
        meeting_date=_days_ago(1),
    )
    page = _page(client_as("coordinator_wuwei"), referral)

    headline = text(find(page, "section", class_="status-headline"))
    assert f"Rejected by the MDT on {_days_ago(1).isoformat()}" in headline
    assert "E3 · High risk of esophageal perforation" in headline
    assert "Deep ulcer on endoscopy." in headline
    assert "alert-danger" in str(find(page, "section", class_="status-headline"))
    decisions = text(find(page, "section", class_="mdt-decisions"))
    assert "Dr Li, Dr Wang" in decisions
    # The screening outcome is not shown as a green success on a rejected referral.
    assert "outcome-potentially_eligible" not in str(find(page, "section", class_="outcome-card"))
    # Closed: nothing to edit or withdraw.
    assert reverse("referral_edit", args=[referral.screening_number]) not in page
    assert 'id="withdraw-modal"' not in page


def test_an_enrolled_referral_shows_its_study_number_and_consent_date(client_as, coordinator_wuwei):
    (referral,) = create_referrals(1, user=coordinator_wuwei, status=Status.ENROLLED)
    enrolment = Enrolment.objects.get(referral=referral)

    page = _page(client_as("coordinator_wuwei"), referral)
    listing = client_as("coordinator_wuwei").get(reverse("referral_list")).content.decode()

    headline = text(find(page, "section", class_="status-headline"))
    assert f"Enrolled as {enrolment.study_number}" in headline
    assert f"Consent signed on {enrolment.consent_date.isoformat()}" in headline
    facts = text(find(page, "dl", class_="referral-facts"))
    assert enrolment.study_number in facts
    assert enrolment.consent_date.isoformat() in facts
    (row,) = [text(tr) for tr in find_all(listing, "tr") if referral.screening_number in text(tr)]
    assert enrolment.study_number in row
    assert enrolment.consent_date.isoformat() in row


def test_mdt_members_are_offered_the_decision_from_the_referral_page(client_as, in_review):
    decide = reverse("referral_decision", args=[in_review.screening_number])
    assert decide in _page(client_as("mdt"), in_review)
    assert decide not in _page(client_as("coordinator_wuwei"), in_review)


# Session, user with its roles, sites and unread notifications, the referral with the rest of
# what the page shows (the person's other referrals, the decisions, the signatures, the
# enrolment, the status history with its users), and the view's record.
REFERRAL_PAGE_QUERIES = 4


@pytest.mark.parametrize("count", [10, 1000])
def test_referral_page_queries_do_not_grow_with_the_referrals(
    client_as, coordinator_wuwei, mdt_member, count, django_assert_num_queries
):
    """Pinned: an enrolled referral with a voided and a current decision."""
    referrals = create_referrals(count, user=coordinator_wuwei, status=Status.MDT_REVIEW)
    referral = referrals[0]
    services.mdt_decision_record(
        referral=referral, user=mdt_member, decision="approve", rationale="Fit."
    )
    services.mdt_decision_void(referral=referral, user=mdt_member, reason="Mis-click.")
    services.mdt_decision_record(
        referral=referral, user=mdt_member, decision="approve", rationale="Fit."
    )
    services.participant_enrol(referral=referral, user=coordinator_wuwei, consent_date=_today())
    client = client_as("coordinator_wuwei")
    url = reverse("referral_detail", args=[referral.screening_number])
    client.get(url)  # the session and the user, read once

    with django_assert_num_queries(REFERRAL_PAGE_QUERIES):
        assert client.get(url).status_code == 200


# --- the enrol page ---


def test_the_enrol_page_shows_who_is_enrolled_and_the_approval(
    client_as, coordinator_wuwei, mdt_member
):
    referral = create_referral(user=coordinator_wuwei, full_name="欧阳明", hospital_number="WU-9")
    services.mdt_decision_record(
        referral=referral,
        user=mdt_member,
        decision="approve",
        rationale="Fit.",
        meeting_date=_days_ago(2),
    )
    page = (
        client_as("coordinator_wuwei")
        .get(reverse("referral_enrol", args=[referral.screening_number]))
        .content.decode()
    )

    facts = text(find(page, "dl", class_="referral-facts"))
    for expected in ("欧阳明", "WU-9", "Wuwei Heavy Ion Center"):
        assert expected in facts
    assert f"Approved at the MDT meeting of {_days_ago(2).isoformat()}" in page
    consent = dict(find(page, "input", name="consent_date").attributes)
    assert consent["min"] == _days_ago(2).isoformat()


def test_the_enrol_page_re_checks_eligibility_on_the_consent_date_typed(
    client_as, coordinator_wuwei
):
    (referral,) = create_referrals(
        1, user=coordinator_wuwei, status=Status.MDT_APPROVED, labs_date=_days_ago(20)
    )
    url = reverse("referral_enrol", args=[referral.screening_number])
    client = client_as("coordinator_wuwei")

    today = text(find(client.get(url).content.decode(), id="consent-eligibility"))
    later = text(
        find(
            client.get(
                url, {"consent_date": (_days_ago(20) + datetime.timedelta(days=29)).isoformat()}
            ).content.decode(),
            id="consent-eligibility",
        )
    )

    assert "enrolment would be accepted" in today
    assert "Enrolment on that day would be refused" in later
    assert "29 days old on that day" in later


# --- editing an approved referral says what saving would do ---


def _preview(client, referral, **changes):
    url = reverse("referral_evaluate") + f"?referral={referral.screening_number}"
    data = form_data(change_reason="Corrected.", **changes)
    return text(find(client.post(url, data).content.decode(), class_="approval-effect"))


def test_the_live_panel_says_which_changes_keep_the_approval(client_as, coordinator_wuwei):
    (referral,) = create_referrals(1, user=coordinator_wuwei, status=Status.MDT_APPROVED)
    client = client_as("coordinator_wuwei")

    assert "No change yet" in text(
        find(
            client.get(reverse("referral_edit", args=[referral.screening_number])).content.decode(),
            class_="approval-effect",
        )
    )
    assert "Saving keeps the MDT's approval." in _preview(client, referral, alt=80)
    sent_back = _preview(client, referral, histology="adenocarcinoma")
    assert "Saving sends the referral back" in sent_back
    assert "histology" in sent_back.lower()
    failing = _preview(client, referral, alt=150)
    assert "the referral would be Ineligible" in failing
