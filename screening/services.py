"""Every state change of a referral has its home here (STYLE.md lesson 2)."""

import csv
import dataclasses
import functools
import hashlib
import io
import json
import operator
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import pghistory
from django.db import connection, models, transaction
from django.db.models import Count, Max
from django.db.models.base import DEFERRED
from django.utils import timezone
from django.utils.translation import gettext as _

from screening import notifications, persons, rules, units
from screening.models import (
    Enrolment,
    Evaluation,
    ExportLog,
    MdtDecision,
    ProtocolVersion,
    RecordView,
    Referral,
    Signature,
)
from screening.text import join_clauses, join_items, local_minute

Status = Referral.Status
Decision = MdtDecision.Decision

# A rejection names the criterion it rests on, or "other".
REJECTION_REASONS = (*rules.CODES, "other")
# Changes after which an MDT approval still holds when every criterion still passes (PROTOCOL
# section 6): the blood panel, the screening date and the dosimetry, and the identification
# and referral details, which no criterion reads. Any other change supersedes the decision.
APPROVAL_KEEPING_FIELDS = frozenset(
    {
        "labs_date",
        *units.LAB_KEYS,
        *(f"{key}_unit" for key in units.LAB_KEYS),
        "screening_date",
        "dosimetry_status",
        "lung_v20_percent",
        "lung_mean_dose_gy",
        "heart_v30_percent",
        "spinal_cord_max_gy",
        "hospital_number",
        "full_name",
        "national_id",
        "referring_physician",
        "referral_date",
    }
)
# Changes after which the possible-duplicate flags of PROTOCOL section 3a are worked out again.
PERSON_FIELDS = frozenset(
    {"site", "hospital_number", "national_id", "full_name", "date_of_birth", "sex"}
)
# Key of the PostgreSQL advisory lock that lets one enrolment at a time count and number.
ENROLMENT_LOCK = 4_157_001


class WorkflowError(Exception):
    """A state change the workflow refuses; the message is meant for the user."""


# Where evaluation sends a referral that is still being screened or reviewed.
STATUS_FOR_OUTCOME = {
    rules.Outcome.INELIGIBLE: Status.SCREEN_FAILED,
    rules.Outcome.INCOMPLETE: Status.SCREENING,
    rules.Outcome.POTENTIALLY_ELIGIBLE: Status.MDT_REVIEW,
}


def _attributed(service):
    """Attribute the audit events a service writes to its ``user``.

    In a web request pghistory's middleware already records the user; commands, the shell and
    worker threads have no request, and their changes would otherwise have no author.
    """

    @functools.wraps(service)
    def attributed(*, user=None, **kwargs):
        if user is None:
            return service(user=user, **kwargs)
        with pghistory.context(user=user.pk):
            return service(user=user, **kwargs)

    return attributed


def _lock(referral: Referral) -> None:
    """Lock the referral's row until the transaction ends and reload its workflow fields.

    Every workflow change takes this lock first, so two changes to one referral run one after
    the other and the second sees what the first left.
    """
    current = (
        Referral.objects.select_for_update()
        .values("status", "outcome", "evaluation_id", "possible_duplicate")
        .get(pk=referral.pk)
    )
    for name, value in current.items():
        setattr(referral, name, value)


def _next_screening_numbers(count: int) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval('screening_referral_number_seq') FROM generate_series(1, %s)", [count]
        )
        return [f"S-{number:05d}" for (number,) in cursor.fetchall()]


def _evaluation_record(referral, protocol, user, result: rules.Evaluation) -> Evaluation:
    """The evaluation of ``referral`` giving ``result``."""
    return Evaluation(
        referral=referral,
        protocol_version=protocol,
        outcome=str(result.outcome),
        results={criterion.code: criterion.to_json() for criterion in result.results},
        snapshot=referral.snapshot().to_json(),
        created_by=user,
    )


COPY_CHUNK = 256 * 1024  # characters COPY is sent at a time
# COPY reads CSV with a tab between fields, and a field holding a tab, a line break or this
# quote character between two of it: a character no text of ours holds, so JSON (whose text
# holds none of the others) is never quoted.
COPY_QUOTE = "\x1f"
_NEEDS_QUOTES = re.compile(f"[\t\n\r{COPY_QUOTE}]")


