"""Rules, import and export figures, each beside its limit. Needs Django set up against the
bench database (``bench.run`` does that)."""

import csv
import io
import os
import subprocess
import tempfile
import time
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone

from bench import database, synthetic
from bench.stats import summary
from screening import consort, exports, rules, writers
from screening.models import Evaluation, ProtocolVersion, Referral

RULES_SAMPLE = 20_000
IMPORT_ROWS = 10_000
IMPORT_PREFIX = "BI"  # hospital numbers no seeded referral has
IMPORT_FIRST_INDEX = 90_000_000
PROBE_ROWS = 500
IMPORT_TIME_BOX = 120  # seconds for all repetitions of the import
IMPORT_MEMORY_ROWS = 100_000


def consort_counting(repeat: int) -> dict:
    """Seconds to count the CONSORT boxes with nothing kept: what the first view of the page
    after any write to the database costs (later views reuse the counts)."""
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        consort.count_boxes()
        seconds.append(time.perf_counter() - started)
    return summary(seconds)


def rules_speed(repeat: int) -> dict:
    """``rules.evaluate`` per second of one core over snapshots the seeding stored.

    Pinned to one CPU and timed in the thread's CPU time, so other work on a shared machine
    does not count against the rules; the wall-clock rate is kept beside it.
    """
    stored = Evaluation.objects.order_by("pk").values_list("snapshot", flat=True)[:RULES_SAMPLE]
    snapshots = [rules.Snapshot.from_json(snapshot) for snapshot in stored]
    limits = ProtocolVersion.current().limits()
    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(allowed)})
    try:
        cpu_rates, wall_rates = [], []
        for _ in range(repeat):
            cpu_started, wall_started = time.thread_time(), time.perf_counter()
            for snapshot in snapshots:
                rules.evaluate(snapshot, limits)
            cpu_rates.append(len(snapshots) / (time.thread_time() - cpu_started))
            wall_rates.append(len(snapshots) / (time.perf_counter() - wall_started))
    finally:
        os.sched_setaffinity(0, allowed)
    return {
        "snapshots": len(snapshots),
        "per_second": summary(cpu_rates),
        "per_wall_second": summary(wall_rates),
    }


def _write_import_file(path: Path, count: int) -> list[str]:
    """A CSV of ``count`` valid referrals for patients the database has never seen; returns
    its columns."""
    today = timezone.localdate()
    rows = [
        synthetic.import_row(synthetic.referral_row(index, today=today, prefix=IMPORT_PREFIX))
        for index in range(IMPORT_FIRST_INDEX, IMPORT_FIRST_INDEX + count)
    ]
    columns = list(rows[0])
    for row in rows[1:]:
        columns.extend(key for key in row if key not in columns)
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return columns


def _import(url: str, path: Path, storing: list | None = None) -> float:
    """Seconds ``manage.py import_referrals path`` takes, start-up included; the imported
    referrals are deleted again (not timed) so the database keeps its N. ``storing`` gets the
    seconds the database alone takes to store them (``_storing_seconds``)."""
    started = time.perf_counter()
    # Its progress bar on stderr shows the bench is busy.
    database.manage(url, "import_referrals", str(path), stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    if storing is not None:
        storing.append(_storing_seconds())
    with transaction.atomic():
        Referral.objects.filter(hospital_number__startswith=IMPORT_PREFIX).delete()
    # The next import stores the same people again: it would otherwise meet their deleted rows
    # in the unique indexes, and autovacuum (on where the server has it on) while it runs.
    _tidy_after_imports()
    return seconds


def _copy_rows(path: Path, columns: list[str]) -> float:
    """Seconds to COPY the import file into a scratch table with the same columns (typed as
    the referral table types them) and commit."""
    selected = ", ".join(
        "''::varchar AS site" if column == "site" else f'"{column}"' for column in columns
    )
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_import_copy")
        cursor.execute(
            f"CREATE TABLE bench_import_copy AS SELECT {selected} "  # noqa: S608 - our columns
            "FROM screening_referral WITH NO DATA"
        )
    data = path.read_bytes()
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.copy_expert(
            "COPY bench_import_copy FROM STDIN WITH (FORMAT csv, HEADER true)", io.BytesIO(data)
        )
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_import_copy")
    return seconds


def _storing_seconds() -> float:
    """Seconds PostgreSQL alone takes to store the imported referrals again with their
    evaluations: the same rows, renumbered, by INSERT ... SELECT from a scratch copy, the JSON
    read from its text again, with the audit triggers and the foreign-key checks; then rolled
    back. The database's own share of an import, which no Python can win back."""
    referral_columns = [f.column for f in Referral._meta.concrete_fields if not f.generated]
    evaluation_columns = [f.column for f in Evaluation._meta.concrete_fields if not f.generated]
    renumbered = {
        "id": "-id",
        "evaluation_id": "-evaluation_id",
        "referral_id": "-referral_id",
        "screening_number": "'X' || screening_number",
        "hospital_number": "'X' || hospital_number",
        "national_id": "''",
        "results": "results::text",
        "snapshot": "snapshot::text",
    }

    def selected(columns):
        return ", ".join(f'{renumbered.get(column, column)} AS "{column}"' for column in columns)

    def stored(columns):
        return ", ".join(
            f'"{column}"::jsonb' if column in ("results", "snapshot") else f'"{column}"'
            for column in columns
        )

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE bench_referrals ON COMMIT DROP AS "  # noqa: S608 - our columns
            f"SELECT {selected(referral_columns)} FROM screening_referral "
            "WHERE hospital_number LIKE %s",
            [IMPORT_PREFIX + "%"],
        )
        cursor.execute(
            f"CREATE TEMP TABLE bench_evaluations ON COMMIT DROP AS "  # noqa: S608
            f"SELECT {selected(evaluation_columns)} FROM screening_evaluation "
            "WHERE referral_id IN (SELECT -id FROM bench_referrals)"
        )
        started = time.perf_counter()
        for table, scratch, columns in (
            ("screening_referral", "bench_referrals", referral_columns),
            ("screening_evaluation", "bench_evaluations", evaluation_columns),
        ):
            names = ", ".join(f'"{column}"' for column in columns)
            cursor.execute(
                f"INSERT INTO {table} ({names}) SELECT {stored(columns)} FROM {scratch}"  # noqa: S608
            )
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the deferred foreign-key checks
        seconds = time.perf_counter() - started
        transaction.set_rollback(True)
    return seconds


