"""The MDT queue, the meeting's packet, and the MDT's decision on a candidate."""

import hashlib

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from screening import access, display, kept, services
from screening.forms.mdt import DecisionForm, VoidForm
from screening.models import MdtDecision, RecordView, Referral, Role

Status = Referral.Status

QUEUE_PAGE_SIZE = 50


@require_GET
@access.roles_required(Role.MDT, Role.ADMIN)
def mdt_queue(request):
    """Referrals awaiting the MDT, the longest-waiting first.

    Waiting counts from the referral date, the date the patient was referred: what a patient
    has waited in all. A constant number of queries whatever the number of referrals, 50 to a
    page; the page is drawn once a database snapshot (``kept.kept_fragment``).
    """
    today = timezone.localdate()
    may_decide = access.is_mdt_member(request.user)

    def queue():
        referrals = (
            Referral.objects.filter(status=Status.MDT_REVIEW)
            .select_related("site", "evaluation__protocol_version")
            .defer("evaluation__snapshot")
            .order_by("referral_date", "screening_number")
        )
        page = Paginator(referrals, QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
        rows = [
            {**display.candidate(referral), "days_waiting": (today - referral.referral_date).days}
            for referral in page.object_list
        ]
        return {"rows": rows, "page": page, "may_decide": may_decide}

    # The page and its pagination links follow the query string.
    query = hashlib.sha256(request.GET.urlencode().encode()).hexdigest()
    content = kept.kept_fragment(
        f"mdt-queue:{may_decide:d}:{today}:{query}", "mdt/queue_content.html", queue, request
    )
    return render(request, "mdt/queue.html", {"queue": content})


def _decision_page(request, referral, *, form=None, void_form=None):
    """The candidate with the decision form while in review; otherwise the decision taken,
    with the form that voids it before enrolment."""
    in_review = referral.status == Status.MDT_REVIEW
    limits = referral.evaluation.protocol_version.limits()
    decisions = display.decisions_shown(referral, list(referral.signatures.all()), limits)
    current = next((shown for shown in decisions if shown.state == "current"), None)
    voidable = current is not None and referral.status in (
        Status.MDT_APPROVED,
        Status.MDT_REJECTED,
    )
    if in_review and form is None:
        form = DecisionForm(
            initial={"evaluation": referral.evaluation_id},
            referral_date=referral.referral_date,
            request=request,
        )
    # A refusal of a form the page no longer offers (the referral was decided or enrolled
    # meanwhile) is shown above what the page offers now.
    refusals = [
        *(form.non_field_errors() if form is not None and not in_review else ()),
        *(void_form.non_field_errors() if void_form is not None and not voidable else ()),
    ]
    if voidable and void_form is None:
        void_form = VoidForm(request=request)
    context = {
        "refusals": refusals,
        **display.candidate(referral),
        "criteria": display.criterion_rows(referral.evaluation.results, limits),
        "form": form,
        "void_form": void_form if voidable else None,
        "in_review": in_review,
        "decisions": decisions,
        "eligibility_today": display.eligibility_as_of(referral, timezone.localdate()),
    }
    return render(request, "mdt/decision.html", context)


@require_GET
@access.roles_required(Role.MDT, Role.ADMIN)
def mdt_packet(request):
    """The print-ready packet for the MDT meeting: a cover page listing the candidates, then
    one page per candidate with the twelve criteria and room for the decision by hand.

    Every referral in review, the longest-waiting first; ``?sn=S-00001&sn=S-00002`` keeps only
    those (numbers not in review are left out and counted). Four queries whatever the number
    of candidates: the session, the user, the roles and the referrals with their evaluations;
    a fifth records that identified data was shown, when the packet names anyone.
    """
    today = timezone.localdate()
    asked = list(dict.fromkeys(number for number in request.GET.getlist("sn") if number))
    referrals = (
        Referral.objects.filter(status=Status.MDT_REVIEW)
        .select_related("site", "evaluation__protocol_version")
        .defer("evaluation__snapshot")
        .order_by("referral_date", "screening_number")
    )
    if asked:
        referrals = referrals.filter(screening_number__in=asked)
    candidates = [
        {
            **display.candidate(referral),
            "criteria": display.criterion_rows(
                referral.evaluation.results, referral.evaluation.protocol_version.limits()
            ),
            "days_waiting": (today - referral.referral_date).days,
        }
        for referral in referrals
    ]
    if candidates:
        services.record_view_create(user=request.user, kind=RecordView.Kind.PACKET)
    context = {"candidates": candidates, "asked": len(asked), "today": today}
    return render(request, "mdt/packet.html", context)


@require_http_methods(["GET", "POST"])
def referral_decision(request, screening_number):
    """GET shows the candidate with the MDT-to-confirm items and the decision form; POST
    records the decision."""
    user = request.user
    referral = access.referral_for_user(user, screening_number, action=access.DECIDE)
    if request.method == "GET":
        return _decision_page(request, referral)
    form = DecisionForm(request.POST, referral_date=referral.referral_date, request=request)
    if form.is_valid():
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
    return _decision_page(request, referral, form=form)


@require_POST
def referral_decision_void(request, screening_number):
    """Void the current decision (signed, with a reason); the referral returns to the queue."""
    user = request.user
    referral = access.referral_for_user(user, screening_number, action=access.DECIDE)
    form = VoidForm(request.POST, request=request)
    if form.is_valid():
        try:
            services.mdt_decision_void(referral=referral, user=user, **form.service_arguments())
        except services.WorkflowError as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request,
                _("The MDT decision on %(number)s is voided; the referral is now %(status)s.")
                % {"number": referral.screening_number, "status": referral.get_status_display()},
            )
            return redirect("referral_detail", screening_number=referral.screening_number)
    return _decision_page(request, referral, void_form=form)
