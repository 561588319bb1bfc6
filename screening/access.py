"""Who may see and do what (STYLE.md lesson 6): every view's first line asks this module.

Coordinators work on the referrals of their own sites and nothing else: another site's referral
answers 404, so its existence does not leak. MDT members and data managers see every site.
Clinical data is changed, and participants enrolled, only by a coordinator of the referral's
site or a data manager; MDT members alone decide. Anyone else who may see the referral gets
403 when they try.

Roles are Django groups (``Role``). Roles and site ids are read with the user, in the query that
loads it for the request (``user_with_roles``, the authentication backend's), and kept on the user
object, so a view, its templates and the navigation ask no more. The same query counts the
user's unread notifications, which the navigation shows on every page.
"""

import functools
import itertools
import weakref

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from screening import notifications
from screening.models import (
    Evaluation,
    ImportUpload,
    Notification,
    ProtocolVersion,
    Referral,
    Role,
    Site,
    user_roles,
)

VIEW = "view"
EDIT = "edit"  # change clinical data or withdraw the referral
DECIDE = "decide"  # record the MDT's decision
ENROL = "enrol"  # enrol the approved participant, or record that consent was declined
ACTIONS = (VIEW, EDIT, DECIDE, ENROL)


def _columns(model, alias: str) -> str:
    """Every column of ``model``, in the order its concrete fields come, read from ``alias``."""
    quote = connection.ops.quote_name
    return ", ".join(f"{alias}.{quote(field.column)}" for field in model._meta.concrete_fields)


@functools.cache
def _user_with_roles_sql() -> str:
    user = get_user_model()
    quote = connection.ops.quote_name
    users, roles = quote(user._meta.db_table), quote(Group._meta.db_table)
    in_group = quote(user.groups.through._meta.db_table)
    at_site = quote(Site.coordinators.through._meta.db_table)
    notices = quote(Notification._meta.db_table)
    return f"""
        SELECT {_columns(user, "person")},
            ARRAY(
                SELECT role.name FROM {roles} AS role
                JOIN {in_group} AS membership ON membership.group_id = role.id
                WHERE membership.user_id = person.id
            ) AS role_codes,
            ARRAY(
                SELECT site.site_id FROM {at_site} AS site WHERE site.user_id = person.id
            ) AS coordinated_site_ids,
            (
                SELECT count(*) FROM (
                    SELECT 1 FROM {notices} AS notice
                    WHERE notice.recipient_id = person.id AND notice.read_at IS NULL
                    LIMIT $2
                ) AS unread
            ) AS unread_notifications
        FROM {users} AS person
        WHERE person.id = $1
    """


def user_with_roles(user_id):
    """The user ``user_id`` with its role codes, site ids and unread notifications (counted up
    to ``notifications.Unread.CAP``), in one query; None if there is none. ``roles_of``, the
    site checks and the navigation's badge then ask nothing more of the database.

    Written in SQL and prepared once a connection (``_execute_prepared``): the same query
    built by the ORM (two ``ArraySubquery``) costs ten times the CPU to compile, and every
    signed-in request runs it."""
    with connection.cursor() as cursor:
        _execute_prepared(cursor, _user_with_roles_sql(), [user_id, notifications.Unread.CAP])
        row = cursor.fetchone()
    if row is None:
        return None
    model = get_user_model()
    fields = len(model._meta.concrete_fields)
    user = _from_row(model, row[:fields])
    role_codes, site_ids, user.unread_notifications = row[fields:]
    user._trialscreen_roles = set(role_codes)
    user._trialscreen_site_ids = frozenset(site_ids)
    return user


def roles_of(user) -> set[str]:
    """The user's role codes (read with the user by ``user_with_roles``, or else one query,
    then cached on the user for the request)."""
    if not hasattr(user, "_trialscreen_roles"):
        user._trialscreen_roles = user_roles(user)
    return user._trialscreen_roles


def _site_ids_of(user) -> frozenset[int]:
    """Ids of the sites a coordinator is bound to (one query, then cached)."""
    if not hasattr(user, "_trialscreen_site_ids"):
        user._trialscreen_site_ids = frozenset(user.sites.values_list("id", flat=True))
    return user._trialscreen_site_ids


def sees_every_site(user) -> bool:
    return bool(roles_of(user) & {Role.MDT, Role.ADMIN})


def is_coordinator(user) -> bool:
    return Role.COORDINATOR in roles_of(user)


def is_mdt_member(user) -> bool:
    return Role.MDT in roles_of(user)


