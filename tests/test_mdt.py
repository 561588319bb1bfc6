"""The MDT queue, the decision and its binding to the evidence."""

import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from screening import services
from screening.models import MdtDecision, ProtocolVersion, Referral
from tests.factories import PASSWORD, create_referral, create_referrals
from tests.flows import amend
from tests.pages import find, find_all, text

Status = Referral.Status


@pytest.fixture
def in_review(coordinator_wuwei):
    """A Wuwei referral in MDT review, dosimetry not yet assessed."""
    return create_referral(
        user=coordinator_wuwei,
        ct="T3",
        cn="N1",
        histology="squamous_cell_carcinoma",
        status=Status.MDT_REVIEW,
    )


def _edit(referral, user, **data):
    """Change ``data`` as the coordinator ``user`` would, with a reason."""
    return services.referral_update(
        referral=referral, data=data, change_reason="Corrected from the notes.", user=user
    )


def _approve(referral, user, **overrides):
    arguments = {"decision": "approve", "rationale": "Fit for carbon-ion therapy."}
    arguments.update(overrides)
    return services.mdt_decision_record(referral=referral, user=user, **arguments)


@pytest.mark.parametrize(
    ("field", "value"), [("rationale", "Fit\u202e."), ("attendees", "Dr Li\x01, Dr Wang")]
)
def test_a_decision_refuses_control_and_direction_characters(client_as, in_review, field, value):
    client = client_as("mdt")
    url = reverse("referral_decision", args=[in_review.screening_number])
    data = {
        "password": PASSWORD,
        "decision": "approve",
        "rationale": "Fit.",
        "meeting_date": timezone.localdate().isoformat(),
        "evaluation": in_review.evaluation_id,
    }

    response = client.post(url, {**data, field: value})

    assert response.status_code == 200
    assert "Remove the invisible" in response.content.decode()
    assert not MdtDecision.objects.filter(referral=in_review).exists()


def test_a_decision_keeps_the_line_breaks_of_its_rationale_and_attendees(client_as, in_review):
    client = client_as("mdt")
    url = reverse("referral_decision", args=[in_review.screening_number])
    data = {
        "password": PASSWORD,
        "decision": "approve",
        "rationale": "Fit.\r\nDosimetry to follow.",
        "attendees": "Dr Li\r\nDr Wang",
        "meeting_date": timezone.localdate().isoformat(),
        "evaluation": in_review.evaluation_id,
    }

    assert client.post(url, data).status_code == 302
    decision = MdtDecision.objects.get(referral=in_review)
    assert decision.rationale == "Fit.\r\nDosimetry to follow."
    assert decision.attendees == "Dr Li\r\nDr Wang"


def test_decision_of_an_unknown_referral_is_404(client_as):
    client = client_as("mdt")
    assert client.get(reverse("referral_decision", args=["S-99999"])).status_code == 404


# --- the queue ---


def test_queue_shows_what_the_mdt_needs_oldest_first(client_as, coordinator_wuwei):
    today = timezone.localdate()
    newer = create_referral(
        user=coordinator_wuwei,
        number=2,
        referral_date=(today - datetime.timedelta(days=3)).isoformat(),
        screening_date=(today - datetime.timedelta(days=3)).isoformat(),
        ct="T3",
        cn="N1",
        histology="squamous_cell_carcinoma",
    )
    older = create_referral(
        user=coordinator_wuwei,
        number=3,
        site="lanzhou",
        referral_date=(today - datetime.timedelta(days=12)).isoformat(),
        screening_date=(today - datetime.timedelta(days=10)).isoformat(),
        dosimetry_status="feasible",
    )
    incomplete = create_referral(user=coordinator_wuwei, number=4, ecog=None)
    client = client_as("mdt")

    page = client.get(reverse("mdt_queue")).content.decode()

    assert incomplete.screening_number not in page
    assert page.index(older.screening_number) < page.index(newer.screening_number)
    newer_row = page[page.index(newer.screening_number) :]
    assert "Wuwei Heavy Ion Center" in newer_row
    assert "cT3N1M0" in newer_row
    assert ">III<" in newer_row  # squamous cT3 N1 M0 (PROTOCOL section 5)
    assert f">{newer.age()}<" in newer_row
    assert ">3<" in newer_row  # days waiting since the referral date
    assert "dosimetry not assessed: MDT to confirm" in newer_row.split("</tr>")[0]
    older_row = page[page.index(older.screening_number) : page.index(newer.screening_number)]
    assert "Lanzhou Heavy Ion Center" in older_row
    assert ">12<" in older_row
    assert "Nothing" in older_row  # dosimetry feasible: nothing left for the MDT to confirm


