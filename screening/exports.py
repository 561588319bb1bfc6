"""Export rows (PROTOCOL section 7): columns, headers, filters and the row builders.

The row builders take a queryset and yield plain dicts, built once for every format;
``screening.writers`` writes them as CSV, XLSX or JSON. The command-line exports and the
browser downloads share both.
"""

import contextlib
import datetime
import functools
import json

from django.db import transaction
from django.db.models import F, FilteredRelation, Func, OuterRef, Q, Subquery, TextField, Value
from django.db.models.functions import Concat
from django.utils import timezone
from django.utils.translation import pgettext_lazy

from screening import rules, staging
from screening.models import MdtDecision, Referral, Signature
from screening.text import join_clauses

# The trial's short code, in every export's file name (and the prefix of its study numbers).
TRIAL_CODE = "EC"

# The patient and the tumour, in the screening log and in the enrolment list alike.
CLINICAL_COLUMNS = ("age", "sex", "histology", "ct", "cn", "cm", "stage_group")
SCREENING_LOG_COLUMNS = (
    "screening_number",
    "site",
    "referral_date",
    "screening_date",
    *CLINICAL_COLUMNS,
    "outcome",
    "status",
    *rules.CODES,
    "reasons",
    "protocol_version",
    "mdt_decision",
    "mdt_decision_date",
    "mdt_decision_signature",
    "study_number",
    "previous_screening_number",
    "withdrawal_reason",
    "consent_date",
)
IDENTIFYING_COLUMNS = ("hospital_number", "full_name")
ENROLMENT_COLUMNS = (
    "study_number",
    "screening_number",
    "site",
    "consent_date",
    "enrolment_date",
    *CLINICAL_COLUMNS,
    "mdt_approval_date",
)
# ICH E6 8.3.21: the confidential list linking screening and study numbers to patients.
IDENTIFICATION_COLUMNS = (
    "screening_number",
    "study_number",
    "full_name",
    "hospital_number",
    "national_id",
)
# Rows per fetch of the server-side cursor: 100,000-row screening log peaked at 88 MB RSS
# with 500 and 125 MB with 2000, in the same time.
ROWS_PER_FETCH = 500
# Rendered reasons kept during one export: rows share them, and 10,000 stay well inside memory.
REASONS_KEPT = 10_000
# The header row of a browser download in the reader's language. Each key is its own English
# "translation", so English files, the commands and the JSON keep the section 7 keys.
COLUMN_HEADERS = {
    "screening_number": pgettext_lazy("export column", "screening_number"),
    "site": pgettext_lazy("export column", "site"),
    "referral_date": pgettext_lazy("export column", "referral_date"),
    "screening_date": pgettext_lazy("export column", "screening_date"),
    "age": pgettext_lazy("export column", "age"),
    "sex": pgettext_lazy("export column", "sex"),
    "histology": pgettext_lazy("export column", "histology"),
    "ct": pgettext_lazy("export column", "ct"),
    "cn": pgettext_lazy("export column", "cn"),
    "cm": pgettext_lazy("export column", "cm"),
    "stage_group": pgettext_lazy("export column", "stage_group"),
    "outcome": pgettext_lazy("export column", "outcome"),
    "status": pgettext_lazy("export column", "status"),
    "reasons": pgettext_lazy("export column", "reasons"),
    "protocol_version": pgettext_lazy("export column", "protocol_version"),
    "mdt_decision": pgettext_lazy("export column", "mdt_decision"),
    "mdt_decision_date": pgettext_lazy("export column", "mdt_decision_date"),
    "mdt_decision_signature": pgettext_lazy("export column", "mdt_decision_signature"),
    "study_number": pgettext_lazy("export column", "study_number"),
    "previous_screening_number": pgettext_lazy("export column", "previous_screening_number"),
    "withdrawal_reason": pgettext_lazy("export column", "withdrawal_reason"),
    "hospital_number": pgettext_lazy("export column", "hospital_number"),
    "full_name": pgettext_lazy("export column", "full_name"),
    "consent_date": pgettext_lazy("export column", "consent_date"),
    "enrolment_date": pgettext_lazy("export column", "enrolment_date"),
    "mdt_approval_date": pgettext_lazy("export column", "mdt_approval_date"),
    "national_id": pgettext_lazy("export column", "national_id"),
}


def column_headers(columns) -> list[str]:
    """The header row in the active language; criterion codes (I1 ... E6) stay as they are."""
    return [str(COLUMN_HEADERS.get(column, column)) for column in columns]


def screening_log_columns(*, identified: bool = False) -> tuple[str, ...]:
    if identified:
        return (SCREENING_LOG_COLUMNS[0], *IDENTIFYING_COLUMNS, *SCREENING_LOG_COLUMNS[1:])
    return SCREENING_LOG_COLUMNS


def export_filename(name: str, extension: str, *, on: datetime.date | None = None) -> str:
    """E.g. ``trialscreen-EC-screening-log-2026-11-26.csv``: trial code and export date."""
    on = on or timezone.localdate()
    return f"trialscreen-{TRIAL_CODE}-{name}-{on.isoformat()}.{extension}"