def is_data_manager(user) -> bool:
    return Role.ADMIN in roles_of(user)


def _coordinated_site_ids(user) -> frozenset[int]:
    """The sites whose referrals a coordinator works on; none for anyone else."""
    return _site_ids_of(user) if is_coordinator(user) else frozenset()


def visible_site_ids(user) -> frozenset[int] | None:
    """Ids of the sites whose referrals the user may see; None for every site."""
    return None if sees_every_site(user) else _coordinated_site_ids(user)


def referrals_for_user(user) -> QuerySet[Referral]:
    """Every referral the user may see: all for MDT and data managers, else their sites'."""
    if sees_every_site(user):
        return Referral.objects.all()
    return Referral.objects.filter(site_id__in=_coordinated_site_ids(user))


def sites_for_user(user) -> QuerySet[Site]:
    """The sites whose referrals the user may see (the site filter of the list)."""
    if sees_every_site(user):
        return Site.objects.all()
    return Site.objects.filter(id__in=_coordinated_site_ids(user))


def editable_sites(user) -> QuerySet[Site]:
    """The sites at which the user may create and edit referrals (none for MDT members)."""
    if is_data_manager(user):
        return Site.objects.all()
    return Site.objects.filter(id__in=_coordinated_site_ids(user))


def may_see_referral(user, referral: Referral) -> bool:
    """Whether the user may see ``referral`` (the cached role and site look-ups)."""
    return sees_every_site(user) or referral.site_id in _coordinated_site_ids(user)


def may_create_referral(user) -> bool:
    return is_data_manager(user) or bool(_coordinated_site_ids(user))


def may_edit_referral(user, referral: Referral) -> bool:
    """Whether the user may change this referral's clinical data, withdraw or enrol it (its
    role and site; whether the referral is still open is the workflow's business)."""
    return is_data_manager(user) or referral.site_id in _coordinated_site_ids(user)


def may(user, action: str, referral: Referral) -> bool:
    """Whether a user who may see ``referral`` may also perform ``action`` on it."""
    if action == VIEW:
        return True
    if action == DECIDE:
        return is_mdt_member(user)
    if action in (EDIT, ENROL):
        return may_edit_referral(user, referral)
    raise ValueError(f"unknown action {action!r}")


def require_referral_creator(user) -> None:
    """Raise PermissionDenied unless the user may enter new referrals."""
    if not may_create_referral(user):
        raise PermissionDenied


def may_import(user) -> bool:
    """Whether the user may import referral files: whoever may enter referrals (coordinators
    for their own sites, data managers for every site)."""
    return may_create_referral(user)


def require_importer(user) -> None:
    """Raise PermissionDenied unless the user may import referral files."""
    if not may_import(user):
        raise PermissionDenied


def import_upload_for_user(user, session_key: str | None, pk: int) -> ImportUpload:
    """The upload ``pk`` if the user uploaded it in this very session, else Http404: another
    user's upload, or one's own from another session, is as if it did not exist. One query
    besides the cached role look-ups; PermissionDenied for a user who may not import."""
    require_importer(user)
    if not session_key:
        raise Http404
    return get_object_or_404(
        ImportUpload,
        pk=pk,
        uploaded_by=user,
        session_digest=ImportUpload.digest_of(session_key),
    )


# A referral is read with its site, its current evaluation and that evaluation's protocol
# version, for every page of it: their columns in this order (_referral_sql).
_READ_WITH_REFERRAL = (Referral, Site, Evaluation, ProtocolVersion)


@functools.cache
def _referral_sql(more: str) -> str:
    quote = connection.ops.quote_name
    referrals, sites = quote(Referral._meta.db_table), quote(Site._meta.db_table)
    evaluations = quote(Evaluation._meta.db_table)
    protocols = quote(ProtocolVersion._meta.db_table)
    return f"""
        SELECT {_columns(Referral, "referral")}, {_columns(Site, "site")},
            {_columns(Evaluation, "evaluation")}, {_columns(ProtocolVersion, "protocol")}
            {f", ({more})" if more else ""}
        FROM {referrals} AS referral
        JOIN {sites} AS site ON site.id = referral.site_id
        LEFT JOIN {evaluations} AS evaluation ON evaluation.id = referral.evaluation_id
        LEFT JOIN {protocols} AS protocol ON protocol.id = evaluation.protocol_version_id
        WHERE referral.screening_number = $1
    """


