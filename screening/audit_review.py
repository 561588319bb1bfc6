"""The data managers' audit review: what a monitor asks about first, newest first.

Referrals changed after an MDT decision (from the audit trail, ``screening.audit``), views of
identified data (``RecordView``), downloads (``ExportLog``), imports from the browser
(``ImportUpload``) and failed sign-ins (django-axes' ``AccessFailureLog``), in one list paged by
the database.
"""

import datetime
from dataclasses import dataclass

from axes.models import AccessFailureLog
from django.contrib.auth import get_user_model
from django.db.models import (
    CharField,
    Exists,
    F,
    OuterRef,
    Q,
    Subquery,
    TextChoices,
    TextField,
    Value,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# The history's sentences, so a change reads the same here as on the referral's history page.
from screening.audit import REFERRAL_FIELDS, _changes, _names
from screening.models import (
    ExportLog,
    ImportUpload,
    MdtDecision,
    MdtDecisionEvent,
    RecordView,
    Referral,
    ReferralEvent,
)
from screening.text import join_items


class ReviewKind(TextChoices):
    CHANGE = "change", gettext_lazy("Change after an MDT decision")
    VIEW = "view", gettext_lazy("View of identified data")
    DOWNLOAD = "download", gettext_lazy("Download")
    IMPORT = "import", gettext_lazy("Import")
    SIGN_IN = "sign_in", gettext_lazy("Failed sign-in")


# The referral's own columns, plus its outcome: a re-evaluation after an edit changes only that.
_REVIEWED_REFERRAL_FIELDS = (*REFERRAL_FIELDS, Referral._meta.get_field("outcome"))


@dataclass(frozen=True)
class ReviewFilter:
    """What the review lists; None (or empty) means any."""

    kind: str = ""
    username: str = ""  # a user, or the operating-system account of a command-line export
    screening_number: str = ""  # downloads and sign-ins concern no one referral: left out
    on_or_after: datetime.date | None = None  # dates in the trial's time zone, inclusive
    on_or_before: datetime.date | None = None


def _day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _within(moment: str, review: ReviewFilter) -> Q:
    condition = Q()
    if review.on_or_after:
        condition &= Q(**{f"{moment}__gte": _day_start(review.on_or_after)})
    if review.on_or_before:
        next_day = review.on_or_before + datetime.timedelta(days=1)
        condition &= Q(**{f"{moment}__lt": _day_start(next_day)})
    return condition


def _user_pk_text(username: str) -> Cast:
    """The id of the user called ``username`` as text (NULL for no such user), as the audit
    context's metadata holds it; in SQL, so the filter costs no query of its own."""
    users = get_user_model().objects.filter(username=username).values("pk")[:1]
    return Cast(Subquery(users), TextField())


def changes_after_decision():
    """Updates of a referral recorded after an MDT decision on it (current or superseded): its
    data edited, a re-evaluation, its enrolment or withdrawal. The status change that records a
    decision is left out: it is written in the same request as the decision itself."""
    decided_before = MdtDecision.objects.filter(
        referral_id=OuterRef("pgh_obj_id"), decided_at__lt=OuterRef("pgh_created_at")
    )
    decision_of_this_request = MdtDecisionEvent.objects.filter(
        pgh_label="insert",
        referral_id=OuterRef("pgh_obj_id"),
        pgh_context_id=OuterRef("pgh_context_id"),
    )
    return ReferralEvent.objects.filter(pgh_label="update").filter(
        Exists(decided_before), ~Exists(decision_of_this_request)
    )


def _entries(queryset, kind: str, moment: str):
    """``(kind, id, moment)`` of each row: the shape every part of the review shares."""
    return (
        queryset.order_by()
        .annotate(
            entry_kind=Value(kind, output_field=CharField()),
            entry_id=F(queryset.model._meta.pk.attname),
            entry_at=F(moment),
        )
        .values_list("entry_kind", "entry_id", "entry_at")
    )


def _review_parts(review: ReviewFilter):
    number = review.screening_number
    name = review.username
    changes = changes_after_decision().filter(_within("pgh_created_at", review))
    views = RecordView.objects.filter(_within("viewed_at", review))
    downloads = ExportLog.objects.filter(_within("exported_at", review))
    sign_ins = AccessFailureLog.objects.filter(_within("attempt_time", review))
    imports = ImportUpload.objects.filter(
        _within("imported_at", review), status=ImportUpload.Status.IMPORTED
    )
    if name:
        changes = changes.alias(actor=KeyTextTransform("user", "pgh_context__metadata")).filter(
            actor=_user_pk_text(name)
        )
        views = views.filter(viewer__username=name)
        downloads = downloads.filter(
            Q(exported_by__username=name) | Q(exported_by__isnull=True, os_user=name)
        )
        sign_ins = sign_ins.filter(username=name)
        imports = imports.filter(uploaded_by__username=name)
    if number:
        changes = changes.filter(screening_number=number)
        views = views.filter(referral__screening_number=number)
    parts = {
        ReviewKind.CHANGE: _entries(changes, ReviewKind.CHANGE, "pgh_created_at"),
        ReviewKind.VIEW: _entries(views, ReviewKind.VIEW, "viewed_at"),
    }
    if not number:
        parts[ReviewKind.DOWNLOAD] = _entries(downloads, ReviewKind.DOWNLOAD, "exported_at")
        parts[ReviewKind.IMPORT] = _entries(imports, ReviewKind.IMPORT, "imported_at")
        parts[ReviewKind.SIGN_IN] = _entries(sign_ins, ReviewKind.SIGN_IN, "attempt_time")
    if review.kind:
        return [parts[review.kind]] if review.kind in parts else []
    return list(parts.values())


def review_entries(review: ReviewFilter):
    """``(kind, id, moment)`` of every entry the filter selects, newest first, as one query
    (a UNION ALL) that pages in the database; ``review_rows`` reads a page's entries.

    None when the filter selects nothing (a referral's downloads, for example).
    """
    parts = _review_parts(review)
    if not parts:
        return None
    first, *others = parts
    return first.union(*others, all=True).order_by("-entry_at", "entry_kind", "-entry_id")


@dataclass(frozen=True)
class ReviewRow:
    """One line of the review, ready for the page."""

    at: datetime.datetime
    kind: str
    actor: str  # username, operating-system account or the username tried; "" when unknown
    screening_number: str = ""
    texts: tuple[str, ...] = ()
    reason: str = ""
    source: str = ""  # the page or command of a change, the address of a sign-in
    download: ExportLog | None = None  # for its outcome badge
    locked_out: bool = False  # a failed sign-in that locked the account or address

    @property
    def label(self) -> str:
        return _("Lockout") if self.locked_out else ReviewKind(self.kind).label


def _change_rows(ids) -> dict:
    """Rows of the change events ``ids``: what each changed since the event before it."""
    previous = ReferralEvent.objects.filter(
        pgh_obj_id=OuterRef("pgh_obj_id"), pgh_id__lt=OuterRef("pgh_id")
    ).order_by("-pgh_id")
    events = list(
        ReferralEvent.objects.filter(pgh_id__in=ids)
        .select_related("pgh_context")
        .annotate(previous_id=Subquery(previous.values("pgh_id")[:1]))
    )
    if not events:
        return {}
    earlier = ReferralEvent.objects.in_bulk(
        [event.previous_id for event in events if event.previous_id], field_name="pgh_id"
    )
    metadata = {
        event.pk: event.pgh_context.metadata if event.pgh_context else {} for event in events
    }
    names = _names({data.get("user") for data in metadata.values()} - {None})
    rows = {}
    for event in events:
        data = metadata[event.pk]
        before = earlier.get(event.previous_id)
        texts = _changes(before, event, _REVIEWED_REFERRAL_FIELDS, names) if before else []
        if not texts and before and before.evaluation_id != event.evaluation_id:
            texts = [
                _("re-evaluated: the outcome stays %(outcome)s")
                % {"outcome": event.get_outcome_display()}
            ]
        rows[event.pk] = ReviewRow(
            at=event.pgh_created_at,
            kind=ReviewKind.CHANGE,
            actor=names.users.get(data.get("user"), ""),
            screening_number=event.screening_number,
            texts=tuple(texts) or (_("saved again, nothing shown here changed"),),
            reason=data.get("change_reason", ""),
            source=data.get("url") or data.get("command") or "",
        )
    return rows


def _view_row(view: RecordView) -> ReviewRow:
    referral = view.referral
    return ReviewRow(
        at=view.viewed_at,
        kind=ReviewKind.VIEW,
        actor=view.viewer.get_username(),
        screening_number=referral.screening_number if referral else "",
        texts=(view.get_kind_display(),),
    )


def _download_text(log: ExportLog) -> str:
    return _("%(export)s (%(format)s), %(site)s, referred %(start)s – %(end)s: %(rows)s rows") % {
        "export": log.get_kind_display(),
        "format": log.file_format.upper(),
        "site": log.site.display_name if log.site else _("all sites"),
        "start": log.referred_from.isoformat() if log.referred_from else "…",
        "end": log.referred_to.isoformat() if log.referred_to else "…",
        "rows": log.row_count,
    }


def _download_row(log: ExportLog) -> ReviewRow:
    actor = log.exported_by.get_username() if log.exported_by else log.os_user
    return ReviewRow(
        log.exported_at,
        ReviewKind.DOWNLOAD,
        actor,
        texts=(_download_text(log),),
        source=log.get_channel_display(),
        download=log,
    )


def _import_row(upload: ImportUpload) -> ReviewRow:
    outcomes = join_items(
        [f"{Referral.Outcome(code).label} {count}" for code, count in upload.outcome_counts.items()]
    )
    text = _("%(file)s: %(rows)s referrals imported (%(outcomes)s)") % {
        "file": upload.file_name,
        "rows": upload.row_count,
        "outcomes": outcomes,
    }
    return ReviewRow(
        upload.imported_at, ReviewKind.IMPORT, upload.uploaded_by.get_username(), texts=(text,)
    )


def _sign_in_row(failure: AccessFailureLog) -> ReviewRow:
    if failure.locked_out:
        text = _("password or code refused; the limit was reached and sign-in is locked")
    else:
        text = _("password or code refused")
    return ReviewRow(
        failure.attempt_time,
        ReviewKind.SIGN_IN,
        failure.username or "",
        texts=(text,),
        source=" ".join(filter(None, (failure.ip_address, failure.path_info))),
        locked_out=failure.locked_out,
    )


def _rows_of(queryset, row):
    """A reader of rows by id: ``row`` of each object ``ids`` names in ``queryset``."""

    def read(ids) -> dict:
        return {obj.pk: row(obj) for obj in queryset.in_bulk(ids).values()}

    return read


_ROW_READERS = {
    ReviewKind.CHANGE: _change_rows,
    ReviewKind.VIEW: _rows_of(RecordView.objects.select_related("viewer", "referral"), _view_row),
    ReviewKind.DOWNLOAD: _rows_of(
        ExportLog.objects.select_related("exported_by", "site"), _download_row
    ),
    ReviewKind.IMPORT: _rows_of(ImportUpload.objects.select_related("uploaded_by"), _import_row),
    ReviewKind.SIGN_IN: _rows_of(AccessFailureLog.objects.all(), _sign_in_row),
}


def review_rows(entries) -> list[ReviewRow]:
    """The rows of a page of ``review_entries``, in its order.

    One query per kind of entry on the page, and four more for changes (the events before them,
    and the users, sites and protocol versions their texts name): at most nine, whatever the
    page holds.
    """
    ids_by_kind = {}
    for kind, pk, _at in entries:
        ids_by_kind.setdefault(kind, []).append(pk)
    rows = {kind: _ROW_READERS[kind](ids) for kind, ids in ids_by_kind.items()}
    return [rows[kind][pk] for kind, pk, _at in entries if pk in rows[kind]]