def test_queue_offers_the_decision_to_mdt_members_only(client_as, in_review):
    url = reverse("referral_decision", args=[in_review.screening_number])
    assert url in client_as("mdt").get(reverse("mdt_queue")).content.decode()
    assert url not in client_as("data_manager").get(reverse("mdt_queue")).content.decode()


@pytest.mark.parametrize("count", [10, 1000])
def test_queue_query_count_does_not_grow_with_rows(client_as, count, django_assert_num_queries):
    create_referrals(count, status=Status.MDT_REVIEW)
    client = client_as("mdt")
    # session, user with its roles and unread notifications, the database snapshot the page is
    # kept for, the count, a page of referrals with site and evaluation
    with django_assert_num_queries(5):
        response = client.get(reverse("mdt_queue"))
    html = response.content.decode()
    assert html.count('<th scope="row">') == min(count, 50)
    assert f"{count} referrals await the MDT." in html
    # Each candidate by name and hospital number, with a box to put it in the packet.
    first = Referral.objects.order_by("referral_date", "screening_number").first()
    assert first.full_name in html
    assert first.hospital_number in html
    assert html.count('name="sn"') == min(count, 50)


def test_queue_pages_fifty_at_a_time_oldest_first(client_as):
    create_referrals(60, status=Status.MDT_REVIEW)
    client = client_as("mdt")

    first = client.get(reverse("mdt_queue")).content.decode()
    second = client.get(reverse("mdt_queue"), {"page": 2}).content.decode()

    assert "Page 1 of 2" in first
    assert second.count('<th scope="row">') == 10
    assert "Page 2 of 2" in second


def test_queue_is_drawn_once_a_snapshot_for_each_page_and_role(
    client_as, frozen_snapshot, django_assert_num_queries
):
    create_referrals(60, status=Status.MDT_REVIEW)
    mdt, data_manager = client_as("mdt"), client_as("data_manager")
    url = reverse("mdt_queue")
    assert "Page 1 of 2" in mdt.get(url).content.decode()
    assert mdt.get(url, {"page": 2}).content.decode().count('<th scope="row">') == 10
    # Unseen while the snapshot stays the same (in life any commit changes it).
    create_referrals(1, number=100, status=Status.MDT_REVIEW)

    # Session, user with its roles and unread notifications: the page is kept.
    with django_assert_num_queries(2):
        again = mdt.get(url).content.decode()
    assert again.count('<th scope="row">') == 50
    assert "60 referrals await the MDT." in again
    assert mdt.get(url, {"page": 2}).content.decode().count('<th scope="row">') == 10
    assert "Decide" in again
    assert "Decide" not in data_manager.get(url).content.decode()

    frozen_snapshot.advance()
    assert "61 referrals await the MDT." in mdt.get(url).content.decode()


# --- the decision ---


def test_decision_page_shows_the_items_to_confirm_above_the_buttons(client_as, in_review):
    client = client_as("mdt")
    page = client.get(reverse("referral_decision", args=[in_review.screening_number]))
    html = page.content.decode()
    assert "MDT to confirm" in html
    assert html.index("dosimetry not assessed: MDT to confirm") < html.index('value="approve"')
    assert html.index('value="approve"') < html.index('value="reject"')
    assert f'name="evaluation" value="{in_review.evaluation_id}"' in html


