"""Who is told what, and when: notifications in the application and, optionally, by e-mail.

- MDT members, when a referral enters the MDT review queue or returns to it;
- the referral's coordinators (whoever entered it and the coordinators of its site), when the
  MDT decides, when a decision is voided, and when an approved referral's labs have grown too
  old for enrolment;
- data managers, when enrolment comes within ``TARGET_WARNING_PLACES`` of the target, and when
  a referral has waited more than ``REVIEW_OVERDUE_DAYS`` days for the MDT.

The services call in here inside the transaction of each change, so a notification exists
exactly when its change does; the time-based ones are found by ``reminders_send`` (the daily
``manage.py send_reminders``). Nobody is told of their own act. A notification is stored as its
kind and params and said in the reader's language when read (``Notification.sentence``).

When ``settings.NOTIFICATION_EMAILS`` is on, each recipient with an e-mail address also gets
one e-mail of what they were just told, sent once the transaction has committed.
"""

import contextlib
import dataclasses
import datetime
import functools
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable
from contextvars import ContextVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from screening.models import Notification, ProtocolVersion, Referral, ReferralEvent, Role, Site

logger = logging.getLogger(__name__)

Kind = Notification.Kind
Status = Referral.Status

# Data managers are told when an enrolment leaves this many places before the target.
TARGET_WARNING_PLACES = 2
# A referral waiting longer than this (days since its referral date) for the MDT is overdue.
REVIEW_OVERDUE_DAYS = 14
# Rows per INSERT when notifications are created in bulk.
INSERT_BATCH_SIZE = 5000
# An e-mail lists at most this many sentences; the rest are on the notifications page.
EMAIL_SENTENCES = 20
# Key of the PostgreSQL advisory lock that lets one run of the reminders at a time.
REMINDERS_LOCK = 4_157_002
# The audience of a notification about a referral: whoever entered it and its site's
# coordinators. The other audiences are role codes (``Role``).
REFERRAL_COORDINATORS = "referral_coordinators"
# What the MDT's decision tells the coordinators.
DECIDED = {Status.MDT_APPROVED: Kind.APPROVED, Status.MDT_REJECTED: Kind.REJECTED}
# Before any audit event, for a referral that has never been out of the review queue.
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


@dataclasses.dataclass(frozen=True)
class Notice:
    """A notification to be made for everyone in ``audience`` but the one who acted."""

    audience: str  # a role code or REFERRAL_COORDINATORS
    kind: str
    params: dict
    referral_id: int | None = None
    site_id: int | None = None
    creator_id: int | None = None
    actor_id: int | None = None


def _about(referral: Referral, audience: str, kind: str, user, **params) -> Notice:
    return Notice(
        audience=audience,
        kind=kind,
        params={"number": referral.screening_number, **params},
        referral_id=referral.pk,
        site_id=referral.site_id,
        creator_id=referral.created_by_id,
        actor_id=getattr(user, "pk", None),
    )


# The notices held by ``batch``; None outside one.
_held: ContextVar[list[Notice] | None] = ContextVar("held_notices", default=None)


@contextlib.contextmanager
def batch():
    """Hold the notifications made inside the block and create them together when it ends,
    in a constant number of queries however many referrals changed; none if it raises.

    For a change of many referrals one at a time, such as a protocol amendment. A batch
    inside another is part of the outer one.
    """
    if _held.get() is not None:
        yield
        return
    held: list[Notice] = []
    token = _held.set(held)
    try:
        yield
    finally:
        _held.reset(token)
    create(held)


def _notify(notices: list[Notice]) -> None:
    held = _held.get()
    if held is None:
        create(notices)
    else:
        held.extend(notices)


def _recipients(notices: list[Notice]):
    """``recipients(notice)``: the active users each notice is for (two or three queries for
    any number of notices, fewer when no notice needs them)."""
    user_model = get_user_model()
    by_role = defaultdict(list)
    roles = {notice.audience for notice in notices} - {REFERRAL_COORDINATORS}
    if roles:
        memberships = (
            user_model.groups.through.objects.filter(group__name__in=roles, user__is_active=True)
            .select_related("user", "group")
            .order_by("user_id")
        )
        for membership in memberships:
            by_role[membership.group.name].append(membership.user)

    about = [notice for notice in notices if notice.audience == REFERRAL_COORDINATORS]
    by_site, users = defaultdict(list), {}
    if about:
        coordinators = (
            Site.coordinators.through.objects.filter(
                site_id__in={notice.site_id for notice in about},
                user__is_active=True,
                user__groups__name=Role.COORDINATOR,
            )
            .select_related("user")
            .order_by("user_id")
        )
        for membership in coordinators:
            by_site[membership.site_id].append(membership.user.pk)
            users[membership.user.pk] = membership.user
        creators = {notice.creator_id for notice in about} - {None} - set(users)
        if creators:
            users |= user_model.objects.filter(pk__in=creators, is_active=True).in_bulk()

    def recipients(notice: Notice) -> list:
        if notice.audience != REFERRAL_COORDINATORS:
            return by_role[notice.audience]
        ids = dict.fromkeys([*by_site[notice.site_id], notice.creator_id])
        return [users[pk] for pk in ids if pk in users]

    return recipients


