"""The dashboard, the CONSORT flow report and the audit review."""

import hashlib

from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from screening import (
    access,
    audit_review,
    consort,
    consort_diagram,
    consort_image,
    exports,
    kept,
    reports,
)
from screening.filters import AuditFilterForm
from screening.forms.exports import ExportFilterForm
from screening.models import Role

AUDIT_PAGE_SIZE = 50


@require_GET
def dashboard(request):
    """Counts by status and site, enrolment against target and what awaits the user.

    The figures read every referral the user may see: they are worked out and drawn once a
    database snapshot for each scope (the sites seen and what awaits), one query otherwise.
    """
    user = request.user
    site_ids = access.visible_site_ids(user)
    with_incomplete = access.may_create_referral(user)
    with_mdt_queue = access.is_mdt_member(user)
    sites = "all" if site_ids is None else ",".join(map(str, sorted(site_ids)))
    figures = kept.kept_fragment(
        f"dashboard:{sites}:{with_incomplete:d}{with_mdt_queue:d}:{timezone.localdate()}",
        "screening/dashboard_figures.html",
        lambda: reports.dashboard(
            referrals=access.referrals_for_user(user),
            sites=access.sites_for_user(user),
            with_incomplete=with_incomplete,
            with_mdt_queue=with_mdt_queue,
        ),
    )
    return render(request, "screening/dashboard.html", {"figures": figures})


def _scope(form: ExportFilterForm) -> consort.Scope:
    """The referrals the valid filter form selects, as the report's scope."""
    return consort.Scope(**form.cleaned_data)


@require_GET
@access.roles_required(Role.ADMIN, Role.MDT)
def consort_page(request):
    """The flow diagram of all sites or one, beside the table of every number by site, for the
    referrals the filter of the exports page selects (site and referral dates)."""

    def flow():
        form = ExportFilterForm(request.GET or None)
        context = {"form": form}
        if not form.is_bound or form.is_valid():
            report = consort.consort_report(_scope(form) if form.is_bound else None)
            site = report.scope.site
            if site:
                table = consort.flow_table([report.overall], report.limits)
                columns, rows = [site.display_name], table
            else:
                columns = [_("All sites"), *(each.display_name for each, _flow in report.by_site)]
                rows = consort.table_rows(report)
            context |= {
                "report": report,
                "site": site,
                "diagram": consort_diagram.diagram(report, site),
                "columns": columns,
                "rows": rows,
            }
        return context

    query = hashlib.sha256(request.GET.urlencode().encode()).hexdigest()
    content = kept.kept_fragment(f"consort-page:{query}", "reports/consort_content.html", flow)
    return render(request, "reports/consort.html", {"content": content})


def _diagram_download(request, file_format: str):
    """The diagram of the referrals the query selects as an ``svg`` or ``png`` file."""
    form = ExportFilterForm(request.GET)
    if not form.is_valid():
        messages = [message for errors in form.errors.values() for message in errors]
        return HttpResponseBadRequest(" ".join(messages), content_type="text/plain; charset=utf-8")
    scope = _scope(form)
    report = consort.consort_report(scope)
    diagram = consort_diagram.diagram(report, scope.site)
    if file_format == "svg":
        content = render_to_string("reports/consort_diagram.svg", {"diagram": diagram}, request)
        content_type = "image/svg+xml; charset=utf-8"
    else:
        content, content_type = consort_image.png(diagram), "image/png"
    response = HttpResponse(content, content_type=content_type)
    name = "-".join(
        part
        for part in (
            "consort",
            scope.site.code if scope.site else "",
            f"from-{scope.referred_from.isoformat()}" if scope.referred_from else "",
            f"to-{scope.referred_to.isoformat()}" if scope.referred_to else "",
        )
        if part
    )
    response["Content-Disposition"] = content_disposition_header(
        True, exports.export_filename(name, file_format)
    )
    return response


@require_GET
@access.roles_required(Role.ADMIN, Role.MDT)
def consort_svg(request):
    """The diagram as an SVG file, to put in a report to the sponsor or ethics committee."""
    return _diagram_download(request, "svg")


@require_GET
@access.roles_required(Role.ADMIN, Role.MDT)
def consort_png(request):
    """The diagram as a PNG picture, for a word processor that takes no SVG."""
    return _diagram_download(request, "png")


@require_GET
@access.roles_required(Role.ADMIN)
def audit_page(request):
    """Changes after MDT decisions, views of identified data, downloads and failed sign-ins,
    newest first and filtered; a constant number of queries whatever the rows."""
    form = AuditFilterForm(request.GET or None)
    page = rows = None
    if not form.is_bound or form.is_valid():
        review = form.review_filter() if form.is_bound else audit_review.ReviewFilter()
        entries = audit_review.review_entries(review)
        if entries is not None:
            page = Paginator(entries, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
            rows = audit_review.review_rows(page.object_list)
    context = {"form": form, "page": page, "rows": rows}
    return render(request, "reports/audit.html", context)
