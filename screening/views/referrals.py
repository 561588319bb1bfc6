"""Referrals: the list, entry and edit beside the live eligibility panel, the referral page, its
history and withdrawal."""

import copy
import functools
import hashlib
from urllib.parse import urlencode

from crispy_forms.templatetags.crispy_forms_filters import as_crispy_field
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.db.models import Count, JSONField, Q
from django.db.models.expressions import RawSQL
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from screening import access, audit, display, filters, kept, rules, services
from screening.forms.referrals import (
    PREGNANCY_QUESTION_ID,
    ReferralForm,
    WithdrawalForm,
    referral_form_helper,
)
from screening.models import Evaluation, ProtocolVersion, Referral, Site
from screening.templatetags import badges
from screening.templatetags.rows import data_cards

Status = Referral.Status

LIST_PAGE_SIZE = 50


@require_GET
def referral_list(request):
    """Filtered, searched, sorted and paginated; constant queries whatever the row count.

    Everything below the heading (the counts, the filter form, the page of rows) is drawn from
    the referrals and kept while the database shows the same snapshot (``kept``), for the
    user's sites, the query string, the language and the day (days waiting): a view with
    nothing committed since builds no filter form and asks only for the snapshot."""
    user = request.user
    sites = access.visible_site_ids(user)
    scope = "all" if sites is None else ",".join(str(site) for site in sorted(sites))
    seen = kept.snapshot_seen()
    # Hashed: the query may hold a patient's name.
    query = hashlib.sha256(request.GET.urlencode().encode()).hexdigest()

    def the_list() -> dict:
        visible = access.referrals_for_user(user)
        filterset = filters.ReferralFilter(request.GET or None, queryset=visible, request=request)
        matching = filterset.qs
        above = _above_the_rows(request, filterset, visible, matching, scope=scope, seen=seen)
        # Page over ids first: a deep page then reads only the index, and the page's 50 rows
        # are fetched by id (one more query, whatever the page number).
        page = _CountedPaginator(
            matching.values_list("pk", flat=True), LIST_PAGE_SIZE, count=above["matching"]
        ).get_page(request.GET.get("page"))
        shown = {
            referral["pk"]: referral
            for referral in visible.filter(pk__in=page.object_list)
            .order_by()
            .values("pk", *_LIST_FIELDS, results_for_why=_RESULTS_FOR_WHY)
        }
        statuses = above["statuses"]
        return {
            "filter": filterset,
            "filter_fields": above["filter_fields"],
            "status_counts": [
                (status, label, statuses[status]) for status, label in Status.choices
            ],
            "rows": render_to_string(
                "referrals/list_rows.html",
                {
                    "page": page,
                    "rows": _rows([shown[pk] for pk in page.object_list]),
                    "headers": _column_headers(request.GET),
                },
                request,
            ),
        }

    listing = kept.kept_fragment(
        f"referral-list-page:{scope}:{timezone.localdate().isoformat()}:{query}",
        "referrals/list_body.html",
        the_list,
        request,
        seen=seen,
    )
    context = {"listing": listing, "may_create": access.may_create_referral(user)}
    return render(request, "referrals/list.html", context)


def _above_the_rows(request, filterset, visible, matching, *, scope: str, seen) -> dict:
    """The referrals by status, how many the filters let through, and the filter form's
    fields: the counts read every referral the user sees, and crispy takes longer to draw six
    fields than the page its fifty rows. Kept (``kept``) for the user's sites (``scope``), the
    filters and the language."""
    filtering = sorted(
        (key, value)
        for key, values in request.GET.lists()
        if key not in ("page", "sort")
        for value in values
    )
    # Hashed: the filters may hold a patient's name.
    filters_seen = hashlib.sha256(urlencode(filtering).encode()).hexdigest()

    def work_out():
        statuses, through = _count(visible, matching if filtering else None)
        fields = render_to_string(
            "referrals/list_filter_fields.html", {"filter": filterset}, request
        )
        return {"statuses": statuses, "matching": through, "filter_fields": fields}

    return kept.kept(f"referral-list:{scope}:{get_language()}:{filters_seen}", work_out, seen=seen)


def _count(visible, matching) -> tuple[dict[str, int], int]:
    """Referrals per status, every status present, and how many of them are ``matching``
    (None: all of them), in one query."""
    # COUNT(*), not of a column: the index on (status, referral_date) then answers it alone.
    annotations = {"n": Count("*")}
    if matching is not None and not matching.query.is_empty():
        annotations["through"] = Count("pk", filter=Q(pk__in=matching.order_by().values("pk")))
    statuses = dict.fromkeys(Status.values, 0)
    through = 0
    for row in visible.order_by().values("status").annotate(**annotations):
        statuses[row["status"]] = row["n"]
        # Filters that are not valid let nothing through.
        through += row["n"] if matching is None else row.get("through", 0)
    return statuses, through


