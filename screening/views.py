"""Browser views. Sign-in is required everywhere except ``healthz`` and the login page
(``LoginRequiredMiddleware``); who may see or change a referral is decided in ``access``."""

import copy

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.paginator import Paginator
from django.db import IntegrityError, connection
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from screening import access, display, reports, rules, services
from screening.filters import ReferralFilter
from screening.forms import ReferralForm
from screening.models import Enrolment, ProtocolVersion, Referral
from screening.web_forms import PREGNANCY_QUESTION_ID, WithdrawalForm, referral_form_helper

Status = Referral.Status

LIST_PAGE_SIZE = 50
DASHBOARD_ACTION_ROWS = 10


@login_not_required
@require_GET
def healthz(request):
    """200 ``ok`` when the database answers; no sign-in needed."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok", content_type="text/plain")


def _status_counts(referrals) -> dict[str, int]:
    """Referrals per status code, every status present (one query)."""
    counts = dict(referrals.order_by().values_list("status").annotate(n=Count("id")))
    return {status: counts.get(status, 0) for status in Status.values}


@require_GET
def dashboard(request):
    """Counts by status and site, enrolment against target and what awaits the user.

    Constant number of queries whatever the number of referrals.
    """
    user = request.user
    visible = access.referrals_for_user(user)
    by_site_status = {}
    for site_id, status, count in (
        visible.order_by().values_list("site_id", "status").annotate(n=Count("id"))
    ):
        by_site_status[site_id, status] = count
    sites = list(access.sites_for_user(user))
    site_rows = [
        {
            "site": site,
            "counts": [by_site_status.get((site.id, status), 0) for status in Status.values],
            "total": sum(n for (site_id, _s), n in by_site_status.items() if site_id == site.id),
        }
        for site in sites
    ]
    totals = {
        status: sum(by_site_status.get((site.id, status), 0) for site in sites)
        for status in Status.values
    }
    status_totals = [
        {"status": status, "label": label, "count": totals[status]}
        for status, label in Status.choices
    ]
    protocol = ProtocolVersion.current()
    enrolled = Enrolment.objects.count()
    incomplete = None
    if access.may_create_referral(user):
        waiting = visible.filter(status=Status.SCREENING).select_related("site")
        incomplete = {
            "count": totals[Status.SCREENING],
            "referrals": list(waiting.order_by("referral_date", "id")[:DASHBOARD_ACTION_ROWS]),
        }
    mdt_queue = None
    if access.is_mdt_member(user):
        mdt_queue = {"count": totals[Status.MDT_REVIEW]}
    context = {
        "statuses": Status.choices,
        "status_totals": status_totals,
        "total": sum(totals.values()),
        "site_rows": site_rows,
        "enrolment": {
            "enrolled": enrolled,
            "target": protocol.enrolment_target,
            "percent": min(100, round(100 * enrolled / protocol.enrolment_target)),
        },
        "protocol": protocol,
        "incomplete": incomplete,
        "mdt_queue": mdt_queue,
        "accrual": reports.accrual_chart(protocol),
        "median_days_to_decision": reports.median_days_to_decision(),
    }
    return render(request, "screening/dashboard.html", context)


@require_GET
def referral_list(request):
    """Filtered, searched, sorted and paginated; constant queries whatever the row count."""
    visible = access.referrals_for_user(request.user)
    filterset = ReferralFilter(
        request.GET or None, queryset=visible.select_related("site"), request=request
    )
    # Page over ids first: a deep OFFSET then reads only the index, and the page's 50 rows
    # are fetched by id (one more query, whatever the page number).
    page = Paginator(filterset.qs.values_list("pk", flat=True), LIST_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    rows = visible.select_related("site").in_bulk(list(page.object_list))
    page.object_list = [rows[pk] for pk in page.object_list]
    counts = _status_counts(visible)
    context = {
        "filter": filterset,
        "page": page,
        "status_counts": [(status, label, counts[status]) for status, label in Status.choices],
        "may_create": access.may_create_referral(request.user),
    }
    return render(request, "referrals/list.html", context)


def _panel(snapshot: rules.Snapshot, protocol: ProtocolVersion, *, invalid=(), unfilled=()) -> dict:
    """The live panel's context: the twelve criteria judged on ``snapshot``, nothing saved.

    ``invalid`` and ``unfilled`` are (field name, label) pairs: values refused by the form, and
    required fields still empty (the referral cannot be saved without them).
    """
    evaluation = rules.evaluate(snapshot, protocol.limits()).to_json()
    results = {result["code"]: result for result in evaluation["results"]}
    return {
        "outcome": evaluation["outcome"],
        "outcome_label": Referral.Outcome(evaluation["outcome"]).label,
        "outcome_sentence": display.OUTCOME_SENTENCES[evaluation["outcome"]],
        "criteria": display.criterion_rows(results),
        "todo": display.todo_items(results),
        "invalid_fields": list(invalid),
        "unfilled_fields": list(unfilled),
        "stage_group": display.stage_group_text(
            snapshot.histology, snapshot.ct, snapshot.cn, snapshot.cm
        ),
    }


def _live_panel(form: ReferralForm) -> dict:
    """The panel for a bound form after validation: whatever is valid is judged.

    A field with an error counts as not given, so the criteria it feeds show as unknown while
    the rest are judged on what the user typed.
    """
    valid = {
        name: value
        for name, value in form.cleaned_data.items()
        if name not in form.errors
        # An analyte whose unit was refused was never converted to SI: leave it out.
        and f"{name}_unit" not in form.errors
    }
    invalid, unfilled = [], []
    for name, errors in form.errors.as_data().items():
        if name in form.fields:
            empty = all(error.code == "required" for error in errors)
            (unfilled if empty else invalid).append((name, str(form.fields[name].label)))
    snapshot = Referral(**valid).snapshot()
    return _panel(snapshot, form.protocol, invalid=invalid, unfilled=unfilled)


def _blank_form_panel(form: ReferralForm) -> dict:
    """The panel for an unbound form: its instance judged, with the required fields that have
    no initial value listed as still to fill."""
    unfilled = [
        (name, str(field.label))
        for name, field in form.fields.items()
        if field.required and form.get_initial_for_field(field, name) in (None, "")
    ]
    return _panel(form.instance.snapshot(), form.protocol, unfilled=unfilled)


def _form_page(request, form, *, referral=None):
    """The referral form beside the live panel; an unbound form shows its instance judged
    (a blank referral, or the stored one when editing)."""
    panel = _live_panel(form) if form.is_bound else _blank_form_panel(form)
    context = {
        "form": form,
        "helper": referral_form_helper(),
        "referral": referral,
        "panel": panel,
        "pregnancy_question_id": PREGNANCY_QUESTION_ID,
    }
    return render(request, "referrals/form.html", context)


@require_http_methods(["GET", "POST"])
def referral_create(request):
    user = request.user
    access.require_referral_creator(user)
    protocol = ProtocolVersion.current()
    sites = access.editable_sites(user)
    if request.method == "GET":
        only_site = list(sites[:2])
        initial = {"site": only_site[0].code} if len(only_site) == 1 else {}
        return _form_page(request, ReferralForm(protocol=protocol, sites=sites, initial=initial))
    form = ReferralForm(request.POST, protocol=protocol, sites=sites)
    if not form.is_valid():
        return _form_page(request, form)
    try:
        referral = services.referral_create(data=form.clinical_data(), user=user)
    except IntegrityError:
        # Someone saved an open referral for the same patient between validation and save.
        form.add_error(
            "hospital_number", _("This patient already has an open referral at this site.")
        )
        return _form_page(request, form)
    messages.success(
        request,
        _("Referral %(number)s saved: %(outcome)s.")
        % {"number": referral.screening_number, "outcome": referral.get_outcome_display()},
    )
    return redirect("referral_detail", screening_number=referral.screening_number)


def _back_to_referral(request, referral, message):
    """The referral page with ``message`` as an error: the action is refused by the workflow."""
    messages.error(request, message)
    return redirect("referral_detail", screening_number=referral.screening_number)


@require_http_methods(["GET", "POST"])
def referral_edit(request, screening_number):
    user = request.user
    referral = access.referral_for_user(user, screening_number, action=access.EDIT)
    if referral.is_closed:
        return _back_to_referral(
            request,
            referral,
            _("%(number)s is %(status)s; its data can no longer change.")
            % {"number": referral.screening_number, "status": referral.get_status_display()},
        )
    protocol = ProtocolVersion.current()
    sites = access.editable_sites(user)
    # A ModelForm writes what it cleans into its instance; the form gets a copy so that the
    # service still sees the stored values and records exactly which fields changed.
    form = ReferralForm(
        request.POST if request.method == "POST" else None,
        instance=copy.copy(referral),
        protocol=protocol,
        sites=sites,
    )
    if request.method == "GET":
        return _form_page(request, form, referral=referral)
    if not form.is_valid():
        return _form_page(request, form, referral=referral)
    try:
        services.referral_update(referral=referral, data=form.clinical_data(), user=user)
    except services.WorkflowError as refusal:
        # Closed by someone else since the page was opened.
        return _back_to_referral(request, referral, str(refusal))
    messages.success(
        request,
        _("Referral %(number)s updated: %(outcome)s.")
        % {"number": referral.screening_number, "outcome": referral.get_outcome_display()},
    )
    return redirect("referral_detail", screening_number=referral.screening_number)


@require_POST
def referral_evaluate(request):
    """The live eligibility panel for the posted form data; nothing is saved.

    ``?referral=<screening number>`` evaluates an edit of that referral (so the referral does
    not count as its own duplicate).
    """
    user = request.user
    instance = None
    if number := request.GET.get("referral"):
        instance = copy.copy(access.referral_for_user(user, number, action=access.EDIT))
    else:
        access.require_referral_creator(user)
    form = ReferralForm(
        request.POST,
        instance=instance,
        protocol=ProtocolVersion.current(),
        sites=access.editable_sites(user),
    )
    form.is_valid()
    return render(request, "referrals/eligibility_panel.html", {"panel": _live_panel(form)})


@require_GET
def referral_detail(request, screening_number):
    user = request.user
    referral = access.referral_for_user(user, screening_number)
    evaluation = referral.evaluation
    results = evaluation.results
    may_act = access.may_edit_referral(user, referral) and not referral.is_closed
    context = {
        "referral": referral,
        "evaluation": evaluation,
        "outcome_sentence": display.OUTCOME_SENTENCES[referral.outcome],
        "criteria": display.criterion_rows(results),
        "todo": display.todo_items(results),
        "stage_group": display.stage_group_text(
            referral.histology, referral.ct, referral.cn, referral.cm
        ),
        "sections": display.clinical_sections(referral),
        "status_history": display.status_history(referral),
        "may_act": may_act,
        "withdraw_form": WithdrawalForm() if may_act else None,
    }
    return render(request, "referrals/detail.html", context)


@require_http_methods(["GET", "POST"])
def referral_withdraw(request, screening_number):
    """GET asks for confirmation and the reason; POST withdraws (irreversible)."""
    user = request.user
    referral = access.referral_for_user(user, screening_number, action=access.EDIT)
    if referral.is_closed:
        return _back_to_referral(
            request,
            referral,
            _("%(number)s is %(status)s and cannot be withdrawn.")
            % {"number": referral.screening_number, "status": referral.get_status_display()},
        )
    form = WithdrawalForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        reason = form.cleaned_data["reason"]
        try:
            services.referral_withdraw(referral=referral, reason=reason, user=user)
        except services.WorkflowError as refusal:
            # Enrolled or withdrawn by someone else since the page was opened.
            return _back_to_referral(request, referral, str(refusal))
        messages.success(
            request, _("Referral %(number)s withdrawn.") % {"number": referral.screening_number}
        )
        return redirect("referral_detail", screening_number=referral.screening_number)
    return render(request, "referrals/withdraw.html", {"referral": referral, "form": form})
