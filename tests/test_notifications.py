"""Notifications: who is told what, the daily reminders, the e-mails, the page and the badge."""

import datetime
import re
from decimal import Decimal
from io import StringIO

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from screening import amendments, notifications, services
from screening.models import Notification, ProtocolVersion, Referral
from tests.factories import UserFactory, create_referral, create_referrals, days_ago
from tests.flows import approve, enrol, reject
from tests.test_settings import manage

pytestmark = pytest.mark.django_db

Kind = Notification.Kind
Status = Referral.Status


def told(**filters) -> set[tuple[str, str]]:
    """(username, kind) of every notification matching ``filters``."""
    rows = Notification.objects.filter(**filters).values_list("recipient__username", "kind")
    return set(rows)


def edit(referral, user, **data):
    return services.referral_update(
        referral=Referral.objects.get(pk=referral.pk),
        data=data,
        change_reason="Corrected from the notes.",
        user=user,
    )


def notification_inserts(queries) -> int:
    # The audit context's set_config comes first in the statements of an attributed service.
    return sum('INSERT INTO "screening_notification"' in q["sql"] for q in queries)


@pytest.fixture
def mdt_wang(db):
    return UserFactory(username="mdt-wang", role="mdt", email="wang@hospital.example")


@pytest.fixture
def coordinator_wuwei_2(db):
    return UserFactory(username="coord-wuwei-2", role="coordinator", site_codes=["wuwei"])


# Who is told what.


def test_a_referral_entering_the_queue_tells_every_active_mdt_member(
    coordinator_wuwei, coordinator_lanzhou, mdt_member, mdt_wang, data_manager
):
    UserFactory(username="mdt-retired", role="mdt", is_active=False)

    referral = create_referral(user=coordinator_wuwei)

    assert referral.status == Status.MDT_REVIEW
    assert told() == {("mdt-member", Kind.AWAITS_REVIEW), ("mdt-wang", Kind.AWAITS_REVIEW)}
    notification = Notification.objects.get(recipient=mdt_member)
    assert notification.referral == referral
    assert notification.params == {"number": referral.screening_number}
    assert notification.read_at is None
    number = referral.screening_number
    assert notification.sentence() == (
        f"{number} is potentially eligible and awaits the MDT's decision."
    )
    with translation.override("zh-hans"):
        assert notification.sentence() == f"{number} 可能符合入组条件，等待 MDT 决定。"


def test_no_english_sentence_is_stored(coordinator_wuwei, mdt_member):
    create_referral(user=coordinator_wuwei)

    (row,) = Notification.objects.values("kind", "params")
    assert set(row["params"]) == {"number"}
    assert "eligible" not in str(row)


def test_referrals_that_are_not_potentially_eligible_tell_nobody(coordinator_wuwei, mdt_member):
    create_referral(user=coordinator_wuwei, cm="M1")  # screen failed
    create_referral(user=coordinator_wuwei, number=2, cn="NX")  # incomplete

    assert told() == set()


def test_an_edit_that_makes_a_referral_potentially_eligible_tells_the_mdt(
    coordinator_wuwei, mdt_member
):
    referral = create_referral(user=coordinator_wuwei, cn="NX")
    assert referral.status == Status.SCREENING

    edit(referral, coordinator_wuwei, cn="N1")

    assert told(referral=referral) == {("mdt-member", Kind.AWAITS_REVIEW)}


def test_an_edit_of_a_referral_already_in_review_tells_nobody_again(coordinator_wuwei, mdt_member):
    referral = create_referral(user=coordinator_wuwei)

    edit(referral, coordinator_wuwei, ecog=1)

    assert Notification.objects.count() == 1


def test_a_change_that_supersedes_an_approval_sends_it_back_to_the_mdt(
    coordinator_wuwei, mdt_member, mdt_wang
):
    referral = create_referral(user=coordinator_wuwei)
    approve(referral, mdt_member)
    Notification.objects.all().delete()

    edit(referral, coordinator_wuwei, tumour_location="lower_thoracic")

    assert Referral.objects.get(pk=referral.pk).status == Status.MDT_REVIEW
    assert told() == {("mdt-member", Kind.BACK_IN_REVIEW), ("mdt-wang", Kind.BACK_IN_REVIEW)}
    notification = Notification.objects.filter(recipient=mdt_member).get()
    assert "a change to its data superseded the approval" in notification.sentence()


