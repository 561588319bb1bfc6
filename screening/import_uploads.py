"""Import in the browser: a file is uploaded, previewed, and imported on confirmation.

The file is kept server-side (``ImportUpload``) between the preview and the confirmation, bound
to its uploader and the session that uploaded it, for ``UPLOAD_LIFETIME`` at most. The preview
and the import read it with the command's own ``imports.read_content`` and
``imports.validate_numbered_rows``, so the browser and ``manage.py import_referrals`` refuse
exactly the same rows; the import itself is ``services.referrals_create``.

The state changes of an upload live here rather than in ``services.py``: they concern the
upload only, and the referrals are still created by the one service that creates them.
"""

import datetime
import hashlib
from collections import Counter
from dataclasses import dataclass, field

import pghistory
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from screening import display, persons, rules, services
from screening.imports import ImportFileError, RowError, read_content, validate_numbered_rows
from screening.models import ImportUpload, ProtocolVersion, Referral

# An upload not confirmed within this time is refused and deleted.
UPLOAD_LIFETIME = datetime.timedelta(hours=1)
# The largest file the import page accepts (the command has no limit of its own).
MAX_UPLOAD_BYTES = 5 * 1024 * 1024


class UploadExpired(Exception):
    """The upload is older than ``UPLOAD_LIFETIME``: the file must be uploaded again."""


def discard_expired(*, now=None) -> int:
    """Delete the uploads older than ``UPLOAD_LIFETIME`` that were never imported; return how
    many. Runs on every new upload and in the daily ``send_reminders``, so no file outlives its
    hour by more than a day. One query."""
    cutoff = (now or timezone.now()) - UPLOAD_LIFETIME
    deleted, _by_model = ImportUpload.objects.filter(
        status=ImportUpload.Status.PREVIEWED, created_at__lt=cutoff
    ).delete()
    return deleted


def import_upload_create(*, user, session_key: str, file_name: str, content: bytes):
    """Keep an uploaded file for its preview; expired uploads are discarded first."""
    discard_expired()
    return ImportUpload.objects.create(
        uploaded_by=user,
        session_digest=ImportUpload.digest_of(session_key),
        file_name=file_name,
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
    )


def is_expired(upload: ImportUpload, *, now=None) -> bool:
    return (now or timezone.now()) - upload.created_at > UPLOAD_LIFETIME


@dataclass
class PreviewRow:
    number: int
    site: str = ""
    hospital_number: str = ""
    full_name: str = ""
    outcome: str = ""
    outcome_label: str = ""
    criteria: list = field(default_factory=list)  # display.CriterionRow, protocol order
    problems: list[RowError] = field(default_factory=list)
    previous_referral: str = ""  # the screening number a re-referral follows on, if seen
    re_referral: bool = False
    possible_duplicate: bool = False


@dataclass
class Preview:
    """What importing the file would do: every row with its outcome and twelve results, or
    its problems; ``file_error`` when the file as a whole cannot be read."""

    rows: list[PreviewRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    file_error: str = ""
    clean: list[dict] = field(default_factory=list)  # the data referrals_create would get
    imported: list[Referral] = field(default_factory=list)  # once confirmed

    @property
    def row_count(self) -> int:
        return len(self.rows)

    @property
    def importable(self) -> bool:
        return not self.file_error and not self.errors and bool(self.clean)

    def outcome_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(row.outcome for row in self.rows if row.outcome).items()))

    def outcome_summary(self) -> list[tuple[str, str, int]]:
        """(code, label, count) of each outcome, in the order of ``Referral.Outcome``."""
        counts = self.outcome_counts()
        return [
            (code, label, counts[code])
            for code, label in Referral.Outcome.choices
            if code in counts
        ]

    @property
    def re_referrals(self) -> list[PreviewRow]:
        return [row for row in self.rows if row.re_referral]

    @property
    def possible_duplicates(self) -> list[PreviewRow]:
        return [row for row in self.rows if row.possible_duplicate]