def import_speed(url: str, repeat: int, rows: int = IMPORT_ROWS) -> dict:
    """Seconds per 10,000 rows of ``manage.py import_referrals`` (a separate process, as a
    user runs it) against COPY of the same file.

    A probe of ``PROBE_ROWS`` rows first gives the cost per row; when ``repeat`` imports of
    ``rows`` would overrun ``IMPORT_TIME_BOX`` the file is made smaller and the figure scaled:
    start-up (a one-row file's import; an empty file is refused) plus the per-row cost times
    10,000. So a slow import shows as a slow figure instead of stalling the bench.
    """
    with transaction.atomic():
        Referral.objects.filter(hospital_number__startswith=IMPORT_PREFIX).delete()
    command_seconds, copy_seconds, storing_seconds = [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-import-") as directory:
        directory = Path(directory)
        one_row = directory / "one-row.csv"
        _write_import_file(one_row, 1)
        startup = _import(url, one_row)
        probe_rows = min(PROBE_ROWS, rows)
        path = directory / "probe.csv"
        columns = _write_import_file(path, probe_rows)
        command_seconds.append(_import(url, path, storing_seconds))
        copy_seconds.append(_copy_rows(path, columns))
        per_row = (command_seconds[0] - startup) / probe_rows
        fitting = int(IMPORT_TIME_BOX / repeat / per_row) // PROBE_ROWS * PROBE_ROWS
        count = max(probe_rows, min(rows, fitting))
        if count != probe_rows:  # the probe's time is then only a guide
            command_seconds, copy_seconds, storing_seconds = [], [], []
            path = directory / "import.csv"
            columns = _write_import_file(path, count)
        else:  # even the probe is slow: as many repetitions as fit
            repeat = min(repeat, max(1, int(IMPORT_TIME_BOX // command_seconds[0])))
        while len(command_seconds) < repeat:
            command_seconds.append(_import(url, path, storing_seconds))
            copy_seconds.append(_copy_rows(path, columns))
    command, copy = summary(command_seconds), summary(copy_seconds)
    per_10000 = startup + (command["median"] - startup) * 10_000 / count
    copy_per_10000 = copy["median"] * 10_000 / count
    return {
        "rows": count,
        "requested_rows": rows,
        "startup_seconds": startup,
        "command_seconds": command,
        "copy_seconds": copy,
        "per_10000_rows_seconds": per_10000,
        "copy_per_10000_rows_seconds": copy_per_10000,
        "ratio": per_10000 / copy_per_10000,
        # The database's own share: storing the same rows, server side only.
        "storing_per_10000_rows_seconds": summary(storing_seconds)["median"] * 10_000 / count,
    }


def _tidy_after_imports() -> None:
    """VACUUM ANALYZE every table an import and its deletion changed (the referrals, their
    evaluations, notifications and audit events): autovacuum would otherwise visit them later,
    maybe while the next import or a page is timed, and each of its commits starts every kept
    page afresh."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")  # this process's counts, now
        cursor.execute(
            "SELECT relname FROM pg_stat_user_tables "
            "WHERE n_dead_tup > 0 OR n_mod_since_analyze > 0"
        )
        for (table,) in cursor.fetchall():
            cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(table)}")


def import_memory(job, rows: int = IMPORT_MEMORY_ROWS) -> dict:
    """Peak memory of ``manage.py import_referrals --dry-run`` checking a ``rows``-row file:
    what reading and checking take, which must not grow with the file (saving then reads the
    checked rows back a batch at a time). ``job(path)`` runs ``bench.job import_memory``."""
    with tempfile.TemporaryDirectory(prefix="bench-import-") as directory:
        path = Path(directory) / "memory.csv"
        _write_import_file(path, rows)
        started = time.perf_counter()
        result = job(path)
    return {"rows": rows, "seconds": time.perf_counter() - started, **result}


# The screening-log columns straight from the tables: the export's physical limit. Stage group
# and the wording of reasons are derived in Python from columns this already carries, so here
# stage_group stays empty and reasons are the untranslated templates, taken like the export
# takes them: the twelve results from their plain array, the reasons from one walk over each
# row's results JSON.
SCREENING_LOG_SQL = """
SELECT r.screening_number, s.code AS site, r.referral_date, r.screening_date,
       date_part('year', age(r.screening_date, r.date_of_birth))::int AS age,
       r.sex, r.histology, NULLIF(r.ct, '') AS ct, NULLIF(r.cn, '') AS cn,
       NULLIF(r.cm, '') AS cm, NULL AS stage_group, r.outcome, r.status,
       {criteria},
       (SELECT string_agg(c.key || ': ' || (c.value ->> 'template'), '; '
                          ORDER BY array_position(%(codes)s, c.key))
          FROM jsonb_each(e.results) c
         WHERE c.value ->> 'result' <> 'pass') AS reasons,
       pv.version AS protocol_version, d.decision AS mdt_decision,
       (d.decided_at AT TIME ZONE %(zone)s)::date AS mdt_decision_date,
       (SELECT sg.signer_name || ' ' || to_char(sg.signed_at AT TIME ZONE %(zone)s,
                                                 'YYYY-MM-DD HH24:MI') || ' ' || sg.meaning
          FROM screening_signature sg
         WHERE sg.decision_id = d.id AND sg.meaning IN ('approved', 'rejected')
         LIMIT 1) AS mdt_decision_signature,
       en.study_number, prev.screening_number AS previous_screening_number,
       NULLIF(r.withdrawal_code, '') AS withdrawal_reason, en.consent_date
  FROM screening_referral r
  JOIN screening_site s ON s.id = r.site_id
  LEFT JOIN screening_referral prev ON prev.id = r.previous_referral_id
  LEFT JOIN screening_evaluation e ON e.id = r.evaluation_id
  LEFT JOIN screening_protocolversion pv ON pv.id = e.protocol_version_id
  LEFT JOIN screening_mdtdecision d ON d.referral_id = r.id AND d.superseded_at IS NULL
  LEFT JOIN screening_enrolment en ON en.referral_id = r.id
 ORDER BY r.screening_number
"""


class _Counter:
    """A write-only file that keeps only the number of bytes written."""

    def __init__(self):
        self.size = 0

    def write(self, data):
        self.size += len(data)
        return len(data)


def copy_export() -> tuple[float, int]:
    """Seconds and bytes of ``COPY (screening-log SELECT) TO STDOUT WITH CSV``."""
    criteria = ", ".join(
        f'e.criterion_results[{index}] AS "{code}"'
        for index, code in enumerate(rules.CODES, start=1)
    )
    with connection.cursor() as cursor:
        query = cursor.mogrify(
            SCREENING_LOG_SQL.format(criteria=criteria),
            {"codes": list(rules.CODES), "zone": timezone.get_current_timezone_name()},
        ).decode()
        sink = _Counter()
        started = time.perf_counter()
        cursor.copy_expert(f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER true)", sink)
    return time.perf_counter() - started, sink.size


def builder_export() -> tuple[float, int]:
    """Seconds and bytes of the export's own row builder and CSV writer, in this process (what
    ``manage.py export_screening_log`` does, without HTTP)."""
    columns = exports.screening_log_columns()
    started = time.perf_counter()
    chunks = writers.csv_chunks(exports.screening_log_rows(), columns)
    size = sum(len(chunk.encode()) for chunk in chunks)
    return time.perf_counter() - started, size


def export_speed(repeat: int, http_export=None) -> dict:
    """The screening log over HTTP (when the view exists) against COPY of the same columns,
    and once through the row builder in this process, which tells how much of the HTTP time
    is building rows. ``http_export()`` returns (seconds, bytes, peak RSS)."""
    copies, https, peaks = [], [], []
    sizes = {}
    for _ in range(repeat):
        seconds, sizes["copy_bytes"] = copy_export()
        copies.append(seconds)
        if http_export:
            seconds, sizes["http_bytes"], peak = http_export()
            https.append(seconds)
            peaks.append(peak)
    builder, sizes["builder_bytes"] = builder_export()
    copy = summary(copies)
    result = {
        "rows": Referral.objects.count(),
        **sizes,
        "copy_seconds": copy,
        "builder_seconds": builder,
        "builder_ratio": builder / copy["median"],
    }
    if http_export:
        http = summary(https)
        result.update(
            http_seconds=http,
            http_ratio=http["median"] / copy["median"],
            peak_rss_bytes=max(peaks),
        )
    return result