def test_decision_page_words_the_criteria_with_the_amended_protocol(
    client_as, data_manager, in_review
):
    """The referral is evaluated again under the amendment: its criteria, what the MDT is to
    confirm and the rejection reasons all read the new limits."""
    amend(data_manager, age_max=75, spinal_cord_max=50)
    client = client_as("mdt")

    html = client.get(reverse("referral_decision", args=[in_review.screening_number])).content
    html = html.decode()

    i1 = text(find(html, "tr", **{"data-code": "I1"}))
    assert "Age 18–75 years (inclusive)" in i1
    assert "18–70" not in i1
    to_confirm = text(find(html, "section", class_="mdt-to-confirm"))
    assert "spinal cord max dose ≤ 50 Gy(RBE)" in to_confirm
    reasons = [text(option) for option in find_all(html, "option")]
    assert "I1 · Age 18–75 years (inclusive)" in reasons
    assert not any("18–70" in reason for reason in reasons)


def test_the_queue_words_what_the_mdt_is_to_confirm_with_the_evaluation_s_version(
    client_as, data_manager, in_review
):
    amend(data_manager, spinal_cord_max=50)
    html = client_as("mdt").get(reverse("mdt_queue")).content.decode()
    assert "spinal cord max dose ≤ 50 Gy(RBE)" in html
    assert "spinal cord max dose ≤ 45 Gy(RBE)" not in html


def test_approval_records_who_when_and_the_evaluation_it_saw(client_as, mdt_member, in_review):
    client = client_as("mdt")
    url = reverse("referral_decision", args=[in_review.screening_number])
    before = timezone.now()
    response = client.post(
        url,
        {
            "password": PASSWORD,
            "decision": "approve",
            "rationale": "Fit for carbon-ion therapy.",
            "attendees": "Dr Li, Dr Wang",
            "meeting_date": timezone.localdate().isoformat(),
            "evaluation": in_review.evaluation_id,
        },
    )
    assert response.status_code == 302
    assert response.url == reverse("mdt_queue")
    decision = MdtDecision.objects.get(referral=in_review)
    assert decision.decision == "approve"
    assert decision.decided_by == mdt_member
    assert decision.decided_at >= before
    assert decision.evaluation_id == in_review.evaluation_id
    assert decision.evaluation.protocol_version == ProtocolVersion.current()
    assert decision.attendees == "Dr Li, Dr Wang"
    assert decision.reason_code == ""
    in_review.refresh_from_db()
    assert in_review.status == Status.MDT_APPROVED
    queue = client.get(response.url).content.decode()
    assert f"{in_review.screening_number} approved by the MDT." in queue
    assert f'href="/referrals/{in_review.screening_number}/"' not in queue


def test_rejection_needs_its_reason(client_as, in_review):
    client = client_as("mdt")
    url = reverse("referral_decision", args=[in_review.screening_number])
    data = {
        "password": PASSWORD,
        "decision": "reject",
        "rationale": "Ulcer too deep.",
        "meeting_date": timezone.localdate().isoformat(),
        "evaluation": in_review.evaluation_id,
    }

    response = client.post(url, data)

    assert response.status_code == 200
    assert "A rejection needs its reason" in response.content.decode()
    assert not MdtDecision.objects.exists()

    response = client.post(url, {**data, "reason": "E3"})

    assert response.status_code == 302
    decision = MdtDecision.objects.get(referral=in_review)
    assert (decision.decision, decision.reason_code) == ("reject", "E3")
    in_review.refresh_from_db()
    assert in_review.status == Status.MDT_REJECTED


