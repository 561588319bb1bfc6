"""Referrals: the list, entry and edit beside the live eligibility panel, the referral page, its
history and withdrawal."""

import copy
import functools

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from screening import access, audit, display, persons, reports, services
from screening.filters import ReferralFilter
from screening.forms.referrals import (
    PREGNANCY_QUESTION_ID,
    ReferralForm,
    WithdrawalForm,
    referral_form_helper,
)
from screening.models import ProtocolVersion, Referral

Status = Referral.Status

LIST_PAGE_SIZE = 50


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
    counts = reports.status_counts(visible)
    context = {
        "filter": filterset,
        "page": page,
        "status_counts": [(status, label, counts[status]) for status, label in Status.choices],
        "may_create": access.may_create_referral(request.user),
    }
    return render(request, "referrals/list.html", context)


def _form_page(request, form, *, referral=None):
    """The referral form beside the live panel; an unbound form shows its instance judged
    (a blank referral, or the stored one when editing)."""
    panel = display.live_panel(form) if form.is_bound else display.blank_form_panel(form)
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
    return render(request, "referrals/eligibility_panel.html", {"panel": display.live_panel(form)})


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
    context = {
        "referral": referral,
        "evaluation": evaluation,
        "outcome_sentence": display.outcome_sentence(evaluation.outcome, criteria),
        "criteria": criteria,
        "todo": display.todo_items(results, limits),
        "stage_group": display.stage_group_text(referral.stage_group()),
        "sections": display.clinical_sections(referral),
        "status_history": display.status_history(referral),
        "may_act": may_act,
        "withdraw_form": WithdrawalForm() if may_act else None,
        "signatures": list(referral.signatures.all()),
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