def preview(upload: ImportUpload, *, sites, visible_site_ids) -> Preview:
    """Validate and evaluate the upload's rows as the command would, saving nothing.

    ``sites`` are those the user may import for (another site's row is a row error);
    ``visible_site_ids`` those whose screening numbers the preview may name (None: all).
    Queries: those of ``validate_rows`` and two for the person checks of section 3a.
    """
    try:
        rows = read_content(bytes(upload.content), upload.file_name)
    except ImportFileError as error:
        return Preview(file_error=str(error))
    protocol = ProtocolVersion.current()
    numbered, errors = validate_numbered_rows(rows, protocol=protocol, sites=sites)
    limits = protocol.limits()
    shown = {number: PreviewRow(number) for number in range(1, len(rows) + 1)}
    for error in errors:
        shown[error.row].problems.append(error)
    people = [persons.Person.from_data(data) for _number, data in numbered]
    findings = persons.check(people, visible_site_ids=visible_site_ids)
    previous_numbers = dict(
        Referral.objects.filter(
            pk__in={finding.previous_id for finding in findings if finding.previous_id},
            **({} if visible_site_ids is None else {"site_id__in": visible_site_ids}),
        ).values_list("pk", "screening_number")
    )
    for (number, data), finding in zip(numbered, findings, strict=True):
        row = shown[number]
        row.site = data["site"].name
        row.hospital_number = data["hospital_number"]
        row.full_name = data["full_name"]
        result = rules.evaluate(Referral(**data).snapshot(), limits)
        results = {criterion.code: criterion.to_json() for criterion in result.results}
        row.outcome = str(result.outcome)
        row.outcome_label = Referral.Outcome(row.outcome).label
        row.criteria = display.criterion_rows(results, limits)
        row.re_referral = finding.previous_id is not None
        row.previous_referral = previous_numbers.get(finding.previous_id, "")
        row.possible_duplicate = finding.possible_duplicate
    return Preview(
        rows=list(shown.values()),
        errors=errors,
        clean=[data for _number, data in numbered] if not errors else [],
    )


class ImportRefused(Exception):
    """The file no longer imports as previewed; ``preview`` says why."""

    def __init__(self, preview: Preview, message: str = ""):
        super().__init__(message)
        self.preview = preview
        self.message = message


def import_upload_confirm(*, upload: ImportUpload, user, sites, visible_site_ids) -> Preview:
    """Validate the upload again and import every row through ``services.referrals_create``, in
    one transaction: all of them, or none with ``ImportRefused`` naming the new problems.

    The upload is locked first, so a second confirmation waits and then finds it imported.
    Its content is emptied; the row stays as the import's record (audited), and the referrals'
    audit events name the file.
    """
    with transaction.atomic():
        locked = ImportUpload.objects.select_for_update().get(pk=upload.pk)
        if locked.status != ImportUpload.Status.PREVIEWED:
            raise ImportRefused(Preview(), _("This file has already been imported."))
        checked = preview(locked, sites=sites, visible_site_ids=visible_site_ids)
        if not checked.importable:
            raise ImportRefused(checked, _("Nothing was imported: the file no longer passes."))
        try:
            with pghistory.context(import_file=locked.file_name, import_upload=locked.pk):
                referrals = services.referrals_create(rows=checked.clean, user=user)
        except services.WorkflowError as refusal:
            # Someone referred one of these people between the check and the save.
            raise ImportRefused(checked, f"{refusal} " + _("Nothing was imported.")) from refusal
        except IntegrityError as clash:
            # The same, caught by the one-open-referral constraint.
            message = _("Someone referred one of these patients meanwhile. Nothing was imported.")
            raise ImportRefused(checked, message) from clash
        locked.status = ImportUpload.Status.IMPORTED
        locked.content = b""
        locked.row_count = len(referrals)
        locked.imported_at = timezone.now()
        locked.outcome_counts = dict(sorted(Counter(r.outcome for r in referrals).items()))
        locked.save(
            update_fields=["status", "content", "row_count", "imported_at", "outcome_counts"]
        )
    upload.__dict__.update(locked.__dict__)
    checked.imported = referrals
    return checked
