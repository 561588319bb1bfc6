"""Data managers' downloads.

Downloads stream: CSV row by row, XLSX through a temporary file, so a server's memory does not
grow with the screening log. Every download is recorded (``ExportLog``) before it starts and
marked delivered once its last chunk is out, or failed.
"""

import io
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Count, Q
from django.http import (
    FileResponse,
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.utils.http import content_disposition_header
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from screening import access, dictionary, exports, odm, services, writers
from screening.forms.exports import ExportFilterForm
from screening.models import ExportLog, Referral, Role

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Export:
    kind: str  # ExportLog.Kind, whose label is the export's title
    description: str
    columns: tuple[str, ...]
    rows: Callable  # the row builder the command-line exports use too
    enrolled_only: bool = False
    identifying: bool = False

    @property
    def title(self) -> str:
        return ExportLog.Kind(self.kind).label

    @property
    def slug(self) -> str:
        """In the URL and the file name: ``screening-log`` for ``screening_log``."""
        return self.kind.replace("_", "-")

    def count(self, referrals) -> int:
        if self.enrolled_only:
            referrals = referrals.filter(enrolment__isnull=False)
        return referrals.count()


EXPORTS = {
    export.kind: export
    for export in (
        Export(
            kind=ExportLog.Kind.ENROLMENT,
            description=_(
                "Enrolled participants in study-number order: dates of consent, enrolment and "
                "MDT approval, age, sex, histology, cTNM and stage group."
            ),
            columns=exports.ENROLMENT_COLUMNS,
            rows=exports.enrolment_rows,
            enrolled_only=True,
        ),
        Export(
            kind=ExportLog.Kind.SCREENING_LOG,
            description=_(
                "Every referral with its outcome, the twelve results and reasons, the protocol "
                "version, the MDT decision and the study number. Pseudonymous."
            ),
            columns=exports.SCREENING_LOG_COLUMNS,
            rows=exports.screening_log_rows,
        ),
        Export(
            kind=ExportLog.Kind.IDENTIFICATION,
            description=_(
                "Screening and study numbers against name, hospital number and national ID "
                "(ICH E6 8.3.21). Identifying: keep it confidential."
            ),
            columns=exports.IDENTIFICATION_COLUMNS,
            rows=exports.identification_rows,
            identifying=True,
        ),
    )
}


@require_GET
@access.roles_required(Role.ADMIN)
def exports_page(request):
    """The downloads, with the filter they share and the latest downloads of anyone."""
    form = ExportFilterForm(request.GET or None)
    counts = None
    if not form.is_bound or form.is_valid():
        referrals = form.referrals() if form.is_bound else Referral.objects.all()
        counts = referrals.aggregate(
            referrals=Count("id"), enrolled=Count("id", filter=Q(enrolment__isnull=False))
        )
    rows = [
        {
            "export": export,
            "count": None
            if counts is None
            else counts["enrolled" if export.enrolled_only else "referrals"],
            "csv_url": f"export_{export.kind}_csv",
            "xlsx_url": f"export_{export.kind}_xlsx",
        }
        for export in EXPORTS.values()
    ]
    recent = ExportLog.objects.select_related("exported_by", "site")[:10]
    context = {
        "form": form,
        "rows": rows,
        "recent": recent,
        "referral_count": None if counts is None else counts["referrals"],
    }
    return render(request, "exports/index.html", context)


def _filter_errors(form) -> HttpResponseBadRequest:
    messages = [message for errors in form.errors.values() for message in errors]
    return HttpResponseBadRequest(" ".join(messages), content_type="text/plain; charset=utf-8")


@require_GET
@never_cache
@access.roles_required(Role.ADMIN)
def export_download(request, kind: str, file_format: str):
    """One export as CSV (streamed) or XLSX, for the referrals the query parameters select."""
    export = EXPORTS[kind]
    form = ExportFilterForm(request.GET)
    if not form.is_valid():
        return _filter_errors(form)
    referrals = form.referrals()
    log = services.export_log_create(
        user=request.user,
        kind=export.kind,
        file_format=file_format,
        row_count=export.count(referrals),
        **form.cleaned_data,
    )
    rows = export.rows(referrals)
    filename = exports.export_filename(export.slug, file_format)
    # In the user's language now: the file is written after this view has returned.
    headers = exports.column_headers(export.columns)
    if file_format == "csv":
        chunks = writers.csv_chunks(rows, export.columns, headers=headers)
        content_type = "text/csv; charset=utf-8"
        size = None
    else:
        # openpyxl's write-only mode keeps rows on disk until it zips them; so does this file,
        # which is deleted when it is closed.
        workbook = tempfile.TemporaryFile()  # noqa: SIM115
        try:
            writers.write_xlsx(rows, export.columns, workbook, title=export.slug, headers=headers)
        except Exception:
            workbook.close()
            services.export_log_finish(log=log, outcome=ExportLog.Outcome.FAILED, user=request.user)
            raise
        size = workbook.seek(0, io.SEEK_END)
        workbook.seek(0)
        chunks = _file_chunks(workbook)
        content_type = XLSX_CONTENT_TYPE
    # Not a FileResponse for the workbook: a server may hand a file to sendfile() and the
    # application would never learn whether its last byte went out.
    response = StreamingHttpResponse(
        _delivered_when_done(chunks, log=log, user=request.user), content_type=content_type
    )
    if size is not None:
        response["Content-Length"] = str(size)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


@require_GET
@never_cache
@access.roles_required(Role.ADMIN)
def export_odm(request):
    """The trial as a CDISC ODM 1.3.2 snapshot of the referrals the query parameters select,
    streamed as it is written (``screening.odm``); logged like every download."""
    form = ExportFilterForm(request.GET)
    if not form.is_valid():
        return _filter_errors(form)
    referrals = form.referrals()
    log = services.export_log_create(
        user=request.user,
        kind=ExportLog.Kind.ODM,
        file_format="xml",
        row_count=referrals.count(),
        **form.cleaned_data,
    )
    complete = not any(form.cleaned_data.values())
    chunks = odm.OdmExport(referrals, complete=complete).chunks()
    response = StreamingHttpResponse(
        _delivered_when_done(chunks, log=log, user=request.user),
        content_type="application/xml; charset=utf-8",
    )
    response["Content-Disposition"] = content_disposition_header(True, odm.odm_filename())
    return response


@require_GET
@access.roles_required(Role.ADMIN, Role.MDT)
def data_dictionary(request, file_format: str):
    """Every referral field and export column with its labels in English and Chinese, type,
    units, allowed values and criteria (``screening.dictionary``). It holds no patient data,
    so it is not logged."""
    rows = dictionary.rows()
    filename = exports.export_filename("data-dictionary", file_format)
    if file_format == "csv":
        content = "".join(writers.csv_chunks(rows, dictionary.COLUMNS))
        response = HttpResponse(content, content_type="text/csv; charset=utf-8")
    else:
        workbook = io.BytesIO()
        writers.write_xlsx(rows, dictionary.COLUMNS, workbook, title="data dictionary")
        response = HttpResponse(workbook.getvalue(), content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


def _file_chunks(file):
    """The file's bytes, a block at a time; the file is closed when they end or stop."""
    with file:
        while chunk := file.read(FileResponse.block_size):
            yield chunk


def _delivered_when_done(chunks, *, log: ExportLog, user):
    """Yield ``chunks``, then mark ``log`` delivered: a server asks for the next chunk only
    once it has sent the one before, so the last has gone out when the iterator ends.

    A chunk that fails to be made, or a download stopped before its end (the server closes
    the iterator when the browser goes away), marks it failed.
    """
    try:
        yield from chunks
    except BaseException:
        services.export_log_finish(log=log, outcome=ExportLog.Outcome.FAILED, user=user)
        raise
    services.export_log_finish(log=log, outcome=ExportLog.Outcome.DELIVERED, user=user)