def test_decision_needs_a_rationale(client_as, in_review):
    client = client_as("mdt")
    url = reverse("referral_decision", args=[in_review.screening_number])
    data = {
        "password": PASSWORD,
        "decision": "approve",
        "rationale": "  ",
        "meeting_date": timezone.localdate().isoformat(),
        "evaluation": in_review.evaluation_id,
    }
    response = client.post(url, data)
    assert "Give the rationale for the decision." in response.content.decode()
    assert not MdtDecision.objects.exists()


def test_reason_must_be_a_criterion_or_other(mdt_member, in_review):
    with pytest.raises(services.WorkflowError, match="criterion"):
        services.mdt_decision_record(
            referral=in_review, user=mdt_member, decision="reject", rationale="x", reason_code="E9"
        )
    decision = services.mdt_decision_record(
        referral=in_review, user=mdt_member, decision="reject", rationale="x", reason_code="other"
    )
    assert decision.reason_code == "other"


def test_only_a_referral_in_review_can_be_decided(client_as, coordinator_wuwei):
    incomplete = create_referral(user=coordinator_wuwei, ecog=None)
    client = client_as("mdt")
    url = reverse("referral_decision", args=[incomplete.screening_number])
    data = {
        "password": PASSWORD,
        "decision": "approve",
        "rationale": "Fit.",
        "meeting_date": timezone.localdate().isoformat(),
        "evaluation": incomplete.evaluation_id,
    }

    response = client.post(url, data)

    assert response.status_code == 200
    assert "is not awaiting an MDT decision (status: Screening)" in response.content.decode()
    assert not MdtDecision.objects.exists()


def test_second_decision_names_who_decided_first(client_as, mdt_member, in_review):
    first = _approve(in_review, mdt_member)
    client = client_as("mdt")
    url = reverse("referral_decision", args=[in_review.screening_number])
    data = {
        "password": PASSWORD,
        "decision": "reject",
        "rationale": "No.",
        "reason": "E3",
        "meeting_date": timezone.localdate().isoformat(),
        "evaluation": in_review.evaluation_id,
    }

    response = client.post(url, data)

    at = timezone.localtime(first.decided_at).strftime("%Y-%m-%d %H:%M")
    message = f"{in_review.screening_number} was already decided by mdt-member at {at}: approved."
    assert message in response.content.decode()
    assert MdtDecision.objects.filter(referral=in_review).count() == 1


def test_decision_on_data_changed_since_the_page_was_opened_is_refused(
    client_as, coordinator_wuwei, in_review
):
    seen = in_review.evaluation_id
    _edit(in_review, coordinator_wuwei, alt=Decimal(55))
    client = client_as("mdt")
    url = reverse("referral_decision", args=[in_review.screening_number])

    response = client.post(
        url,
        {
            "password": PASSWORD,
            "decision": "approve",
            "rationale": "Fit.",
            "meeting_date": timezone.localdate().isoformat(),
            "evaluation": seen,
        },
    )

    html = response.content.decode()
    assert "changed while you were looking at it" in html
    assert not MdtDecision.objects.exists()
    # The page now carries the current evaluation, so deciding again is possible.
    in_review.refresh_from_db()
    assert f'name="evaluation" value="{in_review.evaluation_id}"' in html


def test_get_of_a_decided_referral_tells_who_decided(client_as, mdt_member, in_review):
    _approve(in_review, mdt_member)
    client = client_as("mdt")
    html = client.get(reverse("referral_decision", args=[in_review.screening_number])).content
    text = html.decode()
    assert "Approved" in text
    assert f"Meeting date</dt><dd>{timezone.localdate().isoformat()}" in text
    assert "mdt-member · " in text  # the signer's name, then the time
    assert b'value="approve"' not in html


# --- a decision is bound to the evidence it saw ---