def test_fresh_labs_that_keep_the_approval_tell_nobody(coordinator_wuwei, mdt_member):
    referral = create_referral(user=coordinator_wuwei)
    approve(referral, mdt_member)
    Notification.objects.all().delete()

    edit(referral, coordinator_wuwei, alt=Decimal(80))

    assert Referral.objects.get(pk=referral.pk).status == Status.MDT_APPROVED
    assert told() == set()


@pytest.mark.parametrize(
    ("decide", "kind", "sentence"),
    [
        (lambda r, u: approve(r, u), Kind.APPROVED, "The MDT approved {} for the trial."),
        (lambda r, u: reject(r, u, "E2"), Kind.REJECTED, "The MDT rejected {}."),
    ],
)
def test_a_decision_tells_whoever_entered_the_referral_and_its_sites_coordinators(
    coordinator_wuwei,
    coordinator_wuwei_2,
    coordinator_lanzhou,
    mdt_member,
    mdt_wang,
    data_manager,
    decide,
    kind,
    sentence,
):
    referral = create_referral(user=data_manager)
    Notification.objects.all().delete()

    decide(referral, mdt_member)

    assert told() == {("data-manager", kind), ("coord-wuwei", kind), ("coord-wuwei-2", kind)}
    notification = Notification.objects.filter(recipient=coordinator_wuwei).get()
    assert notification.sentence() == sentence.format(referral.screening_number)


def test_a_voided_decision_tells_the_coordinators_and_the_other_mdt_members(
    coordinator_wuwei, mdt_member, mdt_wang
):
    referral = create_referral(user=coordinator_wuwei)
    approve(referral, mdt_member)
    Notification.objects.all().delete()

    services.mdt_decision_void(referral=referral, user=mdt_wang, reason="Wrong button.")

    # Mdt-wang voided it and is not told of it.
    assert told() == {
        ("coord-wuwei", Kind.DECISION_VOIDED),
        ("mdt-member", Kind.REVIEW_AFTER_VOID),
    }
    number = referral.screening_number
    sentences = {n.kind: n.sentence() for n in Notification.objects.all()}
    assert sentences == {
        Kind.DECISION_VOIDED: f"The MDT's decision on {number} was voided; it awaits a new "
        "decision.",
        Kind.REVIEW_AFTER_VOID: f"{number} is back in the MDT review queue: its decision was "
        "voided.",
    }


def test_enrolment_two_places_before_the_target_tells_the_other_data_managers(
    coordinator_wuwei, data_manager, mdt_member
):
    other = UserFactory(username="data-manager-2", role="admin")
    current = ProtocolVersion.current()
    ProtocolVersion.objects.create(
        version=current.version + 1, effective_date=current.effective_date, enrolment_target=4
    )
    first, second, third = create_referrals(3, user=coordinator_wuwei, status=Status.MDT_APPROVED)
    enrol(first, data_manager)
    assert told(kind=Kind.TARGET_NEAR) == set()

    enrol(second, data_manager)

    # The data manager who enrolled the second knows it.
    assert told(kind=Kind.TARGET_NEAR) == {("data-manager-2", Kind.TARGET_NEAR)}
    notification = Notification.objects.get(recipient=other)
    assert notification.referral is None
    assert notification.sentence() == "2 of the 4 participants are enrolled: 2 places remain."

    enrol(third, coordinator_wuwei)

    assert Notification.objects.filter(kind=Kind.TARGET_NEAR).count() == 1