# The statements each database connection has prepared: its SQL -> its name. Names are never
# reused, so a PREPARE that failed halfway cannot stand in the way of the next one. (A statement
# lives as long as its connection, CONN_MAX_AGE: the service is stopped while a migration that
# changes the columns it reads runs, docs/deploy.md.)
_prepared = weakref.WeakKeyDictionary()
_statement_numbers = itertools.count()


def _execute_prepared(cursor, sql: str, params: list) -> None:
    """Execute ``sql``, its parameters written $1, $2..., as a statement the connection
    prepares on its first use (in the same round trip). PostgreSQL then plans it once a
    connection rather than on every execution: the referral's query took it longer to plan
    than to run."""
    statements = _prepared.setdefault(connection.connection, {})
    arguments = ", ".join(["%s"] * len(params))
    name = statements.get(sql)
    if name is not None:
        cursor.execute(f"EXECUTE {name}({arguments})", params)
        return
    name = f"trialscreen_{next(_statement_numbers)}"
    cursor.execute(f"PREPARE {name} AS {sql}; EXECUTE {name}({arguments})", params)
    statements[sql] = name


@functools.cache
def _converters(model) -> tuple:
    """Per column of ``model``, the conversions the ORM makes of what the database returns
    (decoding JSON)."""
    return tuple(
        (
            field.cached_col,
            connection.ops.get_db_converters(field.cached_col)
            + field.get_db_converters(connection),
        )
        for field in model._meta.concrete_fields
    )


def _from_row(model, values):
    """The ``model`` instance of its columns' ``values``, converted as the ORM converts them."""
    converted = []
    for (column, converters), value in zip(_converters(model), values, strict=True):
        for converter in converters:
            value = converter(value, column, connection)
        converted.append(value)
    return model.from_db(connection.alias, None, converted)


def _referral_with_evaluation(screening_number: str, more: str) -> tuple[Referral, object]:
    """The referral, its site, its current evaluation and the evaluation's protocol version,
    and the value of ``more`` (see ``referral_and_more_for_user``) or None; or Http404. One
    query, in SQL: the ORM took longer to build it (a hundred columns of four tables) than the
    database to answer it, and every page of a referral runs it."""
    with connection.cursor() as cursor:
        _execute_prepared(cursor, _referral_sql(more), [screening_number])
        row = cursor.fetchone()
    if row is None:
        raise Http404
    instances = []
    for model in _READ_WITH_REFERRAL:
        width = len(model._meta.concrete_fields)
        instances.append(_from_row(model, row[:width]))
        row = row[width:]
    referral, site, evaluation, protocol_version = instances
    referral.site = site
    if evaluation.pk is None:
        referral.evaluation = None
    else:
        evaluation.protocol_version = protocol_version
        referral.evaluation = evaluation
    return referral, row[0] if more else None


def referral_for_user(user, screening_number: str, *, action: str = VIEW) -> Referral:
    """The referral, or Http404 when the user may not see it, or PermissionDenied when the
    user may see it but not perform ``action`` (one of ``ACTIONS``).

    One query for the referral with its site and current evaluation, plus the cached role and
    site look-ups.
    """
    referral, _more = referral_and_more_for_user(user, screening_number, "", action=action)
    return referral


def referral_and_more_for_user(
    user, screening_number: str, more: str, *, action: str = VIEW
) -> tuple[Referral, object]:
    """``referral_for_user``, with the value of ``more``: SQL of one more column, read in the
    same query, in which the referral's row is ``referral`` (a page saves a round trip by
    reading what it shows besides the referral there). Read before the user's access is
    checked: it is returned only to whoever may see the referral."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    referral, value = _referral_with_evaluation(screening_number, more)
    if not may_see_referral(user, referral):
        raise Http404
    if not may(user, action, referral):
        raise PermissionDenied
    return referral, value


def notification_for_user(user, pk: int) -> Notification:
    """The user's own notification with its referral, or Http404: another user's notification
    is as if it did not exist. One query."""
    return get_object_or_404(
        Notification.objects.select_related("referral").only(
            "kind", "params", "read_at", "referral__screening_number", "referral__site"
        ),
        pk=pk,
        recipient=user,
    )


def roles_required(*roles: str, staff: bool = False):
    """Decorate a view that is not about one referral: users with one of ``roles`` (or staff
    users, with ``staff``) get in, every other signed-in user 403."""

    def decorator(view):
        @functools.wraps(view)
        def guarded(request, *args, **kwargs):
            user = request.user
            if not (roles_of(user) & set(roles) or (staff and user.is_staff)):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return guarded

    return decorator
