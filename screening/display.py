"""Turning evaluations and referrals into what the pages show: criterion rows, the to-do list,
the live panel, what the MDT reads of a candidate, clinical data with units and the status
history.

Stored evaluations (``Evaluation.results``) and live ones (``rules.Evaluation.to_json()``) have
the same JSON shape, so the referral page and the live panel share these helpers.
"""

import datetime
import functools
import json
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils.text import capfirst
from django.utils.translation import get_language, gettext, ngettext
from django.utils.translation import gettext_lazy as _

from screening import persons, rules, services, staging, units
from screening.forms.referrals import REFERRAL_KEYS, SECTIONS
from screening.models import (
    MEASUREMENT_UNITS,
    Enrolment,
    MdtDecision,
    ProtocolVersion,
    Referral,
    Signature,
)
from screening.text import format_number, join_clauses, join_items, join_words, local_minute

OUTCOME_SENTENCES = {
    rules.Outcome.POTENTIALLY_ELIGIBLE: _(
        "Potentially eligible: every criterion other than E2 passes, so the referral goes to "
        "the MDT for review."
    ),
    rules.Outcome.INCOMPLETE: _(
        "Incomplete: no criterion fails, but data is missing. Complete the to-do list below."
    ),
}

# Readable answers of the choice columns, e.g. "yes" -> "Yes", "T3" -> "cT3".
CHOICE_LABELS = {
    field.name: dict(field.choices) for field in Referral._meta.fields if field.choices
}


@dataclass(frozen=True)
class CriterionRow:
    code: str
    text: str
    result: str  # "pass" / "fail" / "unknown"
    reason: str
    # (label, value with unit) the criterion read, in data-dictionary order: stored results
    # come back from jsonb with their keys reordered.
    values: list[tuple[str, str]]
    deferred: bool  # E2 unknown: "MDT to confirm", does not hold the referral back


@dataclass(frozen=True)
class TodoItem:
    code: str
    text: str
    missing: list[tuple[str, str]]  # (form field name, label)


# The labels of the fields and the words of their answers in a language, translated once:
# they are constants, so they cannot go stale, and the referral page shows some hundred and
# fifty of them. ``language`` keys the cache.
@functools.lru_cache(maxsize=8)
def _field_labels(language: str | None) -> dict[str, str]:
    return {key: gettext(label) for key, label in rules.FIELD_LABELS.items()}


@functools.lru_cache(maxsize=8)
def _choice_words(language: str | None) -> dict[str, dict]:
    return {
        name: {value: str(label) for value, label in labels.items()}
        for name, labels in CHOICE_LABELS.items()
    }


def answer(name: str, value) -> str:
    """The words of ``value`` of the referral's choice field ``name``, as
    ``referral.get_<name>_display()`` gives them, without building the choices again."""
    return _choice_words(get_language())[name].get(value, value)


def field_label(key: str) -> str:
    return _field_labels(get_language()).get(key) or gettext(key)


def value_display(key: str, value, words: dict[str, dict]) -> str:
    """A value as the rules read it: SI labs with their unit, answers in ``words`` (the active
    language's ``_choice_words``), ISO dates."""
    if value is None or value == "":
        return gettext("not given")
    if key in units.LAB_KEYS:
        return f"{format_number(Decimal(str(value)))} {units.SI_UNIT[key]}"
    if key in MEASUREMENT_UNITS:
        return f"{format_number(Decimal(str(value)))} {MEASUREMENT_UNITS[key]}"
    if isinstance(value, datetime.date):
        return value.isoformat()
    if key in CHOICE_LABELS:
        return words[key].get(value, str(value))
    return str(value)


# ``language`` keys the cache: the texts are translated.
@functools.lru_cache(maxsize=64)
def _criterion_texts(limits: rules.Limits, language: str | None) -> dict[str, str]:
    return {
        criterion.code: rules.criterion_text(criterion.code, limits) for criterion in rules.CRITERIA
    }


def criterion_text(code: str, limits: rules.Limits) -> str:
    """``rules.criterion_text`` in the active language, kept for each protocol's limits: the
    wording depends on nothing else, so it cannot go stale, and the referral page words all
    twelve criteria on every view, each with every limit formatted."""
    return _criterion_texts(limits, get_language())[code]