def test_at_thirty_of_thirty_two_every_data_manager_is_told(coordinator_wuwei, data_manager):
    assert ProtocolVersion.current().enrolment_target == 32
    referrals = create_referrals(30, user=coordinator_wuwei, status=Status.MDT_APPROVED)
    for referral in referrals[:29]:
        enrol(referral, coordinator_wuwei)
    assert told(kind=Kind.TARGET_NEAR) == set()

    enrol(referrals[29], coordinator_wuwei)

    (notification,) = Notification.objects.filter(kind=Kind.TARGET_NEAR)
    assert notification.recipient == data_manager
    assert notification.params == {"count": 30, "target": 32, "left": 2}


# Many referrals at once: a constant number of queries.


@pytest.mark.parametrize("count", [10, 100])
def test_an_import_tells_the_mdt_in_one_insert_whatever_its_rows(
    coordinator_wuwei, mdt_member, mdt_wang, count
):
    with CaptureQueriesContext(connection) as queries:
        create_referrals(count, user=coordinator_wuwei)

    assert notification_inserts(queries) == 1
    assert Notification.objects.filter(kind=Kind.AWAITS_REVIEW).count() == 2 * count
    # And one query for the MDT members, whatever the rows.
    assert sum("auth_user_groups" in q["sql"] for q in queries) == 1


@pytest.mark.parametrize("count", [10, 100])
def test_an_amendment_tells_the_mdt_in_one_insert_whatever_it_lets_in(
    coordinator_wuwei, mdt_member, data_manager, count
):
    referrals = create_referrals(count, user=coordinator_wuwei, age=72)
    assert {r.status for r in referrals} == {Status.SCREEN_FAILED}
    current = ProtocolVersion.current()
    fields = {name: getattr(current, name) for name in amendments.AMENDABLE_FIELDS}

    with CaptureQueriesContext(connection) as queries:
        amendments.protocol_amend(user=data_manager, **{**fields, "age_max": 75})

    assert notification_inserts(queries) == 1
    assert told() == {("mdt-member", Kind.AWAITS_REVIEW)}
    assert Notification.objects.count() == count


def test_a_batch_that_raises_creates_nothing(coordinator_wuwei, mdt_member):
    create_referrals(3, user=coordinator_wuwei)
    Notification.objects.all().delete()

    with pytest.raises(RuntimeError), notifications.batch():
        notifications.referrals_created(Referral.objects.all())
        raise RuntimeError("the amendment failed half-way")

    assert Notification.objects.count() == 0
    with notifications.batch():
        notifications.referrals_created(Referral.objects.all())
    assert Notification.objects.count() == 3


# The daily reminders.


def remind(today=None) -> str:
    output = StringIO()
    arguments = ["--date", today.isoformat()] if today else []
    call_command("send_reminders", *arguments, stdout=output)
    return output.getvalue()


def referred(days, **overrides) -> dict:
    """Dates of a patient referred, screened and given labs ``days`` ago, then ``overrides``."""
    dates = dict.fromkeys(("referral_date", "screening_date", "labs_date"), days_ago(days))
    return {**dates, **overrides}


@pytest.fixture
def approved_with_old_labs(coordinator_wuwei, mdt_member):
    """An approved Wuwei referral whose labs were taken 30 days ago (screened 25 days ago)."""
    referral = create_referral(user=coordinator_wuwei, **referred(25, labs_date=days_ago(30)))
    approve(referral, mdt_member)
    Notification.objects.all().delete()
    return referral