def referrals_filtered(
    referrals=None,
    *,
    site: str | None = None,
    referred_from: datetime.date | None = None,
    referred_to: datetime.date | None = None,
):
    """Referrals of one site (by code) and referral-date range (inclusive); None means any."""
    referrals = Referral.objects.all() if referrals is None else referrals
    if site:
        referrals = referrals.filter(site__code=site)
    if referred_from:
        referrals = referrals.filter(referral_date__gte=referred_from)
    if referred_to:
        referrals = referrals.filter(referral_date__lte=referred_to)
    return referrals


def _local_date(moment: datetime.datetime | None) -> datetime.date | None:
    """The date in the trial's time zone (settings.TIME_ZONE), not the server's."""
    return None if moment is None else timezone.localdate(moment)


class _NotPassing(Func):
    """``[[code, template, params], ...]`` of the criteria that do not pass, as JSON text (NULL
    when all pass): PostgreSQL walks each row's results once, so Python decodes only this."""

    template = (
        "(SELECT jsonb_agg(jsonb_build_array(c.key, c.value -> 'template', c.value -> 'params'))"
        f"::text FROM jsonb_each(%(expressions)s) AS c WHERE c.value ->> 'result' <> "
        f"'{rules.Result.PASS.value}')"
    )
    output_field = TextField()


def _reasons_renderer():
    """A function from ``_NotPassing`` text to "I2: cT2 cN0 is early stage; E4: ...", in the
    active language and in criterion order; it keeps up to ``REASONS_KEPT`` texts."""
    position = {code: index for index, code in enumerate(rules.CODES)}
    rendered = {}

    def reasons(not_passing: str | None) -> str:
        if not_passing is None:
            return ""
        text = rendered.get(not_passing)
        if text is None:
            failing = sorted(json.loads(not_passing), key=lambda item: position[item[0]])
            text = join_clauses(
                f"{code}: {rules.render_reason(template, params)}"
                for code, template, params in failing
            )
            if len(rendered) < REASONS_KEPT:
                rendered[not_passing] = text
        return text

    return reasons


SCREENING_LOG_VALUES = (
    "screening_number",
    "site__code",
    "referral_date",
    "screening_date",
    "date_of_birth",
    "sex",
    "histology",
    "ct",
    "cn",
    "cm",
    "outcome",
    "status",
    # The twelve results as columns of their own: psycopg2 reads text faster than an array.
    *(f"evaluation__criterion_results__{index}" for index in range(len(rules.CODES))),
    "not_passing",
    "evaluation__protocol_version__version",
    "current_decision__decision",
    "mdt_decision_date",
    "mdt_decision_signature",
    "enrolment__study_number",
    "previous_referral__screening_number",
    "withdrawal_code",
    "enrolment__consent_date",
)
# Read only for an identified log.
IDENTIFYING_VALUES = ("hospital_number", "full_name")
# Where the twelve results are in a ``screening_log_queryset`` tuple.
RESULTS = slice(SCREENING_LOG_VALUES.index("status") + 1, SCREENING_LOG_VALUES.index("not_passing"))


def _decision_signature() -> Subquery:
    """ "<signer> YYYY-MM-DD HH:MM <meaning>" of the current decision's signature, the time in
    the trial's time zone; NULL before any decision."""
    local_time = Func(
        Value(timezone.get_current_timezone_name()), F("signed_at"), function="timezone"
    )
    signed_at = Func(
        local_time, Value("YYYY-MM-DD HH24:MI"), function="to_char", output_field=TextField()
    )
    signatures = Signature.objects.filter(
        decision_id=OuterRef("current_decision__id"),
        meaning__in=[Signature.Meaning.APPROVED, Signature.Meaning.REJECTED],
    ).annotate(
        text=Concat(
            "signer_name", Value(" "), signed_at, Value(" "), "meaning", output_field=TextField()
        )
    )
    return Subquery(signatures.values("text")[:1], output_field=TextField())


def screening_log_queryset(referrals=None, *, identified: bool = False):
    """Plain values of everything a screening-log row needs (``SCREENING_LOG_VALUES``, then
    ``IDENTIFYING_VALUES`` when ``identified``), in screening-number order, in one query."""
    referrals = Referral.objects.all() if referrals is None else referrals
    return (
        referrals.annotate(
            # At most one current decision per referral (a database constraint): no extra rows.
            current_decision=FilteredRelation(
                "decisions", condition=Q(decisions__superseded_at__isnull=True)
            ),
            not_passing=_NotPassing("evaluation__results"),
            # The day the MDT met, not the day the decision was typed in.
            mdt_decision_date=F("current_decision__meeting_date"),
            mdt_decision_signature=_decision_signature(),
        )
        .order_by("screening_number")
        .values_list(*SCREENING_LOG_VALUES, *(IDENTIFYING_VALUES if identified else ()))
    )