def criterion_rows(results: dict, limits: rules.Limits) -> list[CriterionRow]:
    """The twelve criteria in protocol order from evaluation results JSON, worded with the
    ``limits`` they were judged by (``evaluation.protocol_version.limits()``)."""
    # The language is looked up once: the rows word some fifty labels and values.
    language = get_language()
    texts, labels, words = (
        _criterion_texts(limits, language),
        _field_labels(language),
        _choice_words(language),
    )
    rows = []
    for criterion in rules.CRITERIA:
        data = results[criterion.code]
        values = data["values"]
        rows.append(
            CriterionRow(
                code=criterion.code,
                text=texts[criterion.code],
                result=data["result"],
                reason=rules.render_reason(data["template"], data["params"]),
                values=[
                    (labels.get(key) or gettext(key), value_display(key, values[key], words))
                    for key in rules.SNAPSHOT_KEYS
                    if key in values
                ],
                deferred=criterion.code == rules.DEFERRABLE and data["result"] == rules.UNKNOWN,
            )
        )
    return rows


def todo_items(results: dict, limits: rules.Limits) -> list[TodoItem]:
    """What is missing, criterion by criterion; E2 is left to the MDT and is not listed."""
    return [
        TodoItem(
            code=criterion.code,
            text=criterion_text(criterion.code, limits),
            missing=[
                (key, _missing_label(key, results[criterion.code]["values"]))
                for key in results[criterion.code]["missing"]
            ],
        )
        for criterion in rules.CRITERIA
        if criterion.code != rules.DEFERRABLE and results[criterion.code]["result"] == rules.UNKNOWN
    ]


def _missing_label(key: str, values: dict) -> str:
    """What to enter for ``key``: its label, or for labs that are dated but stale, a new blood
    panel and why (labs dated after the screening date are refused by the form)."""
    labs_date, screening_date = values.get("labs_date"), values.get("screening_date")
    if key != "labs_date" or not labs_date or not screening_date:
        return field_label(key)
    days = (
        datetime.date.fromisoformat(str(screening_date))
        - datetime.date.fromisoformat(str(labs_date))
    ).days
    return gettext("a new blood panel (the labs of %(date)s are %(days)s days old)") % {
        "date": labs_date,
        "days": days,
    }


def stage_group_text(group: str) -> str:
    """A stage group of ``staging.stage_group``, "not assignable" in the user's language."""
    return gettext("not assignable") if group == staging.NOT_ASSIGNABLE else group


def failing_rows(rows: list[CriterionRow]) -> list[CriterionRow]:
    return [row for row in rows if row.result == rules.FAIL]


def outcome_sentence(outcome: str, rows: list[CriterionRow]) -> str:
    """The outcome in a sentence; an ineligible one names the failing criteria and why, e.g.
    "Ineligible: I2 fails (cT2N0 is excluded (cT1-2N0M0))." ``rows`` are ``criterion_rows``."""
    if outcome != rules.Outcome.INELIGIBLE:
        return str(OUTCOME_SENTENCES[outcome])
    failing = failing_rows(rows)
    if len(failing) == 1:
        reasons = failing[0].reason
    else:
        # A reason may itself be several clauses: each is introduced by its criterion's code.
        reasons = join_clauses(
            gettext("%(code)s: %(reason)s") % {"code": row.code, "reason": row.reason}
            for row in failing
        )
    return ngettext(
        "Ineligible: %(codes)s fails (%(reasons)s).",
        "Ineligible: %(codes)s fail (%(reasons)s).",
        len(failing),
    ) % {"codes": join_words([row.code for row in failing]), "reasons": reasons}


def mdt_to_confirm(results: dict, limits: rules.Limits) -> list[dict]:
    """What the MDT still has to confirm: E2 while dosimetry is not assessed (PROTOCOL s. 4)."""
    deferred = results[rules.DEFERRABLE]
    if deferred["result"] != rules.UNKNOWN:
        return []
    reason = rules.render_reason(deferred["template"], deferred["params"])
    text = criterion_text(rules.DEFERRABLE, limits)
    return [{"code": rules.DEFERRABLE, "text": text, "reason": reason}]


def candidate(referral: Referral) -> dict:
    """What the MDT reads about a candidate, from the row and its current evaluation (select
    ``evaluation__protocol_version`` with the referral, or this costs a query)."""
    evaluation = referral.evaluation
    return {
        "referral": referral,
        "age": referral.age(),
        "ctnm": f"c{referral.ct}{referral.cn}{referral.cm}",
        "stage_group": stage_group_text(referral.stage_group()),
        "to_confirm": mdt_to_confirm(evaluation.results, evaluation.protocol_version.limits()),
    }