def _quoted(text: str | None) -> str:
    """``text`` as a field of COPY's CSV, as the csv module writes it, in one scan."""
    if text is None:
        return ""
    if _NEEDS_QUOTES.search(text) is None:
        return text
    return COPY_QUOTE + text.replace(COPY_QUOTE, COPY_QUOTE * 2) + COPY_QUOTE


class _CsvRows:
    """A file COPY reads as CSV, made from ``rows`` a chunk at a time in a second thread while
    COPY sends the chunk before: PostgreSQL stores rows while Python makes the next. (Made in
    the sending thread, each waited for the other over a Unix socket, whose buffer holds
    little: both COPYs of an import took half as long again.) A context manager: leaving it
    waits for the chunk in the making, should COPY stop early.

    A row is (its texts, its short values): the texts (JSON, kilobytes each) go first as
    ``_quoted`` gives them, as the csv module would copy them character by character; the csv
    module writes the short values, in C.
    """

    def __init__(self, rows: Iterable[tuple[list, tuple]]):
        self._rows = iter(rows)
        self._buffer = io.StringIO()
        self._writer = csv.writer(
            self._buffer, delimiter="\t", quotechar=COPY_QUOTE, lineterminator="\n"
        )
        self._second_thread = ThreadPoolExecutor(max_workers=1)
        self._next = self._second_thread.submit(self._chunk)

    def __enter__(self):
        return self

    def __exit__(self, *exception):
        self._second_thread.shutdown()

    def _chunk(self) -> str:
        buffer, write = self._buffer, self._buffer.write
        for texts, values in self._rows:
            for text in texts:
                write(_quoted(text))
                write("\t")
            self._writer.writerow(values)
            if buffer.tell() >= COPY_CHUNK:
                break
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    def read(self, size: int = -1) -> str:
        """The next chunk (about ``COPY_CHUNK`` characters, whatever ``size``); "" at the end."""
        chunk = self._next.result()
        if chunk:
            self._next = self._second_thread.submit(self._chunk)
        return chunk


def _copy_into(model, rows: Iterable[dict]) -> None:
    """Insert ``rows`` (a dict of column values by attname each, the ids already drawn, JSON
    given as its text) with one COPY: PostgreSQL reads it much faster than a multi-row INSERT of
    as many parameters, and the audit triggers fire on it as on an INSERT, in the same pghistory
    context. ``rows`` may be made as they are read. Fields set when saved (``auto_now``,
    ``auto_now_add``) get one moment for all the rows.

    The rows go as CSV (``_CsvRows``): None is an empty field, which COPY reads as NULL; an
    empty text is an empty field too, which COPY keeps as text in the columns that cannot be
    NULL (``FORCE_NOT_NULL``).
    """
    fields = [field for field in model._meta.concrete_fields if not field.generated]
    ambiguous = [field.name for field in fields if field.null and field.empty_strings_allowed]
    if ambiguous:
        raise ValueError(f"COPY as CSV cannot tell an empty text from NULL in {ambiguous}")
    texts = [field for field in fields if isinstance(field, models.JSONField)]
    fields = texts + [field for field in fields if field not in texts]  # the COPY's order
    now = timezone.now()
    stamped = [field.attname for field in fields if getattr(field, "auto_now_add", False)]
    stamped += [field.attname for field in fields if getattr(field, "auto_now", False)]
    short_of = operator.itemgetter(*(field.attname for field in fields if field not in texts))

    def row_of(values: dict) -> tuple[list, tuple]:
        for attname in stamped:
            values[attname] = now
        return [values[field.attname] for field in texts], short_of(values)

    quote = connection.ops.quote_name
    names = ", ".join(quote(field.column) for field in fields)
    not_null = ", ".join(quote(field.column) for field in fields if not field.null)
    with connection.cursor() as cursor:
        # pghistory sets its context (who, from which page) in front of each statement Django
        # sends but a SELECT, for the rest of the transaction; COPY goes around Django's
        # cursor, so a statement of ours carries it first.
        cursor.execute("SET LOCAL screening.copying_rows = 'on'")
        # copy_expert is psycopg2's own: its errors become Django's (IntegrityError, say) here.
        with connection.wrap_database_errors, _CsvRows(map(row_of, rows)) as csv_rows:
            cursor.copy_expert(
                f"COPY {model._meta.db_table} ({names}) FROM STDIN WITH (FORMAT csv, DELIMITER "
                f"E'\\t', QUOTE E'\\x{ord(COPY_QUOTE):02x}', FORCE_NOT_NULL ({not_null}))",
                csv_rows,
                COPY_CHUNK,
            )