def test_labs_too_old_for_enrolment_tell_the_coordinators_once_per_labs_date(
    approved_with_old_labs, coordinator_wuwei, coordinator_wuwei_2, coordinator_lanzhou
):
    referral = approved_with_old_labs
    # Labs of 20 days ago, and a referral still in review: neither is meant.
    fresh = create_referral(user=coordinator_wuwei, number=2, labs_date=days_ago(20))
    approve(fresh, UserFactory(username="mdt-li", role="mdt"))
    create_referral(user=coordinator_wuwei, number=3, **referred(25, labs_date=days_ago(30)))
    Notification.objects.all().delete()

    output = remind()

    assert told() == {("coord-wuwei", Kind.LABS_STALE), ("coord-wuwei-2", Kind.LABS_STALE)}
    assert set(Notification.objects.values_list("referral_id", flat=True)) == {referral.pk}
    notification = Notification.objects.filter(recipient=coordinator_wuwei).get()
    assert notification.sentence() == (
        f"{referral.screening_number} needs a new blood panel before enrolment: its labs of "
        f"{days_ago(30)} are more than 28 days old."
    )
    assert "labs_stale: 2 notifications" in output

    # The next day, and the one after: already told.
    remind()
    remind(timezone.localdate() + datetime.timedelta(days=1))
    assert Notification.objects.count() == 2

    # Another panel, itself too old by the time it is entered: told again, once.
    edit(referral, coordinator_wuwei, labs_date=datetime.date.fromisoformat(days_ago(29)))
    assert Referral.objects.get(pk=referral.pk).status == Status.MDT_APPROVED
    remind()
    remind()
    assert Notification.objects.count() == 4
    assert set(Notification.objects.values_list("params__labs_date", flat=True)) == {
        days_ago(30),
        days_ago(29),
    }


def test_labs_exactly_at_the_limit_are_not_yet_too_old(coordinator_wuwei, mdt_member):
    referral = create_referral(user=coordinator_wuwei, **referred(25, labs_date=days_ago(28)))
    approve(referral, mdt_member)
    Notification.objects.all().delete()

    remind()
    assert Notification.objects.count() == 0
    remind(timezone.localdate() + datetime.timedelta(days=1))
    assert told() == {("coord-wuwei", Kind.LABS_STALE)}


def test_a_referral_waiting_over_14_days_tells_the_data_managers_once_per_stay(
    coordinator_wuwei, mdt_member, data_manager
):
    waiting = create_referral(user=coordinator_wuwei, **referred(15))
    create_referral(user=coordinator_wuwei, number=2, **referred(14))
    Notification.objects.all().delete()

    output = remind()

    assert told() == {("data-manager", Kind.REVIEW_OVERDUE)}
    notification = Notification.objects.get()
    assert notification.referral_id == waiting.pk
    assert notification.sentence() == (
        f"{waiting.screening_number} has waited more than 14 days for the MDT (referred on "
        f"{days_ago(15)})."
    )
    assert "review_overdue: 1 notifications" in output
    remind()
    assert Notification.objects.count() == 1

    # Approved, then sent back by a change: a new stay in the queue, told of once more.
    approve(waiting, mdt_member)
    edit(waiting, coordinator_wuwei, tumour_location="lower_thoracic")
    assert Referral.objects.get(pk=waiting.pk).status == Status.MDT_REVIEW
    Notification.objects.exclude(kind=Kind.REVIEW_OVERDUE).delete()
    remind()
    remind()
    assert Notification.objects.filter(kind=Kind.REVIEW_OVERDUE).count() == 2