def create(notices: list[Notice]) -> list[Notification]:
    """Create the notifications of ``notices`` now (the recipients' queries and one INSERT per
    ``INSERT_BATCH_SIZE`` rows) and, with ``NOTIFICATION_EMAILS``, e-mail them after commit."""
    if not notices:
        return []
    recipients = _recipients(notices)
    notifications = [
        Notification(
            recipient=user, referral_id=notice.referral_id, kind=notice.kind, params=notice.params
        )
        for notice in notices
        for user in recipients(notice)
        if user.pk != notice.actor_id
    ]
    Notification.objects.bulk_create(notifications, batch_size=INSERT_BATCH_SIZE)
    if notifications and settings.NOTIFICATION_EMAILS:
        transaction.on_commit(functools.partial(_email, notifications))
    return notifications


# What the services call.


def statuses_changed(changes: Iterable[tuple[Referral, str | None]], *, user=None) -> None:
    """Tell whom it concerns that each referral went from the status paired with it (None:
    it was just created) to its current one, ``user`` having made the change.

    MDT members learn of every referral that enters the review queue or returns to it; the
    coordinators, of the MDT's decision. Costs nothing when nobody is to be told, otherwise
    the recipients' queries and one INSERT, however many referrals.
    """
    notices = []
    for referral, previous in changes:
        if referral.status == previous:
            continue
        if referral.status == Status.MDT_REVIEW:
            returned = previous == Status.MDT_APPROVED
            kind = Kind.BACK_IN_REVIEW if returned else Kind.AWAITS_REVIEW
            notices.append(_about(referral, Role.MDT, kind, user))
        elif previous == Status.MDT_REVIEW and referral.status in DECIDED:
            kind = DECIDED[referral.status]
            notices.append(_about(referral, REFERRAL_COORDINATORS, kind, user))
    _notify(notices)


def status_changed(referral: Referral, previous: str | None, *, user=None) -> None:
    """``statuses_changed`` for one referral."""
    statuses_changed([(referral, previous)], user=user)


def referrals_created(referrals: Iterable[Referral], *, user=None) -> None:
    """``statuses_changed`` for referrals just created by ``user``."""
    statuses_changed(((referral, None) for referral in referrals), user=user)


def decision_voided(referral: Referral, decision, *, user=None) -> None:
    """Tell the referral's coordinators that ``decision`` was voided by ``user``, and MDT
    members that the referral is back in their queue.

    For the service that voids a decision and returns the referral to review: it calls this
    instead of ``status_changed``, which would tell the MDT a second time.
    """
    _notify(
        [
            _about(
                referral,
                REFERRAL_COORDINATORS,
                Kind.DECISION_VOIDED,
                user,
                decision=decision.decision,
            ),
            _about(referral, Role.MDT, Kind.REVIEW_AFTER_VOID, user),
        ]
    )


def participant_enrolled(*, count: int, target: int, user=None) -> None:
    """Tell data managers when this enrolment, the ``count``-th, leaves
    ``TARGET_WARNING_PLACES`` places before the ``target``: once, since enrolments only grow."""
    if target - count == TARGET_WARNING_PLACES:
        params = {"count": count, "target": target, "left": target - count}
        _notify([Notice(Role.ADMIN, Kind.TARGET_NEAR, params, actor_id=getattr(user, "pk", None))])


# The daily reminders.


def _stale_labs(today: datetime.date) -> list[Notice]:
    """Approved referrals whose labs are older than the protocol allows at enrolment, each
    once per labs date (two queries)."""
    window = ProtocolVersion.current().labs_max_age_days
    approved = list(
        Referral.objects.filter(
            status=Status.MDT_APPROVED, labs_date__lt=today - datetime.timedelta(days=window)
        ).only("screening_number", "site", "created_by", "labs_date")
    )
    if not approved:
        return []
    told = set(
        Notification.objects.filter(kind=Kind.LABS_STALE, referral__in=approved).values_list(
            "referral_id", "params__labs_date"
        )
    )
    return [
        _about(
            referral,
            REFERRAL_COORDINATORS,
            Kind.LABS_STALE,
            None,
            labs_date=referral.labs_date.isoformat(),
            days=window,
        )
        for referral in approved
        if (referral.pk, referral.labs_date.isoformat()) not in told
    ]