class _CountedPaginator(Paginator):
    """A paginator told its count, which reads a page from the nearer end of the list: an
    OFFSET reads every row it skips, so the last pages are read backwards and turned round.
    Every sort of the list is a total order (``filters.SORTS``), so both ways give the same
    rows."""

    def __init__(self, object_list, per_page, *, count: int):
        super().__init__(object_list, per_page)
        self.count = count

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = min(bottom + self.per_page, self.count)
        if bottom <= self.count - top:
            return self._get_page(list(self.object_list[bottom:top]), number, self)
        backwards = self.object_list.reverse()[self.count - top : self.count - bottom]
        return self._get_page(list(backwards)[::-1], number, self)


# What a row of the list shows, and no more of the referral's hundred columns.
_LIST_FIELDS = (
    "screening_number",
    "site__name",
    "site__name_zh",
    "full_name",
    "hospital_number",
    "date_of_birth",
    "referral_date",
    "screening_date",
    "outcome",
    "status",
    "possible_duplicate",
    "enrolment__study_number",
    "enrolment__consent_date",
)
# Of each criterion's result only what ``display.why`` reads: a tenth of the JSON to decode.
_RESULTS_FOR_WHY = RawSQL(
    f"""SELECT jsonb_object_agg(
                   c.key, jsonb_build_object('result', c.value -> 'result',
                                             'missing', c.value -> 'missing'))
          FROM {Evaluation._meta.db_table} e, jsonb_each(e.results) c
         WHERE e.id = {Referral._meta.db_table}.evaluation_id""",  # noqa: S608 - table names
    (),
    output_field=JSONField(),
)


def _rows(referrals: list[dict]) -> list[dict]:
    """What each row of the list shows, as text, from the values of ``_LIST_FIELDS``: a
    template takes longer to look up a model's attributes and labels than this takes to set
    them down, and fifty model instances of a hundred fields longer still."""
    today = timezone.localdate()
    status_labels = {status: str(label) for status, label in Status.choices}
    outcome_labels = {outcome: str(label) for outcome, label in Referral.Outcome.choices}
    site_names = {}
    rows = []
    for referral in referrals:
        site = referral["site__name"], referral["site__name_zh"]
        if site not in site_names:
            site_names[site] = Site(name=site[0], name_zh=site[1]).display_name
        born, screened = referral["date_of_birth"], referral["screening_date"]
        status = referral["status"]
        enrolled = status == Status.ENROLLED
        rows.append(
            {
                "url": reverse("referral_detail", args=[referral["screening_number"]]),
                "screening_number": referral["screening_number"],
                "possible_duplicate": referral["possible_duplicate"],
                "referral_date": referral["referral_date"].isoformat(),
                "site": site_names[site],
                "full_name": referral["full_name"],
                "hospital_number": referral["hospital_number"],
                # Text, as the page would show the numbers without a thousands separator.
                "age": str(rules.age_at(born, screened)) if born and screened else "",
                "outcome_class": badges.outcome_badge_class(referral["outcome"]),
                "outcome_label": outcome_labels[referral["outcome"]],
                "why": display.why(referral["results_for_why"]),
                "status_class": badges.status_badge_class(status),
                "status_label": status_labels[status],
                "days_waiting": (
                    str((today - referral["referral_date"]).days)
                    if status in Referral.OPEN_STATUSES
                    else ""
                ),
                "study_number": referral["enrolment__study_number"] if enrolled else "",
                "consent_date": (
                    referral["enrolment__consent_date"].isoformat() if enrolled else ""
                ),
            }
        )
    return rows


# The list's columns before the study number: the label and, for a sortable one, the column
# of ``filters.SORTS``; numbers align right.
COLUMNS = (
    (gettext_lazy("Screening number"), "screening_number"),
    (gettext_lazy("Referral date"), "referral_date"),
    (gettext_lazy("Site"), "site"),
    (gettext_lazy("Name"), None),
    (gettext_lazy("Hospital number"), None),
    (gettext_lazy("Age"), "age"),
    (gettext_lazy("Outcome"), "outcome"),
    (gettext_lazy("Why"), None),
    (gettext_lazy("Status"), "status"),
    (gettext_lazy("Days waiting"), "days_waiting"),
)
NUMERIC_COLUMNS = {"age", "days_waiting"}
_ARROWS = {"ascending": " ▲", "descending": " ▼", None: " ↕"}


