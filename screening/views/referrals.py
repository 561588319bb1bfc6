"""Referrals: the list, entry and edit beside the live eligibility panel, the referral page, its
history and withdrawal."""

import copy
import functools

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from screening import access, audit, display, filters, persons, reports, services
from screening.forms.referrals import (
    PREGNANCY_QUESTION_ID,
    ReferralForm,
    WithdrawalForm,
    referral_form_helper,
)
from screening.models import Enrolment, ProtocolVersion, Referral

Status = Referral.Status

LIST_PAGE_SIZE = 50


@require_GET
def referral_list(request):
    """Filtered, searched, sorted and paginated; constant queries whatever the row count."""
    visible = access.referrals_for_user(request.user)
    filterset = filters.ReferralFilter(
        request.GET or None, queryset=visible.select_related("site"), request=request
    )
    # Page over ids first: a deep OFFSET then reads only the index, and the page's 50 rows
    # are fetched by id (one more query, whatever the page number).
    page = Paginator(filterset.qs.values_list("pk", flat=True), LIST_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    rows = (
        visible.select_related("site", "enrolment", "evaluation")
        .defer("evaluation__snapshot")
        .in_bulk(list(page.object_list))
    )
    page.object_list = [rows[pk] for pk in page.object_list]
    today = timezone.localdate()
    for referral in page.object_list:
        referral.why = display.why(referral.evaluation.results)
        referral.days_waiting = (
            (today - referral.referral_date).days
            if referral.status in Referral.OPEN_STATUSES
            else None
        )
    counts = reports.status_counts(visible)
    context = {
        "filter": filterset,
        "page": page,
        "sort_headers": _sort_headers(request.GET),
        "status_counts": [(status, label, counts[status]) for status, label in Status.choices],
        "may_create": access.may_create_referral(request.user),
    }
    return render(request, "referrals/list.html", context)


# The list's sortable columns (``filters.SORTS``), each header a link that sorts by it, and
# sorts the other way when it already does.
SORTABLE_COLUMNS = (
    "screening_number",
    "referral_date",
    "site",
    "age",
    "outcome",
    "status",
    "days_waiting",
)


def _sort_headers(query) -> dict[str, dict]:
    """For each sortable column: the address that sorts by it and its ``aria-sort``."""
    current = query.get("sort") or "-referral_date"
    current = filters.SORT_ALIASES.get(current, current)
    headers = {}
    for column in SORTABLE_COLUMNS:
        params = query.copy()
        params.pop("page", None)
        params["sort"] = f"-{column}" if current == column else column
        state = {column: "ascending", f"-{column}": "descending"}.get(current)
        headers[column] = {"url": f"?{params.urlencode()}", "state": state}
    return headers


def _form_page(request, form, *, referral=None):
    """The referral form beside the live panel; an unbound form shows its instance judged
    (a blank referral, or the stored one when editing)."""
    if form.is_bound:
        panel = display.live_panel(form)
        if referral is not None:
            panel["approval"] = display.approval_effect(referral, form, panel["outcome"])
    else:
        panel = display.blank_form_panel(form)
        if referral is not None and referral.status == Status.MDT_APPROVED:
            panel["approval"] = {"kept": True, "changed": False, "reasons": []}
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
    except services.WorkflowError as refusal:
        form.add_error(None, str(refusal))
        return _form_page(request, form)
    messages.success(
        request,
        _("Referral %(number)s saved: %(outcome)s.")
        % {"number": referral.screening_number, "outcome": referral.get_outcome_display()},
    )
    return redirect("referral_detail", screening_number=referral.screening_number)


def _refusals_shown_on_the_referral_page(view):
    """A refusal of the workflow (``services.WorkflowError``, for example a referral closed by
    someone else since the page was opened) leads to the referral page, which shows it."""

    @functools.wraps(view)
    def refusals_shown(request, screening_number):
        try:
            return view(request, screening_number)
        except services.WorkflowError as refusal:
            messages.error(request, str(refusal))
            return redirect("referral_detail", screening_number=screening_number)

    return refusals_shown


@require_http_methods(["GET", "POST"])
@_refusals_shown_on_the_referral_page
def referral_edit(request, screening_number):
    user = request.user
    referral = access.referral_for_user(user, screening_number, action=access.EDIT)
    services.ensure_editable(referral)
    # A ModelForm writes what it cleans into its instance; the form gets a copy so that the
    # service still sees the stored values and records exactly which fields changed.
    form = ReferralForm(
        request.POST if request.method == "POST" else None,
        instance=copy.copy(referral),
        protocol=ProtocolVersion.current(),
        sites=access.editable_sites(user),
        ask_change_reason=True,
    )
    if not form.is_bound or not form.is_valid():
        return _form_page(request, form, referral=referral)
    was_approved = referral.status == Status.MDT_APPROVED
    services.referral_update(
        referral=referral,
        data=form.clinical_data(),
        change_reason=form.cleaned_data["change_reason"],
        user=user,
    )
    if was_approved and referral.status == Status.MDT_APPROVED:
        message = _("Referral %(number)s updated: the MDT's approval stands on the new data.")
    elif was_approved:
        message = _(
            "Referral %(number)s updated: the MDT's approval no longer holds; the referral is "
            "now %(status)s."
        )
    else:
        message = _("Referral %(number)s updated: %(outcome)s.")
    messages.success(
        request,
        message
        % {
            "number": referral.screening_number,
            "outcome": referral.get_outcome_display(),
            "status": referral.get_status_display(),
        },
    )
    return redirect("referral_detail", screening_number=referral.screening_number)


@require_POST
def referral_evaluate(request):
    """The live eligibility panel for the posted form data; nothing is saved.

    ``?referral=<screening number>`` evaluates an edit of that referral (so the referral does
    not count as its own duplicate).
    """
    user = request.user
    stored = None
    if number := request.GET.get("referral"):
        stored = access.referral_for_user(user, number, action=access.EDIT)
    else:
        access.require_referral_creator(user)
    form = ReferralForm(
        request.POST,
        instance=copy.copy(stored) if stored else None,
        protocol=ProtocolVersion.current(),
        sites=access.editable_sites(user),
    )
    form.is_valid()
    panel = display.live_panel(form)
    if stored is not None:
        panel["approval"] = display.approval_effect(stored, form, panel["outcome"])
    return render(request, "referrals/eligibility_panel.html", {"panel": panel})


@require_GET
def referral_detail(request, screening_number):
    user = request.user
    referral = access.referral_for_user(user, screening_number)
    services.record_view_create(user=user, kind="referral", referral=referral)
    evaluation = referral.evaluation
    results = evaluation.results
    limits = evaluation.protocol_version.limits()
    criteria = display.criterion_rows(results, limits)
    may_act = access.may_edit_referral(user, referral) and not referral.is_closed
    earlier, duplicates = persons.related(referral, visible_site_ids=access.visible_site_ids(user))
    history = display.history(referral)
    signatures = list(referral.signatures.all())
    decisions = display.decisions_shown(referral, signatures, limits)
    current = next((shown for shown in decisions if shown.state == "current"), None)
    enrolment = (
        Enrolment.objects.filter(referral=referral).first()
        if referral.status == Status.ENROLLED
        else None
    )
    context = {
        "referral": referral,
        "evaluation": evaluation,
        "headline": display.headline(
            referral,
            current=current,
            enrolment=enrolment,
            today=timezone.localdate(),
        ),
        "enrolment": enrolment,
        "decisions": decisions,
        "may_decide": access.is_mdt_member(user),
        "outcome_sentence": display.outcome_sentence(evaluation.outcome, criteria),
        "criteria": criteria,
        "todo": display.todo_items(results, limits),
        "stage_group": display.stage_group_text(referral.stage_group()),
        "sections": display.clinical_sections(referral, labs_source=history.labs_source),
        "status_history": history.status_changes,
        "may_act": may_act,
        "withdraw_form": WithdrawalForm() if may_act else None,
        "signatures": signatures,
        "earlier_referrals": earlier,
        "possible_duplicates": duplicates,
    }
    return render(request, "referrals/detail.html", context)


@require_GET
def referral_history(request, screening_number):
    """Every recorded change of the referral in plain words; whoever may see the referral."""
    referral = access.referral_for_user(request.user, screening_number)
    services.record_view_create(user=request.user, kind="history", referral=referral)
    context = {"referral": referral, "lines": audit.referral_history(referral)}
    return render(request, "mdt/history.html", context)


@require_http_methods(["GET", "POST"])
@_refusals_shown_on_the_referral_page
def referral_withdraw(request, screening_number):
    """GET asks for confirmation and the reason; POST withdraws (irreversible)."""
    referral = access.referral_for_user(request.user, screening_number, action=access.EDIT)
    services.ensure_withdrawable(referral)
    form = WithdrawalForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        services.referral_withdraw(referral=referral, user=request.user, **form.cleaned_data)
        messages.success(
            request, _("Referral %(number)s withdrawn.") % {"number": referral.screening_number}
        )
        return redirect("referral_detail", screening_number=referral.screening_number)
    return render(request, "referrals/withdraw.html", {"referral": referral, "form": form})