def test_the_reminders_take_the_same_queries_for_few_and_many_referrals(
    coordinator_wuwei, mdt_member, data_manager
):
    def queries_of_a_run(count, number):
        referrals = create_referrals(
            count, number=number, user=coordinator_wuwei, **referred(25, labs_date=days_ago(30))
        )
        for referral in referrals[: count // 2]:
            approve(referral, mdt_member)
        with CaptureQueriesContext(connection) as queries:
            remind()
        return len(queries)

    assert queries_of_a_run(4, 1) == queries_of_a_run(40, 100)


def test_a_bad_date_is_refused():
    with pytest.raises(Exception, match="--date"):
        call_command("send_reminders", "--date", "2025-13-01", stdout=StringIO())


# E-mail.


class RefusingBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise ConnectionRefusedError


@pytest.fixture
def emails_on(settings):
    settings.NOTIFICATION_EMAILS = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "https://trialscreen.hospital.example"


@pytest.mark.parametrize(
    ("environment", "on"),
    [
        ({}, "False"),
        ({"EMAIL_URL": "smtp://relay.hospital.example:25"}, "True"),
        (
            {"EMAIL_URL": "smtp://relay.hospital.example:25", "NOTIFICATION_EMAILS": "false"},
            "False",
        ),
    ],
)
def test_emails_are_off_unless_a_relay_is_configured(environment, on):
    result = manage(
        "shell",
        "--verbosity=0",
        "-c",
        "from django.conf import settings; print(settings.NOTIFICATION_EMAILS)",
        **{"SECRET_KEY": "test-only-not-secret", **environment},
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == on


def test_emails_go_after_commit_to_recipients_with_an_address(
    emails_on, coordinator_wuwei, mdt_member, mdt_wang, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        referral = create_referral(user=coordinator_wuwei)
        assert mail.outbox == []
    for callback in callbacks:
        callback()

    # mdt-member has no address.
    (message,) = mail.outbox
    assert message.to == ["wang@hospital.example"]
    number = referral.screening_number
    assert message.subject == (
        f"TrialScreen: {number} is potentially eligible and awaits the MDT's decision."
    )
    assert f"{number} is potentially eligible" in message.body
    assert "https://trialscreen.hospital.example/notifications/" in message.body
    assert referral.full_name not in message.body


def test_no_email_without_the_setting(
    settings, coordinator_wuwei, mdt_wang, django_capture_on_commit_callbacks
):
    settings.NOTIFICATION_EMAILS = False
    with django_capture_on_commit_callbacks(execute=True):
        create_referral(user=coordinator_wuwei)

    assert mail.outbox == []
    assert Notification.objects.filter(recipient=mdt_wang).count() == 1


def test_a_batch_is_one_email_per_recipient(
    emails_on, coordinator_wuwei, mdt_wang, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        referrals = create_referrals(25, user=coordinator_wuwei)

    (message,) = mail.outbox
    assert message.subject == "TrialScreen: 25 new notifications"
    lines = message.body.splitlines()
    assert lines[0] == f"{referrals[0].screening_number} is potentially eligible and awaits " + (
        "the MDT's decision."
    )
    assert len([line for line in lines if "awaits the MDT" in line]) == 20
    assert "and 5 more." in lines


def test_emails_are_in_the_sites_language(
    emails_on, settings, coordinator_wuwei, mdt_wang, django_capture_on_commit_callbacks
):
    settings.LANGUAGE_CODE = "zh-hans"
    with django_capture_on_commit_callbacks(execute=True):
        referral = create_referral(user=coordinator_wuwei)

    (message,) = mail.outbox
    assert message.subject == (
        f"TrialScreen: {referral.screening_number} 可能符合入组条件，等待 MDT 决定。"
    )


def test_a_relay_that_fails_loses_the_email_not_the_change(
    emails_on, settings, coordinator_wuwei, mdt_wang, django_capture_on_commit_callbacks, caplog
):
    settings.EMAIL_BACKEND = "tests.test_notifications.RefusingBackend"
    with django_capture_on_commit_callbacks(execute=True):
        referral = create_referral(user=coordinator_wuwei)

    assert Referral.objects.filter(pk=referral.pk).exists()
    assert "Notification e-mails not sent: ConnectionRefusedError" in caplog.text


# The page.


def make_notifications(user, count, *, referral=None, kind=Kind.APPROVED, read=False):
    """``count`` notifications for ``user``, one minute apart, the last the newest."""
    start = timezone.now() - datetime.timedelta(minutes=count)
    number = referral.screening_number if referral else "S-09999"
    made = Notification.objects.bulk_create(
        Notification(
            recipient=user,
            referral=referral,
            kind=kind,
            params={"number": number},
            read_at=timezone.now() if read else None,
        )
        for _ in range(count)
    )
    for index, notification in enumerate(made):
        notification.created_at = start + datetime.timedelta(minutes=index)
    Notification.objects.bulk_update(made, ["created_at"])
    return made


def items(page: str) -> list[str]:
    return re.findall(r'<li class="list-group-item[^"]*">(.*?)</li>', page, re.S)


def test_the_page_lists_the_users_own_newest_first(client_as, coordinator_wuwei, mdt_member):
    referral = create_referral(user=coordinator_wuwei)  # tells mdt-member
    approve(referral, mdt_member)  # tells coord-wuwei
    Notification.objects.filter(recipient=mdt_member).update(
        created_at=timezone.now() - datetime.timedelta(hours=1)
    )
    make_notifications(mdt_member, 1, kind=Kind.TARGET_NEAR, read=True)
    Notification.objects.filter(kind=Kind.TARGET_NEAR).update(
        params={"count": 30, "target": 32, "left": 2}
    )

    page = client_as("mdt").get(reverse("notifications")).content.decode()

    rows = items(page)
    assert len(rows) == 2
    assert "30 of the 32 participants are enrolled" in rows[0]
    assert "New" not in rows[0]
    assert f"{referral.screening_number} is potentially eligible" in rows[1]
    assert "New" in rows[1]
    created = Notification.objects.get(recipient=mdt_member, kind=Kind.AWAITS_REVIEW).created_at
    assert timezone.localtime(created).strftime("%Y-%m-%d %H:%M") in rows[1]
    assert "The MDT approved" not in page  # coord-wuwei's
    assert 'list-group-item-primary unread"' in page


def test_each_row_opens_its_referral_while_the_reader_may_see_it(
    client_as, coordinator_wuwei, coordinator_lanzhou, mdt_member
):
    referral = create_referral(user=coordinator_wuwei)
    unread = make_notifications(coordinator_wuwei, 1, referral=referral)[0]
    make_notifications(coordinator_wuwei, 1, referral=referral, read=True)
    elsewhere = make_notifications(coordinator_lanzhou, 1, referral=referral)[0]

    page = client_as("coordinator_wuwei").get(reverse("notifications")).content.decode()
    rows = items(page)
    number = referral.screening_number
    # Newest first: the read one links, the unread one posts (opening it marks it read).
    assert f'href="/referrals/{number}/"' in rows[0]
    assert f'action="/notifications/{unread.pk}/read/"' in rows[1]
    assert f"Open {number}" in rows[1]

    lanzhou = client_as("coordinator_lanzhou")
    rows = items(lanzhou.get(reverse("notifications")).content.decode())
    assert f"/referrals/{number}/" not in rows[0]
    assert "Mark as read" in rows[0]
    response = lanzhou.post(reverse("notification_read", args=[elsewhere.pk]))
    assert response.url == reverse("notifications")


def test_opening_a_notification_marks_it_read_and_goes_to_the_referral(
    client_as, coordinator_wuwei, mdt_member
):
    referral = create_referral(user=coordinator_wuwei)
    notification = Notification.objects.get(recipient=mdt_member)
    client = client_as("mdt")

    response = client.post(reverse("notification_read", args=[notification.pk]))

    assert response.status_code == 302
    assert response.url == reverse("referral_detail", args=[referral.screening_number])
    notification.refresh_from_db()
    assert notification.read_at is not None
    # Reading its address does nothing.
    first_read = notification.read_at
    assert client.get(reverse("notification_read", args=[notification.pk])).status_code == 405
    client.post(reverse("notification_read", args=[notification.pk]))
    notification.refresh_from_db()
    assert notification.read_at == first_read


def test_another_users_notification_is_not_found_and_stays_unread(
    client_as, coordinator_wuwei, mdt_member, mdt_wang
):
    create_referral(user=coordinator_wuwei)
    theirs = Notification.objects.get(recipient=mdt_wang)

    response = client_as("mdt").post(reverse("notification_read", args=[theirs.pk]))

    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_mark_all_as_read_marks_only_the_users_own(client_as, mdt_member, mdt_wang):
    make_notifications(mdt_member, 3)
    make_notifications(mdt_wang, 2)
    client = client_as("mdt")
    page = client.get(reverse("notifications")).content.decode()
    assert "Mark all as read" in page

    response = client.post(reverse("notifications_read"), follow=True)

    assert "All your notifications are marked as read." in response.content.decode()
    assert "Mark all as read" not in response.content.decode()
    assert Notification.objects.filter(recipient=mdt_member, read_at__isnull=True).count() == 0
    assert Notification.objects.filter(recipient=mdt_wang, read_at__isnull=True).count() == 2


def test_the_page_pages_fifty_at_a_time(client_as, mdt_member):
    made = make_notifications(mdt_member, 60)
    client = client_as("mdt")

    first = client.get(reverse("notifications")).content.decode()
    second = client.get(reverse("notifications"), {"page": 2}).content.decode()

    assert len(items(first)) == 50
    assert len(items(second)) == 10
    assert "Page 1 of 2" in first
    assert f'action="/notifications/{made[-1].pk}/read/"' in first
    assert f'action="/notifications/{made[0].pk}/read/"' in second


def test_someone_without_notifications_is_told_so(client_as):
    page = client_as("data_manager").get(reverse("notifications")).content.decode()

    assert "You have no notifications." in page
    assert "Mark all as read" not in page


# Session, user (with its roles, sites and the badge's count), the count and the page of
# notifications.
PAGE_QUERIES = {"mdt": 4, "coordinator_wuwei": 4}


@pytest.mark.parametrize("who", PAGE_QUERIES)
def test_page_queries_do_not_grow_with_notifications(
    client_as, cast, coordinator_wuwei, who, django_assert_num_queries
):
    referral = create_referral(user=coordinator_wuwei)
    Notification.objects.all().delete()
    user = cast[who]
    client = client_as(who)
    make_notifications(user, 10, referral=referral)
    with django_assert_num_queries(PAGE_QUERIES[who]):
        assert client.get(reverse("notifications")).status_code == 200
    make_notifications(user, 990, referral=referral)
    with django_assert_num_queries(PAGE_QUERIES[who]):
        page = client.get(reverse("notifications")).content.decode()
    assert len(items(page)) == 50
    assert "Page 1 of 20" in page


def test_the_page_in_chinese(client_as, coordinator_wuwei, mdt_member):
    referral = create_referral(user=coordinator_wuwei)
    client = client_as("mdt")
    client.cookies["django_language"] = "zh-hans"

    page = client.get(reverse("notifications")).content.decode()

    assert '<h1 class="h3 mb-0 me-auto">通知</h1>' in page
    assert f"{referral.screening_number} 可能符合入组条件，等待 MDT 决定。" in page
    assert "全部标为已读" in page
    assert '1<span class="visually-hidden"> 条未读</span>' in page


# The badge.


def badge(page: str) -> str | None:
    link = re.search(r'<a class="nav-link[^"]*"[^>]*href="/notifications/">(.*?)</a>', page, re.S)
    assert link, "the navigation links to the notifications"
    count = re.search(r'<span class="badge[^"]*">(.*?)</span></span>', link.group(1))
    return count.group(1) if count else None


def test_the_navigation_counts_the_unread_for_every_role(client_as, cast):
    for role, user in cast.items():
        if user is None:
            continue
        make_notifications(user, 3)
        make_notifications(user, 2, read=True)
        page = client_as(role).get(reverse("referral_list")).content.decode()
        assert badge(page) == '3<span class="visually-hidden"> unread', role


def test_no_badge_when_all_is_read_and_at_most_99_plus(client_as, mdt_member):
    client = client_as("mdt")
    assert badge(client.get(reverse("dashboard")).content.decode()) is None

    make_notifications(mdt_member, 150)

    assert badge(client.get(reverse("dashboard")).content.decode()).startswith("99+<span")


def test_the_badge_is_counted_with_the_signed_in_user_in_one_query(client_as, mdt_member):
    make_notifications(mdt_member, 2)
    client = client_as("mdt")
    with CaptureQueriesContext(connection) as page:
        response = client.get(reverse("referral_list"))

    # Read only by the query loading the user, its roles and sites (prepared once a connection,
    # so run by name once it has been).
    reading = [q["sql"] for q in page if '"screening_notification"' in q["sql"]]
    assert all("role_codes" in sql for sql in reading)
    assert badge(response.content.decode()) == '2<span class="visually-hidden"> unread'
    anonymous = client_as("anonymous")
    with CaptureQueriesContext(connection) as sign_in:
        anonymous.get(reverse("login"))
    assert not any('"screening_notification"' in q["sql"] for q in sign_in)
