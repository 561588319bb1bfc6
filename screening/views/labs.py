"""Laboratory results from the hospital's systems: a FHIR Bundle read, shown beside the
referral's current values and eligibility, and saved only for the values the user accepts."""

import copy
import datetime
from types import SimpleNamespace

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from screening import access, display, fhir_labs, services, units
from screening.forms.labs import AcceptForm, BundleForm
from screening.models import ProtocolVersion, Referral
from screening.text import format_number, join_items
from screening.views.referrals import _refusals_shown_on_the_referral_page

# Labs older than this at screening make I4 and I5 unknown (PROTOCOL section 4).
FRESH_DAYS = 28


def _session_key(referral: Referral) -> str:
    return f"fhir_labs:{referral.screening_number}"


@require_http_methods(["GET", "POST"])
@_refusals_shown_on_the_referral_page
def referral_labs(request, screening_number):
    """GET asks for a Bundle; POST of a Bundle shows what it proposes beside the referral's
    values, nothing saved; POST with ``accept`` saves the accepted values.

    The Bundle is kept in the session between the two posts (never sent back by the browser)
    and read and checked again on acceptance.
    """
    referral = access.referral_for_user(request.user, screening_number, action=access.EDIT)
    services.ensure_editable(referral)
    if request.method == "POST" and "accept" in request.POST:
        return _accept(request, referral)
    form = BundleForm(request.POST or None, request.FILES or None)
    if not form.is_valid():
        return _upload_page(request, referral, form)
    content, file_name = form.cleaned_data["content"], form.cleaned_data["file_name"]
    try:
        found = fhir_labs.intake(content, referral)
    except fhir_labs.IntakeError as refusal:
        form.add_error(None, str(refusal))
        return _upload_page(request, referral, form)
    request.session[_session_key(referral)] = {"content": content, "file_name": file_name}
    accept_form = AcceptForm(proposed_keys=found.proposed)
    return _preview_page(request, referral, found, file_name, accept_form)


def _accept(request, referral):
    held = request.session.get(_session_key(referral))
    if not held:
        messages.error(request, _("The Bundle is no longer held: upload it again."))
        return redirect("referral_labs", screening_number=referral.screening_number)
    try:
        found = fhir_labs.intake(held["content"], referral)
    except fhir_labs.IntakeError as refusal:
        del request.session[_session_key(referral)]
        form = BundleForm()
        form.add_error(None, str(refusal))
        return _upload_page(request, referral, form)
    form = AcceptForm(request.POST, proposed_keys=found.proposed)
    if form.is_valid():
        keys = form.accepted_keys()
        if not keys:
            form.add_error(None, _("Tick at least one value to save."))
        elif _after_screening(found, referral):
            form.add_error(None, _date_refusal(found, referral))
        else:
            services.referral_update(
                referral=referral,
                data=fhir_labs.accepted_data(found, keys),
                change_reason=form.cleaned_data["change_reason"],
                source=fhir_labs.source_text(
                    held["file_name"], [found.proposed[key] for key in keys]
                ),
                user=request.user,
            )
            del request.session[_session_key(referral)]
            messages.success(
                request,
                _(
                    "Referral %(number)s: %(count)s laboratory results of %(date)s saved from "
                    "%(file)s: %(outcome)s."
                )
                % {
                    "number": referral.screening_number,
                    "count": len(keys),
                    "date": found.panel_date.isoformat(),
                    "file": held["file_name"],
                    "outcome": referral.get_outcome_display(),
                },
            )
            return redirect("referral_detail", screening_number=referral.screening_number)
    return _preview_page(request, referral, found, held["file_name"], form)


def _after_screening(found: fhir_labs.Intake, referral: Referral) -> bool:
    return found.panel_date is not None and found.panel_date > referral.screening_date


def _date_refusal(found, referral) -> str:
    return _(
        "The results are of %(panel)s, after the screening date %(screening)s: change the "
        "screening date on the edit page first (new labs come with a new screening date)."
    ) % {"panel": found.panel_date.isoformat(), "screening": referral.screening_date.isoformat()}


def _upload_page(request, referral, form):
    context = {"referral": referral, "form": form, "loinc_keys": _loinc_rows()}
    return render(request, "referrals/labs_upload.html", context)


def _loinc_rows():
    return [
        (code, display.field_label(key), join_items(units.UNIT_FACTORS[key]))
        for code, key in fhir_labs.LOINC_KEYS.items()
    ]


def _preview_page(request, referral, found, file_name, form):
    """Current and proposed values side by side, and the eligibility with all of them."""
    proposed_data = fhir_labs.accepted_data(found, found.proposed)
    judged = copy.copy(referral)
    for name, value in proposed_data.items():
        setattr(judged, name, value)
    panel = display._panel(judged.snapshot(), ProtocolVersion.current())
    panel["approval"] = display.approval_effect(
        referral, SimpleNamespace(cleaned_data=proposed_data, errors={}), panel["outcome"]
    )
    rows = [
        {
            "key": key,
            "label": display.field_label(key),
            "current": display.lab_display(referral, key),
            "proposed": found.proposed.get(key),
            "proposed_si": (
                f"{format_number(found.proposed[key].value)} {units.SI_UNIT[key]}"
                if key in found.proposed and units.UNIT_FACTORS[key][found.proposed[key].unit] != 1
                else ""
            ),
            "field": form[f"accept_{key}"] if key in found.proposed else None,
        }
        for key in units.LAB_KEYS
    ]
    stale = (
        found.panel_date is not None
        and referral.screening_date - found.panel_date > datetime.timedelta(days=FRESH_DAYS)
    )
    context = {
        "referral": referral,
        "found": found,
        "file_name": file_name,
        "rows": rows,
        "other_days": [(result, display.field_label(result.key)) for result in found.other_days],
        "form": form,
        "panel": panel,
        "current_labs_date": referral.labs_date,
        "after_screening": _date_refusal(found, referral)
        if _after_screening(found, referral)
        else "",
        "stale": stale,
    }
    return render(request, "referrals/labs_preview.html", context)
