"""Enrolment of an approved candidate, or the record that consent was declined."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from screening import access, display, services
from screening.forms.enrolment import DeclineForm, EnrolmentForm
from screening.models import Referral

Status = Referral.Status


def _enrolment_page(request, referral, *, enrol_form=None, decline_form=None):
    approval = referral.current_decision() if referral.status == Status.MDT_APPROVED else None
    approved_on = timezone.localdate(approval.decided_at) if approval else None
    context = {
        **display.candidate(referral),
        "approval": approval,
        "enrol_form": enrol_form
        or EnrolmentForm(
            request=request,
            approved_on=approved_on,
            possible_duplicate=referral.possible_duplicate,
        ),
        "decline_form": decline_form or DeclineForm(),
    }
    return render(request, "mdt/enrol.html", context)


@require_http_methods(["GET", "POST"])
def referral_enrol(request, screening_number):
    """GET shows the approval and the consent form; POST enrols under the next study number."""
    user = request.user
    referral = access.referral_for_user(user, screening_number, action=access.ENROL)
    if request.method == "GET":
        return _enrolment_page(request, referral)
    form = EnrolmentForm(
        request.POST, request=request, possible_duplicate=referral.possible_duplicate
    )
    if form.is_valid():
        try:
            enrolment = services.participant_enrol(
                referral=referral, user=user, **form.service_arguments()
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
    referral = access.referral_for_user(user, screening_number, action=access.ENROL)
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
