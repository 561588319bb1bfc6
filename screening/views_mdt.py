"""The MDT queue and decision, enrolment, declined consent and the referral's audit history
(issue 4). Who may see a referral is decided in ``access``; every change is a service call."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from screening import access, audit, display, rules, services, staging
from screening.forms_mdt import DecisionForm, DeclineForm, EnrolmentForm
from screening.models import MdtDecision, Referral

Status = Referral.Status


def mdt_to_confirm(results: dict) -> list[dict]:
    """What the MDT still has to confirm: E2 while dosimetry is not assessed (PROTOCOL s. 4)."""
    deferred = results[rules.DEFERRABLE]
    if deferred["result"] != rules.UNKNOWN:
        return []
    criterion = rules.CRITERIA[rules.CODES.index(rules.DEFERRABLE)]
    reason = rules.render_reason(deferred["template"], deferred["params"])
    return [{"code": criterion.code, "text": _(criterion.text), "reason": reason}]


def _stage_group(referral: Referral) -> str:
    return staging.stage_group(
        referral.histology, referral.ct or None, referral.cn or None, referral.cm or None
    )


def _summary(referral: Referral) -> dict:
    """What the MDT reads about a candidate, from the row and its current evaluation."""
    return {
        "referral": referral,
        "age": referral.age(),
        "ctnm": f"c{referral.ct}{referral.cn}{referral.cm}",
        "stage_group": _stage_group(referral),
        "to_confirm": mdt_to_confirm(referral.evaluation.results),
    }


QUEUE_PAGE_SIZE = 50


@require_GET
def mdt_queue(request):
    """Referrals awaiting the MDT, the longest-waiting first.

    Waiting counts from the referral date, the date the patient was referred: what a patient
    has waited in all. Four queries whatever the number of referrals, 50 to a page.
    """
    if not (access.is_mdt_member(request.user) or access.is_data_manager(request.user)):
        raise PermissionDenied
    today = timezone.localdate()
    referrals = (
        Referral.objects.filter(status=Status.MDT_REVIEW)
        .select_related("site", "evaluation")
        .defer("evaluation__snapshot")
        .order_by("referral_date", "screening_number")
    )
    page = Paginator(referrals, QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        {**_summary(referral), "days_waiting": (today - referral.referral_date).days}
        for referral in page.object_list
    ]
    context = {"rows": rows, "page": page, "may_decide": access.is_mdt_member(request.user)}
    return render(request, "mdt/queue.html", context)


def _current_decision(referral: Referral):
    return (
        referral.decisions.filter(superseded_at__isnull=True).select_related("decided_by").first()
    )


@require_http_methods(["GET", "POST"])
def referral_decision(request, screening_number):
    """GET shows the candidate with the MDT-to-confirm items and the decision form; POST
    records the decision (MDT members only)."""
    user = request.user
    referral = access.referral_for_user(user, screening_number)
    if not access.is_mdt_member(user):
        raise PermissionDenied
    if request.method == "POST":
        form = DecisionForm(request.POST)
    else:
        form = DecisionForm(initial={"evaluation": referral.evaluation_id})
    if form.is_bound and form.is_valid():
        try:
            decision = services.mdt_decision_record(
                referral=referral, user=user, **form.service_arguments()
            )
        except services.WorkflowError as error:
            form.add_error(None, str(error))
        else:
            if decision.decision == MdtDecision.Decision.APPROVE:
                message = _("%(number)s approved by the MDT.")
            else:
                message = _("%(number)s rejected by the MDT.")
            messages.success(request, message % {"number": referral.screening_number})
            return redirect("mdt_queue")
    context = {
        **_summary(referral),
        "criteria": display.criterion_rows(referral.evaluation.results),
        "form": form,
        "in_review": referral.status == Status.MDT_REVIEW,
        "current_decision": _current_decision(referral),
    }
    return render(request, "mdt/decision.html", context)


def _enrolment_page(request, referral, *, enrol_form=None, decline_form=None):
    approval = _current_decision(referral) if referral.status == Status.MDT_APPROVED else None
    approved_on = timezone.localdate(approval.decided_at) if approval else None
    context = {
        **_summary(referral),
        "approval": approval,
        "enrol_form": enrol_form or EnrolmentForm(approved_on=approved_on),
        "decline_form": decline_form or DeclineForm(),
    }
    return render(request, "mdt/enrol.html", context)


@require_http_methods(["GET", "POST"])
def referral_enrol(request, screening_number):
    """GET shows the approval and the consent form; POST enrols under the next study number.

    Coordinators of the referral's site and data managers only.
    """
    user = request.user
    referral = access.referral_for_user(user, screening_number, action=access.EDIT)
    if request.method == "GET":
        return _enrolment_page(request, referral)
    form = EnrolmentForm(request.POST)
    if form.is_valid():
        try:
            enrolment = services.participant_enrol(
                referral=referral, user=user, consent_date=form.cleaned_data["consent_date"]
            )
        except services.WorkflowError as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request,
                _("%(number)s enrolled as %(study_number)s.")
                % {"number": referral.screening_number, "study_number": enrolment.study_number},
            )
            return redirect("referral_detail", screening_number=referral.screening_number)
    return _enrolment_page(request, referral, enrol_form=form)


@require_POST
def referral_decline(request, screening_number):
    """The approved patient declined consent: withdraw the referral for that reason."""
    user = request.user
    referral = access.referral_for_user(user, screening_number, action=access.EDIT)
    form = DeclineForm(request.POST)
    if form.is_valid():
        try:
            services.participant_decline(referral=referral, user=user)
        except services.WorkflowError as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request,
                _("%(number)s withdrawn: the patient declined consent.")
                % {"number": referral.screening_number},
            )
            return redirect("referral_detail", screening_number=referral.screening_number)
    return _enrolment_page(request, referral, decline_form=form)


@require_GET
def referral_history(request, screening_number):
    """Every recorded change of the referral in plain words; whoever may see the referral."""
    referral = access.referral_for_user(request.user, screening_number)
    context = {"referral": referral, "lines": audit.referral_history(referral)}
    return render(request, "mdt/history.html", context)