def _overdue(today: datetime.date) -> list[Notice]:
    """Referrals waiting for the MDT more than ``REVIEW_OVERDUE_DAYS`` after their referral
    date, each once per stay in the queue (one query).

    A stay begins after the referral's last recorded status other than review (its audit
    trail); a referral already told of since then is not told again.
    """
    left_review = (
        ReferralEvent.objects.filter(pgh_obj_id=OuterRef("pk"))
        .exclude(status=Status.MDT_REVIEW)
        .order_by("-pgh_id")
        .values("pgh_created_at")[:1]
    )
    told = Notification.objects.filter(
        kind=Kind.REVIEW_OVERDUE,
        referral_id=OuterRef("pk"),
        created_at__gt=OuterRef("in_review_since"),
    )
    waiting = (
        Referral.objects.filter(
            status=Status.MDT_REVIEW,
            referral_date__lt=today - datetime.timedelta(days=REVIEW_OVERDUE_DAYS),
        )
        .annotate(in_review_since=Coalesce(Subquery(left_review), Value(EPOCH)))
        .filter(~Exists(told))
        .only("screening_number", "site", "created_by", "referral_date")
        .order_by("referral_date", "screening_number")
    )
    return [
        _about(
            referral,
            Role.ADMIN,
            Kind.REVIEW_OVERDUE,
            None,
            days=REVIEW_OVERDUE_DAYS,
            referral_date=referral.referral_date.isoformat(),
        )
        for referral in waiting
    ]


def reminders_send(*, today: datetime.date | None = None) -> Counter:
    """Tell coordinators of approved referrals whose labs are too old for enrolment, and data
    managers of referrals waiting too long for the MDT, as of ``today`` (default: today in
    the trial's time zone). Returns the number of notifications made of each kind.

    Meant to run daily; a referral is told of once per labs date and once per stay in the
    queue, however often it runs. Runs one at a time (an advisory lock), in one transaction.
    """
    today = today or timezone.localdate()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [REMINDERS_LOCK])
        notifications = create([*_stale_labs(today), *_overdue(today)])
    return Counter(notification.kind for notification in notifications)


# Reading.


def notification_mark_read(*, notification: Notification) -> Notification:
    """Mark one notification read (one UPDATE, none when it already was)."""
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


def notifications_mark_read(*, user) -> int:
    """Mark every unread notification of ``user`` read (one UPDATE); return how many."""
    unread = Notification.objects.filter(recipient=user, read_at__isnull=True)
    return unread.update(read_at=timezone.now())


class Unread:
    """How many notifications ``user`` has not read, counted up to ``CAP``: as the request's
    user was loaded (``access.user_with_roles`` counts them), or else with one query when a
    page first asks."""

    CAP = 100

    def __init__(self, user):
        self.user = user

    @functools.cached_property
    def count(self) -> int:
        loaded = getattr(self.user, "unread_notifications", None)
        if loaded is not None:
            return loaded
        # In SQL: every page counts, and the ORM's sliced count costs ten times the CPU to
        # build. Read from the partial index of unread notifications.
        with connection.cursor() as cursor:
            table = connection.ops.quote_name(Notification._meta.db_table)
            cursor.execute(
                f"SELECT count(*) FROM (SELECT 1 FROM {table} "
                "WHERE recipient_id = %s AND read_at IS NULL LIMIT %s) AS unread",
                [self.user.pk, self.CAP],
            )
            return cursor.fetchone()[0]

    @property
    def label(self) -> str:
        """The count as the badge shows it: "99+" from ``CAP`` on."""
        return f"{self.CAP - 1}+" if self.count >= self.CAP else str(self.count)


# E-mail.


def _message(notifications: list[Notification]) -> EmailMessage:
    sentences = [notification.sentence() for notification in notifications]
    if len(sentences) == 1:
        subject = sentences[0]
    else:
        subject = ngettext(
            "%(count)s new notification", "%(count)s new notifications", len(sentences)
        ) % {"count": len(sentences)}
    lines = sentences[:EMAIL_SENTENCES]
    left = len(sentences) - len(lines)
    if left:
        lines.append(ngettext("and %(count)s more.", "and %(count)s more.", left) % {"count": left})
    if settings.SITE_URL:
        url = settings.SITE_URL + reverse("notifications")
        lines += ["", _("Read them in TrialScreen: %(url)s") % {"url": url}]
    return EmailMessage(
        subject=f"TrialScreen: {subject}",
        body="\n".join(lines) + "\n",
        to=[notifications[0].recipient.email],
    )


def _email(notifications: list[Notification]) -> None:
    """Send each recipient with an e-mail address one message of ``notifications``.

    Users have no language of their own, so messages are in the site's (``LANGUAGE_CODE``). A
    relay that fails is logged, never raised: the change itself has been committed.
    """
    mine = defaultdict(list)
    for notification in notifications:
        if notification.recipient.email:
            mine[notification.recipient_id].append(notification)
    if not mine:
        return
    with translation.override(settings.LANGUAGE_CODE):
        messages = [_message(theirs) for theirs in mine.values()]
    try:
        with get_connection() as mail:
            mail.send_messages(messages)
    except OSError as error:
        logger.warning("Notification e-mails not sent: %s", type(error).__name__)
