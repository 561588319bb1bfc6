"""The dashboard, the CONSORT flow report and the audit review."""

from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.http import content_disposition_header
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from screening import access, audit_review, consort, consort_diagram, exports, reports
from screening.filters import AuditFilterForm
from screening.models import Role, Site

AUDIT_PAGE_SIZE = 50


@require_GET
def dashboard(request):
    """Counts by status and site, enrolment against target and what awaits the user."""
    user = request.user
    context = reports.dashboard(
        referrals=access.referrals_for_user(user),
        sites=access.sites_for_user(user),
        with_incomplete=access.may_create_referral(user),
        with_mdt_queue=access.is_mdt_member(user),
    )
    return render(request, "screening/dashboard.html", context)


def _site_of(report: consort.Report, code: str | None) -> Site | None:
    """The site a ``?site=`` code names (404 for an unknown one), None for all sites."""
    if not code:
        return None
    for site, _flow in report.by_site:
        if site.code == code:
            return site
    raise Http404(_("No such site."))


@require_GET
@access.roles_required(Role.ADMIN, Role.MDT)
def consort_page(request):
    """The flow diagram of all sites or one, beside the table of every number by site."""
    report = consort.consort_report()
    site = _site_of(report, request.GET.get("site"))
    context = {
        "report": report,
        "site": site,
        "diagram": consort_diagram.diagram(report, site),
        "rows": consort.table_rows(report),
    }
    return render(request, "reports/consort.html", context)


@require_GET
@access.roles_required(Role.ADMIN, Role.MDT)
def consort_svg(request):
    """The diagram as an SVG file, to put in a report to the sponsor or ethics committee."""
    report = consort.consort_report()
    site = _site_of(report, request.GET.get("site"))
    svg = render_to_string(
        "reports/consort_diagram.svg", {"diagram": consort_diagram.diagram(report, site)}, request
    )
    response = HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")
    name = f"consort-{site.code}" if site else "consort"
    response["Content-Disposition"] = content_disposition_header(
        True, exports.export_filename(name, "svg")
    )
    return response


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