def test_fresh_labs_that_keep_every_criterion_passing_keep_the_approval(
    client_as, mdt_member, coordinator_wuwei, in_review
):
    decision = _approve(in_review, mdt_member)

    referral = Referral.objects.get(pk=in_review.pk)
    _edit(referral, coordinator_wuwei, alt=Decimal(80))

    referral.refresh_from_db()
    decision.refresh_from_db()
    assert referral.status == Status.MDT_APPROVED
    assert decision.superseded_at is None
    assert decision.evaluation_id != referral.evaluation_id  # the one the MDT saw, kept
    assert decision.rests_on_id == referral.evaluation_id
    history = client_as("mdt").get(reverse("referral_history", args=[referral.screening_number]))
    assert f"now rests on evaluation #{referral.evaluation_id}" in history.content.decode()


def test_another_clinical_change_sends_an_approved_referral_back_to_the_queue(
    client_as, mdt_member, coordinator_wuwei, in_review
):
    decision = _approve(in_review, mdt_member)

    referral = Referral.objects.get(pk=in_review.pk)
    _edit(referral, coordinator_wuwei, tumour_location="lower_thoracic")

    referral.refresh_from_db()
    decision.refresh_from_db()
    assert referral.status == Status.MDT_REVIEW
    assert decision.superseded_at is not None
    assert MdtDecision.objects.filter(referral=referral).count() == 1  # kept in history
    client = client_as("mdt")
    assert referral.screening_number in client.get(reverse("mdt_queue")).content.decode()
    # The MDT can decide again on the new evidence.
    again = _approve(referral, mdt_member, evaluation_id=referral.evaluation_id)
    assert again.evaluation_id == referral.evaluation_id


def test_fresh_labs_that_make_a_criterion_unknown_send_the_referral_back_to_screening(
    mdt_member, coordinator_wuwei, in_review
):
    decision = _approve(in_review, mdt_member)
    _edit(in_review, coordinator_wuwei, anc=None)
    in_review.refresh_from_db()
    decision.refresh_from_db()
    assert in_review.status == Status.SCREENING
    assert decision.superseded_at is not None


def test_approved_referral_that_became_ineligible_is_screen_failed(
    mdt_member, coordinator_wuwei, in_review
):
    decision = _approve(in_review, mdt_member)
    _edit(in_review, coordinator_wuwei, alt=Decimal(180))
    in_review.refresh_from_db()
    decision.refresh_from_db()
    assert in_review.status == Status.SCREEN_FAILED
    assert decision.superseded_at is not None


def test_a_rejected_referral_is_closed_to_edits(mdt_member, coordinator_wuwei, in_review):
    rejection = services.mdt_decision_record(
        referral=in_review, user=mdt_member, decision="reject", rationale="ALT", reason_code="I4"
    )
    with pytest.raises(services.WorkflowError, match="can no longer change"):
        _edit(in_review, coordinator_wuwei, alt=Decimal(77))
    in_review.refresh_from_db()
    rejection.refresh_from_db()
    assert in_review.status == Status.MDT_REJECTED
    assert rejection.superseded_at is None


def test_saving_unchanged_data_keeps_the_decision(mdt_member, coordinator_wuwei, in_review):
    """A value read back from the database ("43.00000") is the value entered ("43")."""
    decision = _approve(in_review, mdt_member)
    referral = Referral.objects.get(pk=in_review.pk)
    unchanged = {"alt": referral.alt, "referring_physician": "Dr Zhao"}

    services.referral_update(
        change_reason="Corrected from the source record.",
        referral=referral,
        data=unchanged,
        user=coordinator_wuwei,
    )

    referral.refresh_from_db()
    decision.refresh_from_db()
    assert referral.status == Status.MDT_APPROVED
    assert decision.superseded_at is None


def test_database_keeps_one_current_decision_per_referral(mdt_member, in_review):
    _approve(in_review, mdt_member)
    with pytest.raises(IntegrityError), transaction.atomic():
        MdtDecision.objects.create(
            referral=in_review,
            evaluation_id=in_review.evaluation_id,
            decision="reject",
            rationale="Second opinion",
            decided_by=mdt_member,
        )
