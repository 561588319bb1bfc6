"""The audit trail: every change recorded with its user by the database,
history rows that cannot be rewritten, the history page in plain words and the admin log."""

import io
import json
from decimal import Decimal

import pghistory
import pytest
from django.core.management import call_command
from django.db import InternalError, connection, transaction
from django.urls import reverse
from django.utils import timezone
from pghistory.models import Context

from screening import services
from screening.audit import referral_history
from screening.models import (
    EnrolmentEvent,
    EvaluationEvent,
    MdtDecisionEvent,
    ProtocolVersionEvent,
    RecordView,
    Referral,
    ReferralEvent,
)
from tests.factories import PASSWORD, create_referral, referral_data

Status = Referral.Status
EVENT_MODELS = (
    ReferralEvent,
    EvaluationEvent,
    MdtDecisionEvent,
    EnrolmentEvent,
    ProtocolVersionEvent,
)


@pytest.fixture
def referral(coordinator_wuwei):
    return create_referral(user=coordinator_wuwei, alt=30)


def _last_event(referral) -> ReferralEvent:
    return (
        ReferralEvent.objects.filter(pgh_obj=referral)
        .select_related("pgh_context")
        .latest("pgh_id")
    )


def _user_of(event):
    return event.pgh_context.metadata["user"] if event.pgh_context else None


# --- every write is recorded, with its user ---


def test_orm_save_is_recorded_with_the_user(referral, data_manager):
    with pghistory.context(user=data_manager.pk):
        referral.referring_physician = "Dr Sun"
        referral.save()

    event = _last_event(referral)
    assert (event.pgh_label, event.referring_physician) == ("update", "Dr Sun")
    assert _user_of(event) == data_manager.pk


def test_bulk_queryset_update_is_recorded_for_every_row(coordinator_wuwei, data_manager):
    referrals = [create_referral(user=coordinator_wuwei, number=n) for n in (1, 2, 3)]
    pks = [r.pk for r in referrals]

    with pghistory.context(user=data_manager.pk, command="fix_physicians"):
        updated = Referral.objects.filter(pk__in=pks).update(referring_physician="Dr Qian")

    assert updated == 3
    for referral in referrals:
        event = _last_event(referral)
        assert event.referring_physician == "Dr Qian"
        assert event.pgh_context.metadata == {"user": data_manager.pk, "command": "fix_physicians"}


def test_raw_sql_update_is_recorded_with_the_user(referral, data_manager):
    with pghistory.context(user=data_manager.pk), connection.cursor() as cursor:
        cursor.execute("UPDATE screening_referral SET alt = 45 WHERE id = %s", [referral.pk])

    event = _last_event(referral)
    assert event.alt == Decimal(45)
    assert _user_of(event) == data_manager.pk


def test_service_outside_a_request_records_its_user(referral, coordinator_wuwei):
    services.referral_update(
        change_reason="Corrected from the source record.",
        referral=referral,
        data={"alt": Decimal(50)},
        user=coordinator_wuwei,
    )
    events = ReferralEvent.objects.filter(pgh_obj=referral, alt=Decimal(50))
    assert events.exists()
    assert {_user_of(event) for event in events.select_related("pgh_context")} == {
        coordinator_wuwei.pk
    }
    evaluation_event = EvaluationEvent.objects.select_related("pgh_context").latest("pgh_id")
    assert _user_of(evaluation_event) == coordinator_wuwei.pk


def test_import_command_records_the_importing_user(tmp_path, coordinator_wuwei):
    path = tmp_path / "referrals.json"
    path.write_text(json.dumps([referral_data()]), encoding="utf-8")
    call_command("import_referrals", str(path), "--user", coordinator_wuwei.username)
    events = ReferralEvent.objects.select_related("pgh_context")
    # Stored evaluated, in one INSERT: one event.
    assert [event.pgh_label for event in events.order_by("pgh_id")] == ["insert"]
    assert {_user_of(event) for event in events} == {coordinator_wuwei.pk}