@functools.cache
def _referral_layout() -> tuple[tuple[str, ...], dict]:
    """Referral's columns (attnames) in order, and the value each takes in a new referral unless
    given (worked out once: no Referral field has a default made afresh for each row)."""
    fields = Referral._meta.concrete_fields
    return tuple(field.attname for field in fields), {
        field.attname: DEFERRED if field.generated else field.get_default() for field in fields
    }


def _new_referral_values(values: dict, *, user) -> dict:
    """Every column of a new referral by attname: ``values`` (its clean data, ``site`` a Site,
    and what the service sets), its creator ``user``, the rest at their defaults."""
    return {
        **_referral_layout()[1],
        **values,
        "site_id": values["site"].pk,
        "created_by_id": getattr(user, "pk", None),
    }


def _new_referral(values: dict, *, user) -> Referral:
    """The referral of ``_new_referral_values``, made positionally, Django's quick way: made
    from keyword arguments, an import's referrals cost more than evaluating them."""
    referral = Referral(*[values[attname] for attname in _referral_layout()[0]])
    Referral.site.field.set_cached_value(referral, values["site"])
    if user is not None:
        Referral.created_by.field.set_cached_value(referral, user)
    return referral


@functools.cache
def _id_sequence(table: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        return cursor.fetchone()[0]


def _draw_ids(model, count: int) -> list[int]:
    """``count`` ids from the table's own sequence, for rows inserted with them. The sequence
    is named as a constant: looked up in the query, it was looked up again for each id, which
    took ten times as long as drawing them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(%s::regclass) FROM generate_series(1, %s)",
            [_id_sequence(model._meta.db_table), count],
        )
        return [value for (value,) in cursor.fetchall()]


def _status_after(referral: Referral, outcome: str) -> str:
    """The workflow status once a referral has a new evaluation (PROTOCOL section 6)."""
    if referral.status in Referral.CLOSED_STATUSES:
        return referral.status
    return STATUS_FOR_OUTCOME[outcome]


def ensure_editable(referral: Referral) -> None:
    """Raise WorkflowError when the referral is closed and its data can no longer change."""
    if referral.is_closed:
        raise WorkflowError(
            _("%(number)s is %(status)s; its data can no longer change.")
            % {"number": referral.screening_number, "status": referral.get_status_display()}
        )


def ensure_withdrawable(referral: Referral) -> None:
    """Raise WorkflowError when the referral is closed and cannot be withdrawn."""
    if referral.is_closed:
        raise WorkflowError(
            _("%(number)s is %(status)s and cannot be withdrawn.")
            % {"number": referral.screening_number, "status": referral.get_status_display()}
        )


class Evaluated(NamedTuple):
    """A referral about to be created, with its evaluation stored (``evaluations_create``)."""

    referral_id: int
    evaluation_id: int
    outcome: rules.Outcome


@_attributed
@transaction.atomic
def evaluations_create(*, rows: list[dict], user=None) -> list[Evaluated]:
    """Evaluate the referrals about to be created from ``rows`` (as ``referrals_create`` takes
    them) and store their evaluations, the referrals' ids drawn for them. ``referrals_create``
    must then create those referrals (``evaluated``) in the same transaction: each evaluation
    points at its referral, which the database checks at commit. An import stores a checked
    batch's evaluations while its later rows are still being checked. Four queries and one COPY,
    plus the audit trigger's own write."""
    return _evaluations_store(rows, user)


def _evaluations_store(rows: list[dict], user) -> list[Evaluated]:
    protocol = ProtocolVersion.current()
    limits = protocol.limits()
    # The referral points at its evaluation and the evaluation back at it: both ids are drawn
    # first, and the database checks both foreign keys at commit.
    referral_ids = _draw_ids(Referral, len(rows))
    evaluation_ids = _draw_ids(Evaluation, len(rows))
    created_by_id = getattr(user, "pk", None)
    evaluated = []

    def evaluation_rows():
        # Made as COPY reads them: one row is evaluated and its JSON written while the database
        # stores the ones before.
        for data, referral_id, evaluation_id in zip(
            rows, referral_ids, evaluation_ids, strict=True
        ):
            snapshot = Referral.snapshot_of(data)  # the clean data holds every snapshot field
            result = rules.evaluate(snapshot, limits)
            evaluated.append(Evaluated(referral_id, evaluation_id, result.outcome))
            yield {  # the columns of ``_evaluation_record``
                "id": evaluation_id,
                "referral_id": referral_id,
                "protocol_version_id": protocol.pk,
                "outcome": str(result.outcome),
                "results": result.results_json_text(),
                "snapshot": snapshot.json_text(),
                "created_at": None,
                "created_by_id": created_by_id,
            }

    _copy_into(Evaluation, evaluation_rows())
    return evaluated


@_attributed
@transaction.atomic
def referrals_create(
    *,
    rows: Iterable[dict],
    user=None,
    screening: persons.Screening | None = None,
    evaluated: list[Evaluated] | None = None,
) -> list[Referral]:
    """Create and evaluate referrals from validated clinical data (``ReferralForm.clinical_data``).

    One transaction for all rows: either every referral is saved or none. Each is linked to its
    person's latest closed referral and flagged when it is a possible duplicate (PROTOCOL
    section 3a); a person with an open referral or an enrolment is refused. ``screening`` is
    ``persons.screen`` of the rows' people when the caller made it in this transaction (an
    import screens the whole file before saving any of it); ``evaluated``, the rows'
    ``evaluations_create`` when the caller stored their evaluations already. Costs a constant
    number of queries per batch plus the audit triggers' own writes.
    """
    rows = list(rows)
    if not rows:
        return []
    if screening is None:
        screening = persons.screen([persons.Person.from_data(data) for data in rows])
    for finding in screening.findings:
        for _field, message in finding.refusals:
            raise WorkflowError(message)
    if evaluated is None:
        evaluated = _evaluations_store(rows, user)
    numbers = _next_screening_numbers(len(rows))
    referrals = []

    def referral_rows():
        # Made as COPY reads them, while the database stores the rows before; each Referral
        # object once COPY has taken its row and set its times.
        for number, data, finding, (referral_id, evaluation_id, outcome) in zip(
            numbers, rows, screening.findings, evaluated, strict=True
        ):
            values = _new_referral_values(
                {
                    **data,
                    "id": referral_id,
                    "evaluation_id": evaluation_id,
                    "screening_number": number,
                    "previous_referral_id": finding.previous_id,
                    "possible_duplicate": finding.possible_duplicate,
                    "outcome": str(outcome),
                    "status": STATUS_FOR_OUTCOME[outcome],  # a new referral is open
                },
                user=user,
            )
            yield values
            referrals.append(_new_referral(values, user=user))

    _copy_into(Referral, referral_rows())
    if screening.stored_duplicates:
        Referral.objects.filter(
            pk__in=screening.stored_duplicates, possible_duplicate=False
        ).update(possible_duplicate=True)
    notifications.referrals_created(referrals, user=user)
    return referrals


def referral_create(*, data: dict, user=None) -> Referral:
    """Create one referral from validated clinical data and evaluate it."""
    return referrals_create(rows=[data], user=user)[0]


def approval_kept(changed: Iterable[str], outcome: str) -> bool:
    """Whether an MDT approval survives a change of the ``changed`` fields after which the
    referral's outcome is ``outcome`` (PROTOCOL section 6, evidence binding)."""
    return set(changed) <= APPROVAL_KEEPING_FIELDS and outcome == rules.Outcome.POTENTIALLY_ELIGIBLE


@_attributed
@transaction.atomic
def referral_evaluate(
    *, referral: Referral, user=None, protocol=None, changed: Iterable[str] = ()
) -> Evaluation:
    """Evaluate the referral's current data and move it along the workflow.

    An MDT approval is bound to the evidence it saw (PROTOCOL section 6). It is kept when the
    ``changed`` fields are all ``APPROVAL_KEEPING_FIELDS`` and the referral is still potentially
    eligible (every criterion but E2 passes, E2 does not fail); it then rests on the new
    evaluation. Otherwise it is superseded
    and the referral goes where the new outcome sends it.
    """
    _lock(referral)
    previous = referral.status
    protocol = protocol or ProtocolVersion.current()
    result = rules.evaluate(referral.snapshot(), protocol.limits())
    evaluation = _evaluation_record(referral, protocol, user, result)
    evaluation.save()
    referral.evaluation = evaluation
    referral.outcome = evaluation.outcome
    if referral.status == Status.MDT_APPROVED:
        decision = referral.current_decision()
        if approval_kept(changed, result.outcome):
            evidence = decision.rests_on or decision.evaluation
            # Compared as snapshots, not JSON: a value read back from the database ("43.00000")
            # equals the one entered ("43"), and a mere re-save changes nothing.
            if rules.Snapshot.from_json(evidence.snapshot) != rules.Snapshot.from_json(
                evaluation.snapshot
            ) or (evidence.protocol_version_id != evaluation.protocol_version_id):
                decision.rests_on = evaluation
                decision.save(update_fields=["rests_on"])
        else:
            decision.superseded_at = timezone.now()
            decision.save(update_fields=["superseded_at"])
            referral.status = STATUS_FOR_OUTCOME[evaluation.outcome]
    else:
        referral.status = _status_after(referral, evaluation.outcome)
    referral.save(update_fields=["evaluation", "outcome", "status", "updated_at"])
    notifications.status_changed(referral, previous, user=user)
    return evaluation


@_attributed
@transaction.atomic
def referral_update(
    *, referral: Referral, data: dict, change_reason: str, source: str = "", user=None
) -> Referral:
    """Assign edited clinical data to a referral that is not closed and re-evaluate it.

    ``change_reason`` (required, PROTOCOL section 6) and ``source``, where the data came from
    when not typed in (a laboratory file), are kept in the audit context of every event the
    change writes.
    """
    if not change_reason.strip():
        raise WorkflowError(_("Give the reason for the change."))
    audit_context = {"change_reason": change_reason.strip()}
    if source:
        audit_context["data_source"] = source
    with pghistory.context(**audit_context):
        return _referral_update(referral=referral, data=data, user=user)


def _referral_update(*, referral: Referral, data: dict, user) -> Referral:
    _lock(referral)
    ensure_editable(referral)
    before = persons.Person.of(referral)
    changed = [name for name, value in data.items() if getattr(referral, name) != value]
    for name in changed:
        setattr(referral, name, data[name])
    referral.save(update_fields=[*changed, "updated_at"])
    if PERSON_FIELDS.intersection(changed):
        persons.refresh_duplicate_flags([before, persons.Person.of(referral)])
    referral_evaluate(referral=referral, user=user, changed=changed)
    return referral


@_attributed
@transaction.atomic
def referral_withdraw(*, referral: Referral, code: str, reason: str = "", user=None) -> Referral:
    """Withdraw a referral that is not closed, for a coded reason (``WithdrawalReason``) and
    its details; irreversible."""
    _lock(referral)
    ensure_withdrawable(referral)
    if code not in Referral.WithdrawalReason.values:
        raise WorkflowError(_("Choose the reason for the withdrawal."))
    if code == Referral.WithdrawalReason.OTHER and not reason.strip():
        raise WorkflowError(_("Describe the reason for the withdrawal."))
    referral.status = Status.WITHDRAWN
    referral.withdrawal_code = code
    referral.withdrawal_reason = reason.strip()
    referral.save(update_fields=["status", "withdrawal_code", "withdrawal_reason", "updated_at"])
    return referral


def evaluation_hash(evaluation: Evaluation) -> str:
    """SHA-256 of what an evaluation judged and found, in a canonical JSON form."""
    canonical = json.dumps(
        {
            "protocol_version": evaluation.protocol_version_id,
            "outcome": evaluation.outcome,
            "results": evaluation.results,
            "snapshot": evaluation.snapshot,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _sign(referral, user, meaning, evaluation, *, second_factor, **act) -> Signature:
    """Record ``user``'s signature of an act on ``referral`` (its decision or enrolment in
    ``act``), bound to the evaluation it rested on."""
    return Signature.objects.create(
        referral=referral,
        meaning=meaning,
        signer=user,
        signer_name=user.get_full_name() or user.get_username(),
        evaluation=evaluation,
        evaluation_hash=evaluation_hash(evaluation),
        second_factor=second_factor,
        **act,
    )


def _not_in_review_error(referral: Referral) -> WorkflowError:
    decision = referral.current_decision()
    if decision is None:
        return WorkflowError(
            _("%(number)s is not awaiting an MDT decision (status: %(status)s).")
            % {"number": referral.screening_number, "status": referral.get_status_display()}
        )
    if decision.decision == Decision.APPROVE:
        message = _("%(number)s was already decided by %(user)s at %(time)s: approved.")
    else:
        message = _("%(number)s was already decided by %(user)s at %(time)s: rejected.")
    return WorkflowError(
        message
        % {
            "number": referral.screening_number,
            "user": decision.decided_by.get_username(),
            "time": local_minute(decision.decided_at),
        }
    )


def ensure_meeting_date(meeting_date, referral_date) -> None:
    """Raise WorkflowError when an MDT cannot have met on ``meeting_date``: in the future, or
    before the patient was referred."""
    if meeting_date > timezone.localdate():
        raise WorkflowError(_("The meeting date is in the future."))
    if meeting_date < referral_date:
        raise WorkflowError(
            _("The meeting date is before the referral date (%(date)s).")
            % {"date": referral_date.isoformat()}
        )


@_attributed
@transaction.atomic
def mdt_decision_record(
    *,
    referral: Referral,
    user,
    decision: str,
    rationale: str,
    reason_code: str = "",
    attendees: str = "",
    meeting_date=None,
    evaluation_id: int | None = None,
    second_factor: bool = False,
) -> MdtDecision:
    """Record the MDT's decision on a referral in review, bound to its current evaluation.

    ``meeting_date`` is the day the MDT met (default today): not in the future, not before the
    referral date (PROTOCOL section 6).

    ``evaluation_id`` is the evaluation the deciders looked at; if the data changed since, the
    decision is refused rather than bound to evidence nobody saw. The referral's row is locked,
    so of two simultaneous decisions the second finds the first and is refused naming who
    decided and when; the one-current-decision constraint is the database's backstop. The
    decision is signed by ``user`` (who gave a second factor when ``second_factor``).
    """
    _lock(referral)
    if referral.status != Status.MDT_REVIEW:
        raise _not_in_review_error(referral)
    if evaluation_id is not None and evaluation_id != referral.evaluation_id:
        raise WorkflowError(
            _("The data of %(number)s changed while you were looking at it; review it again.")
            % {"number": referral.screening_number}
        )
    if decision not in Decision.values:
        raise WorkflowError(_("Choose approve or reject."))
    if not rationale.strip():
        raise WorkflowError(_("Give the rationale for the decision."))
    if decision == Decision.REJECT and reason_code not in REJECTION_REASONS:
        raise WorkflowError(_("Give the criterion the rejection rests on, or other."))
    meeting_date = meeting_date or timezone.localdate()
    ensure_meeting_date(meeting_date, referral.referral_date)
    record = MdtDecision.objects.create(
        referral=referral,
        evaluation_id=referral.evaluation_id,
        decision=decision,
        rationale=rationale.strip(),
        reason_code=reason_code if decision == Decision.REJECT else "",
        attendees=attendees.strip(),
        meeting_date=meeting_date,
        decided_by=user,
    )
    approved = decision == Decision.APPROVE
    _sign(
        referral,
        user,
        Signature.Meaning.APPROVED if approved else Signature.Meaning.REJECTED,
        record.evaluation,
        second_factor=second_factor,
        decision=record,
    )
    referral.status = Status.MDT_APPROVED if approved else Status.MDT_REJECTED
    referral.save(update_fields=["status", "updated_at"])
    notifications.status_changed(referral, Status.MDT_REVIEW, user=user)
    return record


@_attributed
@transaction.atomic
def mdt_decision_void(
    *, referral: Referral, user, reason: str, second_factor: bool = False
) -> MdtDecision:
    """Void the MDT's current decision on a referral not yet enrolled (PROTOCOL section 6): the
    decision is superseded, kept in the history with who voided it and why, the voiding is
    signed by ``user``, and the referral returns to the MDT queue.

    A rejected referral is closed, so a new referral of the same person may be open; voiding
    the rejection would give the person two open referrals and is refused.
    """
    _lock(referral)
    if referral.status not in (Status.MDT_APPROVED, Status.MDT_REJECTED):
        raise WorkflowError(
            _("%(number)s has no MDT decision that can be voided (status: %(status)s).")
            % {"number": referral.screening_number, "status": referral.get_status_display()}
        )
    if not reason.strip():
        raise WorkflowError(_("Give the reason for voiding the decision."))
    if referral.status == Status.MDT_REJECTED:
        stored = Referral.objects.get(pk=referral.pk)
        (finding,) = persons.check([persons.Person.of(stored)])
        if finding.refusals:
            _field, refusal = finding.refusals[0]
            raise WorkflowError(
                _("The rejection of %(number)s cannot be voided: %(refusal)s")
                % {"number": referral.screening_number, "refusal": refusal}
            )
    decision = referral.current_decision()
    decision.superseded_at = timezone.now()
    decision.voided_by = user
    decision.void_reason = reason.strip()
    decision.save(update_fields=["superseded_at", "voided_by", "void_reason"])
    _sign(
        referral,
        user,
        Signature.Meaning.VOIDED,
        decision.rests_on or decision.evaluation,
        second_factor=second_factor,
        decision=decision,
    )
    referral.status = STATUS_FOR_OUTCOME[referral.outcome]
    referral.save(update_fields=["status", "updated_at"])
    notifications.decision_voided(referral, decision, user=user)
    return decision


def _not_approved_error(referral: Referral) -> WorkflowError:
    if referral.status == Status.ENROLLED:
        return WorkflowError(
            _("%(number)s is already enrolled as %(study_number)s.")
            % {
                "number": referral.screening_number,
                "study_number": Enrolment.objects.get(referral=referral).study_number,
            }
        )
    return WorkflowError(
        _("%(number)s needs MDT approval first (status: %(status)s).")
        % {"number": referral.screening_number, "status": referral.get_status_display()}
    )


def eligibility_on(referral: Referral, day, protocol: ProtocolVersion) -> rules.Evaluation:
    """The twelve criteria judged as of ``day`` instead of the screening date (PROTOCOL
    section 4): age on that day, labs fresh when taken at most 28 days before it."""
    snapshot = dataclasses.replace(referral.snapshot(), screening_date=day)
    return rules.evaluate(snapshot, protocol.limits())


def not_eligible_reasons(result: rules.Evaluation, labs_date, day) -> list[str]:
    """What stands in the way of enrolment on ``day`` in ``result`` (``eligibility_on``), one
    line per problem: the criteria that stale labs hold back together, then each other one."""
    held_back = {code for code, _missing in result.todo}
    blocking = [r for r in result.results if r.result is rules.FAIL or r.code in held_back]
    stale = [r.code for r in blocking if labs_date is not None and r.missing == ("labs_date",)]
    lines = []
    if stale:
        lines.append(
            _(
                "%(codes)s: labs dated %(date)s are %(days)s days old on that day; enter a new "
                "blood panel"
            )
            % {
                "codes": join_items(stale),
                "date": labs_date.isoformat(),
                "days": (day - labs_date).days,
            }
        )
    lines.extend(f"{r.code}: {r.reason}" for r in blocking if r.code not in stale)
    return lines


@_attributed
@transaction.atomic
def participant_enrol(
    *,
    referral: Referral,
    user,
    consent_date,
    identity_confirmed: bool = False,
    second_factor: bool = False,
) -> Enrolment:
    """Enrol an MDT-approved referral under the next study number, never past the target.

    The consent date must fall between the MDT meeting that approved the referral and today,
    inside the accrual window, and the referral must be eligible on it (PROTOCOL section 4); a
    possible duplicate needs
    ``identity_confirmed``. Enrolments run one at a time: a transaction-scoped advisory lock is
    held from before these checks and the count until the commit, so two people enrolling at
    once can neither both take the last place nor the same number. The unique sequence and
    study number are the backstop. The enrolment is signed by ``user``.
    """
    # An advisory lock rather than a row lock on the protocol version: a data manager may
    # create a new version meanwhile, and enrolments must still queue behind one another.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ENROLMENT_LOCK])
    _lock(referral)
    if referral.status != Status.MDT_APPROVED:
        raise _not_approved_error(referral)
    met_on = referral.current_decision().meeting_date
    if consent_date < met_on:
        raise WorkflowError(
            _("The consent date is before the MDT meeting that approved it (%(date)s).")
            % {"date": met_on.isoformat()}
        )
    if consent_date > timezone.localdate():
        raise WorkflowError(_("The consent date is in the future."))
    protocol = ProtocolVersion.current()
    if consent_date > protocol.accrual_end:
        raise WorkflowError(
            _("The consent date is after the accrual window closed (%(date)s).")
            % {"date": protocol.accrual_end.isoformat()}
        )
    if referral.possible_duplicate and not identity_confirmed:
        raise WorkflowError(
            _(
                "%(number)s may be the same person as another referral: check the identity and "
                "confirm it before enrolling."
            )
            % {"number": referral.screening_number}
        )
    # The clinical data as committed, read under the lock.
    current = Referral.objects.get(pk=referral.pk)
    eligibility = eligibility_on(current, consent_date, protocol)
    if eligibility.outcome is not rules.Outcome.POTENTIALLY_ELIGIBLE:
        problems = not_eligible_reasons(eligibility, current.labs_date, consent_date)
        raise WorkflowError(
            _("%(number)s is not eligible on the consent date %(date)s: %(problems)s.")
            % {
                "number": referral.screening_number,
                "date": consent_date.isoformat(),
                "problems": join_clauses(problems),
            }
        )
    enrolled = Enrolment.objects.aggregate(count=Count("id"), last=Max("sequence"))
    if enrolled["count"] >= protocol.enrolment_target:
        raise WorkflowError(
            _("The enrolment target of %(target)s is reached: %(number)s cannot be enrolled.")
            % {"target": protocol.enrolment_target, "number": referral.screening_number}
        )
    sequence = (enrolled["last"] or 0) + 1
    enrolment = Enrolment.objects.create(
        referral=referral,
        sequence=sequence,
        study_number=protocol.study_number(sequence),
        consent_date=consent_date,
        enrolled_by=user,
        protocol_version=protocol,
        identity_confirmed=identity_confirmed,
        eligibility={
            **eligibility.to_json(),
            "as_of": consent_date.isoformat(),
            "protocol_version": protocol.version,
        },
    )
    _sign(
        referral,
        user,
        Signature.Meaning.ENROLLED,
        current.evaluation,
        second_factor=second_factor,
        enrolment=enrolment,
    )
    referral.status = Status.ENROLLED
    referral.save(update_fields=["status", "updated_at"])
    notifications.participant_enrolled(
        count=enrolled["count"] + 1, target=protocol.enrolment_target, user=user
    )
    return enrolment


@_attributed
@transaction.atomic
def participant_decline(*, referral: Referral, user) -> Referral:
    """Record that an MDT-approved patient declined consent: withdrawn, for that reason."""
    _lock(referral)
    if referral.status != Status.MDT_APPROVED:
        raise _not_approved_error(referral)
    return referral_withdraw(
        referral=referral, code=Referral.WithdrawalReason.DECLINED_CONSENT, user=user
    )


@_attributed
def export_log_create(
    *,
    user,
    kind: str,
    file_format: str,
    row_count: int,
    site=None,
    referred_from=None,
    referred_to=None,
    channel: str = ExportLog.Channel.BROWSER,
    os_user: str = "",
) -> ExportLog:
    """Record that an export is starting: for ``user`` (None for a command run without a
    user, which ``os_user`` names), by ``channel``. Its audit event carries the same facts;
    ``export_log_finish`` records how it ended."""
    return ExportLog.objects.create(
        exported_by=user,
        kind=kind,
        file_format=file_format,
        row_count=row_count,
        site=site,
        referred_from=referred_from,
        referred_to=referred_to,
        outcome=ExportLog.Outcome.STARTED,
        channel=channel,
        os_user=os_user,
    )


@_attributed
def export_log_finish(*, log: ExportLog, outcome: str, user=None) -> ExportLog:
    """Record how a started export ended: delivered (its last byte handed over) or failed.

    One UPDATE, attributed to ``user``: a streamed download ends after its request's audit
    context has closed.
    """
    if outcome not in (ExportLog.Outcome.DELIVERED, ExportLog.Outcome.FAILED):
        raise ValueError(f"an export ends delivered or failed, not {outcome!r}")
    log.outcome = outcome
    log.save(update_fields=["outcome"])
    return log


@functools.cache
def _record_view_sql() -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(
        quote(RecordView._meta.get_field(name).column)
        for name in ("viewer", "kind", "referral", "viewed_at")
    )
    return f"INSERT INTO {quote(RecordView._meta.db_table)} ({columns}) VALUES (%s, %s, %s, %s)"


def record_view_create(*, user, kind: str, referral: Referral | None = None) -> None:
    """Record that ``user`` saw identified data: a referral's page or history, or the
    identification list (``RecordView.Kind``). One INSERT, in SQL: every view of a referral
    runs it, and the ORM took longer to build it than the database to run it; the row is
    never changed."""
    with connection.cursor() as cursor:
        cursor.execute(
            _record_view_sql(),
            [user.pk, kind, referral.pk if referral is not None else None, timezone.now()],
        )