def _panel(snapshot: rules.Snapshot, protocol: ProtocolVersion, *, invalid=(), unfilled=()) -> dict:
    """The live panel's context: the twelve criteria judged on ``snapshot``, nothing saved.

    ``invalid`` and ``unfilled`` are (field name, label) pairs: values refused by the form, and
    required fields still empty (the referral cannot be saved without them).
    """
    limits = protocol.limits()
    evaluation = rules.evaluate(snapshot, limits).to_json()
    results = {result["code"]: result for result in evaluation["results"]}
    rows = criterion_rows(results, limits)
    return {
        "outcome": evaluation["outcome"],
        "outcome_label": Referral.Outcome(evaluation["outcome"]).label,
        "outcome_sentence": outcome_sentence(evaluation["outcome"], rows),
        "failing": failing_rows(rows),
        "criteria": rows,
        "todo": todo_items(results, limits),
        "invalid_fields": list(invalid),
        "unfilled_fields": list(unfilled),
        "stage_group": stage_group_text(
            staging.stage_group(snapshot.histology, snapshot.ct, snapshot.cn, snapshot.cm)
        ),
    }


def live_panel(form) -> dict:
    """The panel for a bound ``ReferralForm`` after validation: whatever is valid is judged.

    A field with an error counts as not given, so the criteria it feeds show as unknown while
    the rest are judged on what the user typed.
    """
    valid = {
        name: value
        for name, value in form.cleaned_data.items()
        if name in REFERRAL_KEYS
        and name not in form.errors
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


def blank_form_panel(form) -> dict:
    """The panel for an unbound ``ReferralForm``: its instance judged, with the required
    referral fields that have no initial value listed as still to fill."""
    unfilled = [
        (name, str(field.label))
        for name, field in form.fields.items()
        if name in REFERRAL_KEYS
        and field.required
        and form.get_initial_for_field(field, name) in (None, "")
    ]
    return _panel(form.instance.snapshot(), form.protocol, unfilled=unfilled)


def lab_display(referral: Referral, key: str) -> str:
    """A stored lab value in the unit it was entered in, with the SI value when it differs."""
    si_value = getattr(referral, key)
    if si_value is None:
        return gettext("not given")
    unit = getattr(referral, f"{key}_unit") or units.SI_UNIT[key]
    entered = f"{format_number(units.from_si(key, si_value, unit))} {unit}"
    if units.UNIT_FACTORS[key][unit] == 1:
        return entered
    return f"{entered} (= {format_number(si_value)} {units.SI_UNIT[key]})"


# The fields of each section the referral page shows, looked up once: the units are shown
# with their values.
_SECTION_FIELDS = tuple(
    (title, tuple(Referral._meta.get_field(name) for name in names if not name.endswith("_unit")))
    for title, names in SECTIONS
)


@functools.lru_cache(maxsize=8)
def _section_labels(language: str | None) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The titles of ``_SECTION_FIELDS`` and their fields' labels, capitalised, in ``language``
    (translated once, like ``_field_labels``)."""
    return tuple(
        (str(title), tuple(capfirst(str(field.verbose_name)) for field in fields))
        for title, fields in _SECTION_FIELDS
    )


def clinical_sections(
    referral: Referral, *, labs_source: str = ""
) -> list[tuple[str, list[tuple[str, str]]]]:
    """Every section 3 value of the referral under its section title, as (label, text), the
    label capitalised; the blood panel also says where it came from when it was not typed in."""
    language = get_language()
    words = _choice_words(language)
    not_given = gettext("not given")
    shown = []
    for (_title, fields), (title, labels) in zip(
        _SECTION_FIELDS, _section_labels(language), strict=True
    ):
        rows = []
        for field, label in zip(fields, labels, strict=True):
            name = field.name
            if name == "pregnant_or_breastfeeding" and referral.sex != Referral.Sex.FEMALE:
                continue
            if name in units.LAB_KEYS:
                text = lab_display(referral, name)
            elif name == "site":
                text = referral.site.display_name
            elif field.choices:
                # As get_FOO_display() words it, without building the choices again.
                value = getattr(referral, field.attname)
                text = str(words[name].get(value, value) or "") or not_given
            else:
                text = value_display(name, getattr(referral, name), words)
            rows.append((label, text))
        if labs_source and any(field.name == "labs_date" for field in fields):
            rows.append((capfirst(gettext("Data from")), labs_source))
        shown.append((title, rows))
    return shown


@dataclass(frozen=True)
class StatusChange:
    at: str  # "YYYY-MM-DD HH:MM" in the trial's time zone (``text.local_minute``)
    status: str
    label: str
    by: str


@dataclass(frozen=True)
class History:
    """What the referral page reads of the audit trail: each change of status, and where the
    blood panel shown came from (empty when it was typed in)."""

    status_changes: list[StatusChange]
    labs_source: str


_BLOOD_PANEL = ("labs_date", *units.LAB_KEYS)


def _history_sql() -> str:
    # The user is joined by the id kept in the audit context, compared as text: the context
    # is JSON, and a user recorded otherwise than as a number must not break the page.
    quote = connection.ops.quote_name
    events = Referral.events.field.model
    contexts = events._meta.get_field("pgh_context").related_model
    panel = ", ".join(f"event.{quote(name)}" for name in _BLOOD_PANEL)
    return f"""
        SELECT json_agg(json_build_array(event.pgh_created_at, event.status, account.username,
            context.metadata ->> 'data_source', {panel}) ORDER BY event.pgh_id)
        FROM {quote(events._meta.db_table)} AS event
        LEFT JOIN {quote(contexts._meta.db_table)} AS context ON context.id = event.pgh_context_id
        LEFT JOIN {quote(get_user_model()._meta.db_table)} AS account
            ON account.id::text = context.metadata ->> 'user'
        WHERE event.pgh_obj_id = referral.id
    """


def _history(events: list) -> History:
    """The status changes, oldest first, and the source of the latest blood panel, from the
    rows of ``_history_sql`` (decoded JSON)."""
    labels = dict(Referral.Status.choices)
    changes, previous, panel, labs_source = [], None, None, ""
    for at, status, username, data_source, *blood_panel in events:
        if status != previous:
            changes.append(
                StatusChange(
                    local_minute(datetime.datetime.fromisoformat(at)),
                    status,
                    str(labels[status]),
                    username or "",
                )
            )
            previous = status
        if blood_panel != panel:
            labs_source = data_source or ""
            panel = blood_panel
    return History(status_changes=changes, labs_source=labs_source)


def eligibility_as_of(referral: Referral, day: datetime.date) -> dict:
    """Whether the referral could be enrolled with consent on ``day`` under the protocol in
    force (PROTOCOL section 4), and what stands in the way: enrolment's check, shown beforehand.
    One query (the protocol)."""
    result = services.eligibility_on(referral, day, ProtocolVersion.current())
    return {
        "as_of": day,
        "eligible": result.outcome is rules.Outcome.POTENTIALLY_ELIGIBLE,
        "problems": services.not_eligible_reasons(result, referral.labs_date, day),
    }


@dataclass(frozen=True)
class DecisionShown:
    """An MDT decision as the referral and decision pages show it."""

    decision: MdtDecision
    label: str  # "Approved" / "Rejected"
    reason: str  # for a rejection: the criterion, or "other"
    state: str  # "current", "superseded" or "voided"
    signature: Signature | None  # the signature of the decision itself
    void_signature: Signature | None
    decided_by: str  # the full name of the member who recorded it, else the username


def _decisions_sql() -> str:
    quote = connection.ops.quote_name
    return f"""
        SELECT decision.*, account.username AS decided_by_username,
            account.first_name AS decided_by_first_name, account.last_name AS decided_by_last_name
        FROM {quote(MdtDecision._meta.db_table)} AS decision
        LEFT JOIN {quote(get_user_model()._meta.db_table)} AS account
            ON account.id = decision.decided_by_id
        WHERE decision.referral_id = %s
        ORDER BY decision.superseded_at DESC NULLS FIRST, decision.decided_at DESC, decision.id DESC
    """


def decisions_shown(
    referral: Referral, signatures: list[Signature], limits: rules.Limits
) -> list[DecisionShown]:
    """Every MDT decision on the referral, the current one first, then the superseded and
    voided ones, newest first; each with its signatures from ``signatures`` (the referral's)
    and a rejection's criterion worded with ``limits``. One query, in SQL: the ORM takes
    longer to build it than the database to answer it."""
    decisions = MdtDecision.objects.raw(_decisions_sql(), [referral.pk])
    return _decisions_shown(decisions, signatures, limits)


def _decisions_shown(
    decisions, signatures: list[Signature], limits: rules.Limits
) -> list[DecisionShown]:
    by_decision = {}
    for signature in signatures:
        by_decision.setdefault(signature.decision_id, {})[signature.meaning] = signature
    shown = []
    for decision in decisions:
        signed = by_decision.get(decision.pk, {})
        if decision.voided_by_id:
            state = "voided"
        elif decision.superseded_at:
            state = "superseded"
        else:
            state = "current"
        approved = decision.decision == MdtDecision.Decision.APPROVE
        # As User.get_full_name() would say it.
        full_name = f"{decision.decided_by_first_name} {decision.decided_by_last_name}".strip()
        shown.append(
            DecisionShown(
                decision=decision,
                label=gettext("Approved") if approved else gettext("Rejected"),
                reason="" if approved else rejection_reason_text(decision.reason_code, limits),
                state=state,
                signature=signed.get(
                    Signature.Meaning.APPROVED if approved else Signature.Meaning.REJECTED
                ),
                void_signature=signed.get(Signature.Meaning.VOIDED),
                decided_by=full_name or decision.decided_by_username,
            )
        )
    return shown


def _instance(model, values: dict):
    """The ``model`` instance of a row given as JSON (``to_json``), its columns converted as
    the fields read them from a form (dates and times from their ISO text)."""
    return model.from_db(
        connection.alias,
        None,
        [field.to_python(values[field.column]) for field in model._meta.concrete_fields],
    )


@dataclass(frozen=True)
class Records:
    """What the referral page shows besides the referral itself (``referral_records``)."""

    history: History
    signatures: list[Signature]  # oldest first
    decisions: list[DecisionShown]  # as ``decisions_shown`` orders them
    enrolment: Enrolment | None
    earlier: list  # persons.related's: the same person's other referrals
    duplicates: list  # and the possible duplicates


@functools.cache
def records_sql() -> str:
    """What ``referral_records`` reads, as SQL of one column of the referral's query
    (``access.referral_and_more_for_user``), in which the referral's row is ``referral``: the
    parts as JSON arrays, in one, as text."""
    quote = connection.ops.quote_name
    signatures = quote(Signature._meta.db_table)
    decisions = quote(MdtDecision._meta.db_table)
    accounts = quote(get_user_model()._meta.db_table)
    enrolments = quote(Enrolment._meta.db_table)
    return f"""
        SELECT json_build_array(
            ({persons.related_sql()}),
            ({_history_sql()}),
            (SELECT json_agg(signature.* ORDER BY signature.signed_at, signature.id)
                FROM {signatures} AS signature WHERE signature.referral_id = referral.id),
            (SELECT json_agg(json_build_array(decision.*, account.username, account.first_name,
                    account.last_name)
                ORDER BY decision.superseded_at DESC NULLS FIRST, decision.decided_at DESC,
                    decision.id DESC)
                FROM {decisions} AS decision
                LEFT JOIN {accounts} AS account ON account.id = decision.decided_by_id
                WHERE decision.referral_id = referral.id),
            (SELECT to_json(enrolment.*) FROM {enrolments} AS enrolment
                WHERE enrolment.referral_id = referral.id)
        )::text
    """


def referral_records(
    referral: Referral, read: str, *, limits: rules.Limits, visible_site_ids=None
) -> Records:
    """The referral's status history, signatures, MDT decisions (a rejection's criterion
    worded with ``limits``), enrolment, and the same person's other referrals and possible
    duplicates as ``visible_site_ids`` let the reader see them (``persons.related``), from
    what ``records_sql`` ``read``. No query.

    Read with the referral, each part an array of JSON: the referral page reads them on every
    view, and a round trip for each part cost the server more than what it reads."""
    related, events, signed, decided, enrolled = json.loads(read)
    signatures = [_instance(Signature, values) for values in signed or ()]
    decisions = []
    for values, username, first_name, last_name in decided or ():
        decision = _instance(MdtDecision, values)
        decision.decided_by_username = username
        decision.decided_by_first_name = first_name
        decision.decided_by_last_name = last_name
        decisions.append(decision)
    earlier, duplicates = persons.related(
        referral, related or [], visible_site_ids=visible_site_ids
    )
    return Records(
        history=_history(events or []),
        signatures=signatures,
        decisions=_decisions_shown(decisions, signatures, limits),
        enrolment=_instance(Enrolment, enrolled) if enrolled else None,
        earlier=earlier,
        duplicates=duplicates,
    )


def rejection_reason_text(code: str, limits: rules.Limits) -> str:
    """The criterion a rejection rests on, with its text, or "Other"."""
    if code in rules.CODES:
        return f"{code} · {criterion_text(code, limits)}"
    return gettext("Other")


@dataclass(frozen=True)
class Headline:
    """What the referral's status means, in words: the first thing its page says."""

    tone: str  # Bootstrap contextual colour: success, danger, warning, info, secondary, dark
    title: str
    details: list[str]


def headline(
    referral: Referral,
    *,
    current: DecisionShown | None,
    enrolment: Enrolment | None,
    today: datetime.date,
) -> Headline:
    """The status headline of the referral page (no query)."""
    Status = Referral.Status
    status = referral.status
    if status == Status.ENROLLED and enrolment is not None:
        return Headline(
            "success",
            gettext("Enrolled as %(study_number)s") % {"study_number": enrolment.study_number},
            [gettext("Consent signed on %(date)s.") % {"date": enrolment.consent_date.isoformat()}],
        )
    if status in (Status.MDT_APPROVED, Status.MDT_REJECTED) and current is not None:
        decision = current.decision
        details = [gettext("Rationale: %(rationale)s") % {"rationale": decision.rationale}]
        if status == Status.MDT_APPROVED:
            title = gettext("Approved by the MDT on %(date)s")
            details.append(gettext("Next: record the patient's consent and enrol."))
        else:
            title = gettext("Rejected by the MDT on %(date)s")
            details.insert(0, gettext("Reason: %(reason)s") % {"reason": current.reason})
        tone = "success" if status == Status.MDT_APPROVED else "danger"
        return Headline(tone, title % {"date": decision.meeting_date.isoformat()}, details)
    if status == Status.WITHDRAWN:
        details = [referral.withdrawal_reason] if referral.withdrawal_reason else []
        return Headline(
            "dark",
            gettext("Withdrawn: %(reason)s")
            % {"reason": referral.get_withdrawal_code_display() or gettext("not coded")},
            details,
        )
    if status == Status.MDT_REVIEW:
        days = (today - referral.referral_date).days
        return Headline(
            "info",
            gettext("Awaiting the MDT's decision"),
            [
                ngettext("Referred %(days)s day ago.", "Referred %(days)s days ago.", days)
                % {"days": days}
            ],
        )
    if status == Status.SCREEN_FAILED:
        # The outcome below names the failing criteria.
        return Headline("danger", gettext("Screen failed: not eligible"), [])
    return Headline("warning", gettext("Screening: data missing"), [])


def approval_effect(stored: Referral, form, outcome: str) -> dict | None:
    """For an edit of an approved referral: whether the changes typed so far keep the MDT's
    approval (PROTOCOL section 6), and if not, why. None for any other referral."""
    if stored.status != Referral.Status.MDT_APPROVED:
        return None
    changed = [
        name
        for name, value in form.cleaned_data.items()
        if name in REFERRAL_KEYS and name not in form.errors and getattr(stored, name) != value
    ]
    if services.approval_kept(changed, outcome):
        return {"kept": True, "changed": bool(changed), "reasons": []}
    reasons = []
    others = [name for name in changed if name not in services.APPROVAL_KEEPING_FIELDS]
    if others:
        labels = [str(Referral._meta.get_field(name).verbose_name) for name in others]
        reasons.append(gettext("changed: %(fields)s") % {"fields": join_items(labels)})
    if outcome != rules.Outcome.POTENTIALLY_ELIGIBLE:
        reasons.append(
            gettext("the referral would be %(outcome)s")
            % {"outcome": Referral.Outcome(outcome).label}
        )
    return {"kept": False, "changed": True, "reasons": reasons}


def why(results: dict) -> str:
    """In a few words why a referral is where it is, for the list: the failing criteria, else
    what is missing, else what the MDT must confirm (no query)."""
    failing = [code for code in rules.CODES if results[code]["result"] == rules.FAIL]
    if failing:
        return ngettext("%(codes)s fails", "%(codes)s fail", len(failing)) % {
            "codes": join_items(failing)
        }
    missing = []
    for code in rules.CODES:
        if code != rules.DEFERRABLE and results[code]["result"] == rules.UNKNOWN:
            missing.extend(key for key in results[code]["missing"] if key not in missing)
    if missing:
        return gettext("Missing: %(fields)s") % {
            "fields": join_items([field_label(key) for key in missing])
        }
    if results[rules.DEFERRABLE]["result"] == rules.UNKNOWN:
        return gettext("E2 for the MDT to confirm")
    return ""