def _column_headers(query) -> list[dict]:
    """Each column's label and, when it sorts, the address that sorts by it (the other way
    when it already does) and its ``aria-sort``."""
    current = query.get("sort") or "-referral_date"
    current = filters.SORT_ALIASES.get(current, current)
    headers = []
    for label, column in COLUMNS:
        if column is None:
            headers.append({"label": label})
            continue
        params = query.copy()
        params.pop("page", None)
        params["sort"] = f"-{column}" if current == column else column
        state = {column: "ascending", f"-{column}": "descending"}.get(current)
        headers.append(
            {
                "label": label,
                "url": f"?{params.urlencode()}",
                "state": state,
                "arrow": _ARROWS[state],
                "numeric": column in NUMERIC_COLUMNS,
            }
        )
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
    referral, read = access.referral_and_more_for_user(
        user, screening_number, display.records_sql()
    )
    services.record_view_create(user=user, kind="referral", referral=referral)
    evaluation = referral.evaluation
    results = evaluation.results
    limits = evaluation.protocol_version.limits()
    outcome_sentence, evaluated, criteria_table = _criteria_drawn(evaluation, limits)
    may_act = access.may_edit_referral(user, referral) and not referral.is_closed
    records = display.referral_records(
        referral, read, limits=limits, visible_site_ids=access.visible_site_ids(user)
    )
    decisions_drawn, signatures_drawn = _records_drawn(records, read, limits)
    decisions = records.decisions
    current = next((shown for shown in decisions if shown.state == "current"), None)
    enrolment = records.enrolment if referral.status == Status.ENROLLED else None
    facts, cards = _facts_and_data_drawn(referral, enrolment, records.history.labs_source)
    context = {
        "referral": referral,
        "facts": facts,
        "outcome_label": display.answer("outcome", referral.outcome),
        "headline": display.headline(
            referral,
            current=current,
            enrolment=enrolment,
            today=timezone.localdate(),
        ),
        "decisions": decisions_drawn,
        "may_decide": access.is_mdt_member(user),
        "outcome_sentence": outcome_sentence,
        "evaluated": evaluated,
        "criteria_table": criteria_table,
        "todo": display.todo_items(results, limits),
        "stage_group": display.stage_group_text(referral.stage_group()),
        "data_cards": cards,
        "status_history": records.history.status_changes,
        "may_act": may_act,
        "withdraw_fields": _blank_withdrawal_fields(get_language()) if may_act else None,
        "signatures": signatures_drawn,
        "earlier_referrals": records.earlier,
        "possible_duplicates": records.duplicates,
    }
    return render(request, "referrals/detail.html", context)


def _criteria_drawn(evaluation, limits: rules.Limits) -> tuple[str, str, str]:
    """The outcome in a sentence, when and under which protocol version it was evaluated
    (referrals/evaluated.html) and the criteria table's HTML (referrals/criteria_table.html)
    of ``evaluation`` judged by ``limits``: wording and drawing the twelve rows took longer
    than any other part of the referral page. Kept (``kept.kept_drawing``) for the results,
    the outcome, the limits, the moment and the protocol version, so a new evaluation or an
    amended protocol is drawn afresh."""

    def draw():
        criteria = display.criterion_rows(evaluation.results, limits)
        return (
            display.outcome_sentence(evaluation.outcome, criteria),
            render_to_string("referrals/evaluated.html", {"evaluation": evaluation}),
            render_to_string("referrals/criteria_table.html", {"criteria": criteria}),
        )

    protocol = evaluation.protocol_version
    drawn_from = [
        evaluation.results,
        evaluation.outcome,
        repr(limits),
        evaluation.created_at,
        protocol.version,
        protocol.effective_date,
    ]
    return kept.kept_drawing("referral-criteria", drawn_from, draw)


def _records_drawn(records: display.Records, read: str, limits: rules.Limits) -> tuple[str, str]:
    """The HTML of the referral's MDT decisions (mdt/decisions.html) and signatures
    (referrals/signatures.html), from ``records`` of what ``display.records_sql`` ``read``: kept
    (``kept.kept_drawing``) for that text and the ``limits`` a rejection's criterion is worded
    with, so a new, voided or superseded decision or a new signature is drawn afresh."""

    def draw():
        return (
            render_to_string("mdt/decisions.html", {"decisions": records.decisions}),
            render_to_string("referrals/signatures.html", {"signatures": records.signatures}),
        )

    return kept.kept_drawing("referral-records", [read, repr(limits)], draw)


def _facts_and_data_drawn(referral: Referral, enrolment, labs_source: str) -> tuple[str, str]:
    """The HTML of the referral's heading and facts (referrals/facts.html, with the study number
    of its ``enrolment`` when shown) and the cards of its data (``display.clinical_sections``
    as the rows tag ``data_cards`` draws them), kept (``kept.kept_drawing``) for every column of
    the referral, its site's names, the enrolment and where the labs came from: an edit, a new
    status or an enrolment draws them afresh."""

    def draw():
        context = {
            "referral": referral,
            "status_label": display.answer("status", referral.status),
            "sex_label": display.answer("sex", referral.sex),
            "enrolment": enrolment,
        }
        return (
            render_to_string("referrals/facts.html", context),
            data_cards(display.clinical_sections(referral, labs_source=labs_source)),
        )

    drawn_from = [
        [getattr(referral, field.attname) for field in Referral._meta.concrete_fields],
        referral.site.name,
        referral.site.name_zh,
        enrolment and [enrolment.study_number, enrolment.consent_date],
        labs_source,
    ]
    return kept.kept_drawing("referral-data", drawn_from, draw)


# ``language`` keys the cache.
@functools.lru_cache(maxsize=8)
def _blank_withdrawal_fields(language: str | None) -> str:
    """The withdrawal form's fields, empty, as referrals/withdraw_fields.html draws them. The
    referral page offers them on every open referral, crispy takes longer to draw them than
    the rest of the page, and an empty form's HTML depends on nothing but the language."""
    form = WithdrawalForm()
    return mark_safe("\n".join(as_crispy_field(form[name]) for name in ("code", "reason")))


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