def _screening_log_row(*, identified: bool):
    """A function from one ``screening_log_queryset`` tuple to its screening-log row's cells,
    in ``screening_log_columns`` order. It makes no query, so it can run in another thread
    (see ``QueryRows``)."""
    reasons = _reasons_renderer()
    stage_group = functools.cache(staging.stage_group)  # a few hundred combinations at most

    # A tuple, not a dict: a CSV writer takes it as it is, 100,000 times.
    def row(values: tuple) -> tuple:
        (
            screening_number,
            site,
            referral_date,
            screening_date,
            date_of_birth,
            sex,
            histology,
            ct,
            cn,
            cm,
            outcome,
            status,
        ) = values[: RESULTS.start]
        (
            not_passing,
            protocol_version,
            decision,
            mdt_decision_date,
            mdt_decision_signature,
            study_number,
            previous_screening_number,
            withdrawal_code,
            consent_date,
            *identifying,
        ) = values[RESULTS.stop :]
        ct, cn, cm = ct or None, cn or None, cm or None
        return (
            screening_number,
            *identifying,  # hospital_number and full_name, when identified
            site,
            referral_date,
            screening_date,
            (
                rules.age_at(date_of_birth, screening_date)
                if date_of_birth and screening_date
                else None
            ),
            sex,
            histology,
            ct,
            cn,
            cm,
            stage_group(histology, ct, cn, cm),
            outcome,
            status,
            *values[RESULTS],
            reasons(not_passing),
            protocol_version,
            decision,
            mdt_decision_date,
            mdt_decision_signature,
            study_number,
            previous_screening_number,
            withdrawal_code or None,
            consent_date,
        )

    return row


class QueryRows:
    """Export rows made from a query's tuples by ``build``, a function that makes no query and
    gives a row's cells in ``columns`` order.

    Iterating gives the rows as dicts keyed by column. ``writers.csv_chunks`` instead reads the
    tuples in its own thread and builds and writes the rows in a second one, so PostgreSQL
    computes rows while Python formats them, on two CPUs.
    """

    def __init__(self, queryset, build, columns: tuple[str, ...]):
        self.queryset = queryset
        self.build = build
        self.columns = columns

    def values(self):
        """The query's tuples, fetched ``ROWS_PER_FETCH`` at a time."""
        # In a transaction the cursor hands rows over as PostgreSQL computes them; outside one
        # Django declares it WITH HOLD, and PostgreSQL computes every row before the first.
        # Inside the caller's transaction none is opened: one left early would doom it.
        in_transaction = transaction.get_connection(self.queryset.db).in_atomic_block
        with contextlib.nullcontext() if in_transaction else transaction.atomic():
            yield from self.queryset.iterator(chunk_size=ROWS_PER_FETCH)

    def __iter__(self):
        for values in self.values():
            yield dict(zip(self.columns, self.build(values), strict=True))


def screening_log_rows(referrals=None, *, identified: bool = False) -> QueryRows:
    """One row per referral with the screening-log columns; constant query count."""
    return QueryRows(
        screening_log_queryset(referrals, identified=identified),
        _screening_log_row(identified=identified),
        screening_log_columns(identified=identified),
    )


def enrolment_queryset(referrals=None):
    referrals = Referral.objects.all() if referrals is None else referrals
    approvals = MdtDecision.objects.filter(
        referral=OuterRef("pk"), superseded_at__isnull=True, decision="approve"
    )
    return (
        referrals.filter(enrolment__isnull=False)
        .select_related("site", "enrolment")
        .annotate(approved_on=Subquery(approvals.values("meeting_date")[:1]))
        .order_by("enrolment__sequence")
    )


def enrolment_rows(referrals=None):
    """Yield one dict per enrolled participant in study-number order; constant query count."""
    for referral in enrolment_queryset(referrals).iterator(chunk_size=ROWS_PER_FETCH):
        yield {
            "study_number": referral.enrolment.study_number,
            "screening_number": referral.screening_number,
            "site": referral.site.code,
            "consent_date": referral.enrolment.consent_date,
            "enrolment_date": _local_date(referral.enrolment.enrolled_at),
            "age": referral.age(),
            "sex": referral.sex,
            "histology": referral.histology,
            "ct": referral.ct or None,
            "cn": referral.cn or None,
            "cm": referral.cm or None,
            "stage_group": referral.stage_group(),
            "mdt_approval_date": referral.approved_on,
        }


def identification_rows(referrals=None):
    """Yield every referral's screening and study number (empty until enrolment) against name,
    hospital number and national ID, in screening-number order; one query."""
    referrals = Referral.objects.all() if referrals is None else referrals
    values = referrals.order_by("screening_number").values_list(
        "screening_number", "enrolment__study_number", "full_name", "hospital_number", "national_id"
    )
    for screening_number, study_number, full_name, hospital_number, national_id in values.iterator(
        chunk_size=ROWS_PER_FETCH
    ):
        yield {
            "screening_number": screening_number,
            "study_number": study_number,
            "full_name": full_name,
            "hospital_number": hospital_number,
            "national_id": national_id or None,
        }
