"""Enrolment of an approved candidate, or the record that consent was declined."""

import datetime

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from screening import access, display, services
from screening.forms.enrolment import DeclineForm, EnrolmentForm
from screening.models import Referral

Status = Referral.Status


def _consent_day(value) -> datetime.date:
    """The consent date the eligibility re-check is shown for: the one typed, else today."""
    try:
        return datetime.date.fromisoformat(value or "")
    except ValueError:
        return timezone.localdate()


def _enrolment_page(request, referral, *, enrol_form=None, decline_form=None):
    """Who is being enrolled, the MDT approval, the eligibility re-check as of the consent date
    typed (``consent_date``, as a query parameter while typing or posted) and the forms."""
    approval = referral.current_decision() if referral.status == Status.MDT_APPROVED else None
    met_on = approval.meeting_date if approval else None
    enrol_form = enrol_form or EnrolmentForm(
        request=request,
        met_on=met_on,
        possible_duplicate=referral.possible_duplicate,
        recheck_url=request.path,
        initial={"consent_date": request.GET.get("consent_date")},
    )
    typed = enrol_form.data.get("consent_date") if enrol_form.is_bound else None
    consent_day = _consent_day(typed or request.GET.get("consent_date"))
    context = {
        **display.candidate(referral),
        "approval": approval,
        "eligibility": display.eligibility_as_of(referral, consent_day) if approval else None,
        "enrol_form": enrol_form,
        "decline_form": decline_form or DeclineForm(),
    }
    return render(request, "mdt/enrol.html", context)


@require_http_methods(["GET", "POST"])
def referral_enrol(request, screening_number):
    """GET shows who is enrolled, the approval, the eligibility re-check and the consent form;
    POST enrols under the next study number."""
    user = request.user
    referral = access.referral_for_user(user, screening_number, action=access.ENROL)
    if request.method == "GET":
        return _enrolment_page(request, referral)
    approval = referral.current_decision()
    form = EnrolmentForm(
        request.POST,
        request=request,
        met_on=approval.meeting_date if approval else None,
        possible_duplicate=referral.possible_duplicate,
        recheck_url=request.path,
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