def test_web_request_records_user_and_path(client_as, mdt_member, referral):
    client = client_as("mdt")
    url = reverse("referral_decision", args=[referral.screening_number])
    client.post(
        url,
        {
            "password": PASSWORD,
            "decision": "approve",
            "rationale": "Fit.",
            "meeting_date": timezone.localdate().isoformat(),
            "evaluation": referral.evaluation_id,
        },
    )

    decision_event = MdtDecisionEvent.objects.select_related("pgh_context").get()
    assert decision_event.pgh_context.metadata == {"user": mdt_member.pk, "url": url}
    status_event = _last_event(referral)
    assert status_event.status == Status.MDT_APPROVED
    assert status_event.pgh_context_id == decision_event.pgh_context_id


# --- history cannot be rewritten ---


@pytest.mark.parametrize("event_model", EVENT_MODELS, ids=lambda model: model.__name__)
def test_event_rows_cannot_be_updated_or_deleted(referral, mdt_member, event_model):
    services.mdt_decision_record(
        referral=referral, user=mdt_member, decision="approve", rationale="Fit."
    )
    services.participant_enrol(
        referral=referral, user=mdt_member, consent_date=timezone.localdate()
    )
    events = event_model.objects.all()
    assert events.exists()
    table = event_model._meta.db_table

    with pytest.raises(InternalError, match="Cannot update or delete"), transaction.atomic():
        events.update(pgh_label="tampered")
    with pytest.raises(InternalError, match="Cannot update or delete"), transaction.atomic():
        events.delete()
    with (
        pytest.raises(InternalError, match="Cannot update or delete"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"DELETE FROM {table}")

    assert not events.filter(pgh_label="tampered").exists()


def test_recorded_user_of_a_change_cannot_be_rewritten(referral, coordinator_wuwei, data_manager):
    context = Context.objects.get(pk=_last_event(referral).pgh_context_id)
    assert context.metadata["user"] == coordinator_wuwei.pk

    with pytest.raises(InternalError, match="recorded user cannot change"), transaction.atomic():
        Context.objects.filter(pk=context.pk).update(metadata={"user": data_manager.pk})
    with pytest.raises(InternalError, match="cannot be deleted"), transaction.atomic():
        Context.objects.filter(pk=context.pk).delete()

    context.refresh_from_db()
    assert context.metadata["user"] == coordinator_wuwei.pk


def test_no_recorded_detail_of_a_change_can_be_rewritten_or_dropped(referral):
    context = Context.objects.get(pk=_last_event(referral).pgh_context_id)
    recorded = {**context.metadata, "url": "/referrals/new/"}
    Context.objects.filter(pk=context.pk).update(metadata=recorded)

    with pytest.raises(InternalError, match="recorded url cannot change"), transaction.atomic():
        Context.objects.filter(pk=context.pk).update(metadata={**recorded, "url": "/elsewhere/"})
    with pytest.raises(InternalError, match="recorded url cannot change"), transaction.atomic():
        Context.objects.filter(pk=context.pk).update(metadata={"user": recorded["user"]})

    context.refresh_from_db()
    assert context.metadata == recorded


def test_a_sign_in_during_a_request_adds_the_user_to_its_context(referral, data_manager):
    with pghistory.context(user=None, url="/accounts/login/"):
        Referral.objects.filter(pk=referral.pk).update(referring_physician="Dr A")
        # What pghistory's middleware does when the request's user is set.
        pghistory.context(user=data_manager.pk)
        Referral.objects.filter(pk=referral.pk).update(referring_physician="Dr B")

    event = _last_event(referral)
    assert event.pgh_context.metadata == {"user": data_manager.pk, "url": "/accounts/login/"}


def test_context_may_still_gain_details(referral):
    context = Context.objects.get(pk=_last_event(referral).pgh_context_id)
    Context.objects.filter(pk=context.pk).update(metadata={**context.metadata, "note": "x"})
    context.refresh_from_db()
    assert context.metadata["note"] == "x"


# --- the history page ---


def _local_minute(moment):
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def test_an_imported_referral_s_history_starts_with_its_creation(tmp_path, coordinator_wuwei):
    path = tmp_path / "referrals.json"
    path.write_text(json.dumps([referral_data()]), encoding="utf-8")
    call_command(
        "import_referrals", str(path), "--user", coordinator_wuwei.username, stdout=io.StringIO()
    )
    referral = Referral.objects.get()
    # The import stores the evaluations while it checks the rows, before the referrals.
    evaluated = EvaluationEvent.objects.get(referral_id=referral.pk).pgh_created_at
    assert evaluated < ReferralEvent.objects.get(pgh_obj_id=referral.pk).pgh_created_at

    lines = [(line.actor, line.text) for line in referral_history(referral)]

    assert lines == [
        ("coord-wuwei", f"created referral {referral.screening_number} with status MDT review"),
        ("coord-wuwei", "evaluated the referral under protocol v1: Potentially eligible"),
    ]


def test_history_tells_each_change_in_plain_words(client, coordinator_wuwei, mdt_member, referral):
    decision = services.mdt_decision_record(
        referral=referral, user=mdt_member, decision="approve", rationale="Fit for CIRT."
    )
    # Fresh labs that keep every criterion passing keep the approval (PROTOCOL section 6) ...
    services.referral_update(
        change_reason="Corrected from the source record.",
        referral=referral,
        data={"alt": Decimal(80)},
        user=coordinator_wuwei,
    )
    kept_on = Referral.objects.get(pk=referral.pk).evaluation_id
    # ... any other clinical change supersedes it.
    location = referral.get_tumour_location_display()
    services.referral_update(
        change_reason="Corrected from the source record.",
        referral=referral,
        data={"tumour_location": "cervical"},
        user=coordinator_wuwei,
    )
    services.mdt_decision_record(
        referral=referral, user=mdt_member, decision="approve", rationale="Still fit."
    )
    enrolment = services.participant_enrol(
        referral=referral, user=coordinator_wuwei, consent_date=timezone.localdate()
    )
    consent = enrolment.consent_date.isoformat()
    approved_at = _local_minute(decision.decided_at)

    lines = [(line.actor, line.text) for line in referral_history(referral)]

    assert lines == [
        ("coord-wuwei", f"created referral {referral.screening_number} with status MDT review"),
        ("coord-wuwei", "evaluated the referral under protocol v1: Potentially eligible"),
        (
            "mdt-member",
            f"approved the referral; MDT meeting of {timezone.localdate()}; "
            "rationale: “Fit for CIRT.”",
        ),
        ("mdt-member", "signed as mdt-member, meaning: approved for the trial"),
        ("mdt-member", "changed status from MDT review to MDT approved"),
        ("coord-wuwei", "changed ALT from 30 U/L to 80 U/L"),
        ("coord-wuwei", "evaluated the referral under protocol v1: Potentially eligible"),
        (
            "coord-wuwei",
            f"kept the approval of {approved_at}: every criterion still passes, and it now "
            f"rests on evaluation #{kept_on}",
        ),
        ("coord-wuwei", f"changed tumour location from {location} to Cervical"),
        ("coord-wuwei", "evaluated the referral under protocol v1: Potentially eligible"),
        ("coord-wuwei", f"superseded the approval of {approved_at}"),
        ("coord-wuwei", "changed status from MDT approved to MDT review"),
        (
            "mdt-member",
            f"approved the referral; MDT meeting of {timezone.localdate()}; "
            "rationale: “Still fit.”",
        ),
        ("mdt-member", "signed as mdt-member, meaning: approved for the trial"),
        ("mdt-member", "changed status from MDT review to MDT approved"),
        ("coord-wuwei", f"enrolled the participant as EC-001 (consent {consent})"),
        ("coord-wuwei", "signed as coord-wuwei, meaning: enrolled"),
        ("coord-wuwei", "changed status from MDT approved to Enrolled"),
    ]


def test_history_page_shows_when_who_and_what(client_as, coordinator_wuwei, referral):
    services.referral_update(
        change_reason="Corrected from the source record.",
        referral=referral,
        data={"alt": Decimal(120)},
        user=coordinator_wuwei,
    )
    event = _last_event(referral)
    client = client_as("coordinator_wuwei")

    response = client.get(reverse("referral_history", args=[referral.screening_number]))

    assert response.status_code == 200
    html = " ".join(response.content.decode().split())
    changed = ReferralEvent.objects.filter(pgh_obj=referral, alt=120).earliest("pgh_id")
    when = _local_minute(changed.pgh_created_at)
    assert f">{when}</time> <strong>coord-wuwei</strong> changed ALT from 30 U/L to 120 U/L" in html
    assert "changed status from MDT review to Screen failed" in html
    assert event.status == Status.SCREEN_FAILED


def test_history_shows_lab_values_in_the_unit_they_were_entered(coordinator_wuwei):
    referral = create_referral(user=coordinator_wuwei, hemoglobin=121)
    services.referral_update(
        change_reason="Corrected from the source record.",
        referral=referral,
        data={"hemoglobin": Decimal(125), "hemoglobin_unit": "g/dL"},
        user=coordinator_wuwei,
    )
    texts = [line.text for line in referral_history(referral)]
    assert "changed hemoglobin from 121 g/L to 12.5 g/dL" in texts


def test_opening_the_history_is_recorded_and_a_refused_look_is_not(
    client_as, coordinator_wuwei, coordinator_lanzhou, referral
):
    url = reverse("referral_history", args=[referral.screening_number])

    assert client_as("coordinator_wuwei").get(url).status_code == 200
    assert client_as("coordinator_lanzhou").get(url).status_code == 404

    view = RecordView.objects.get()
    assert (view.viewer, view.kind, view.referral) == (coordinator_wuwei, "history", referral)


def test_history_query_count_does_not_grow_with_events(
    client_as, coordinator_wuwei, referral, django_assert_num_queries
):
    client = client_as("coordinator_wuwei")
    url = reverse("referral_history", args=[referral.screening_number])
    for physician in ("Dr A", "Dr B", "Dr C", "Dr D"):
        services.referral_update(
            change_reason="Corrected from the source record.",
            referral=referral,
            data={"referring_physician": physician},
            user=coordinator_wuwei,
        )
    # session, user with its roles, sites and unread notifications, referral; the record of
    # the view (an INSERT); five event tables; users, sites, protocol versions
    with django_assert_num_queries(12):
        response = client.get(url)
    assert response.content.decode().count("changed referring physician") == 4


# --- the whole log in the admin, read-only ---


def test_data_manager_reads_the_whole_log_in_the_admin(client_as, referral):
    client = client_as("data_manager")
    changelist = reverse("admin:pghistory_middlewareevents_changelist")

    response = client.get(changelist)

    assert response.status_code == 200
    assert "screening.ReferralEvent" in response.content.decode()
    assert client.get(reverse("admin:pghistory_middlewareevents_add")).status_code == 403
    event = _last_event(referral)
    change = reverse(
        "admin:pghistory_middlewareevents_change", args=[f"screening.ReferralEvent:{event.pk}"]
    )
    page = client.get(change)
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert client.post(change, {}).status_code == 403


def test_history_tells_a_rejection_with_its_reason_and_attendees(mdt_member, referral):
    services.mdt_decision_record(
        referral=referral,
        user=mdt_member,
        decision="reject",
        rationale="Deep ulcer.",
        reason_code="E3",
        attendees="Dr Li, Dr Wang",
    )
    texts = [line.text for line in referral_history(referral)]
    expected = (
        f"rejected the referral (reason: E3); MDT meeting of {timezone.localdate()}; "
        "rationale: “Deep ulcer.”; "
        "attending: Dr Li, Dr Wang"
    )
    assert expected in texts
