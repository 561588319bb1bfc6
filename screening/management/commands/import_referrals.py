import gc
import itertools
import multiprocessing
import operator
import os
import pickle
import tempfile
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError, transaction

from screening import rules, services
from screening.forms.referrals import REFERRAL_KEYS
from screening.imports import FileCheck, ImportFileError, batches, count_lines, read_rows
from screening.models import ProtocolVersion, Referral, Role, Site
from screening.progress import Progress

PROGRESS_FROM_ROWS = 2_000  # a smaller file is done before a bar would help
# One process checking rows per CPU, at most four: each holds its own copy of the form's caches,
# so a large machine's memory is not spent on them.
CHECKING_PROCESSES = min(len(os.sched_getaffinity(0)), 4)
SAVED_AT_ONCE = 10_000  # rows given to referrals_create at once
_referral_values = operator.itemgetter(*REFERRAL_KEYS)


class Command(BaseCommand):
    help = (
        "Import referrals from a JSON array of objects or a UTF-8 CSV (BOM allowed) whose keys "
        "are those of PROTOCOL section 3. Every row is validated as the browser form does, "
        "strictly: dates as YYYY-MM-DD, numbers as plain decimals, a unit beside every total "
        "bilirubin, creatinine and hemoglobin, as many cells in each CSV row as in the header. "
        "When any row is invalid, each problem is printed as 'row N: field: message' (N counts "
        "data rows from 1) and nothing is imported. Valid referrals are evaluated and a count "
        "by outcome is printed."
    )
    # A data command: the system checks (every URL and view loaded, the deployment's database
    # role) are `manage.py check --deploy`'s job, and took longer than a 10,000-row import.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="a .json or .csv file")
        parser.add_argument(
            "--dry-run", action="store_true", help="validate and evaluate, then save nothing"
        )
        parser.add_argument(
            "--user",
            help="record this user as the creator; a coordinator may import only their sites",
        )

    def handle(self, *args, file, dry_run, user, **options):
        if not file.exists():
            raise CommandError(f"{file}: no such file")
        # What is alive before the import (Django's models, forms, translations) outlives it:
        # frozen, the garbage collector no longer walks it each time it looks through the
        # import's own objects, which took a tenth of the saving. Unfrozen after, for a caller
        # that goes on (call_command), whose garbage would otherwise never be collected.
        gc.freeze()
        try:
            self._import(file, dry_run, user)
        finally:
            gc.unfreeze()

    def _import(self, file, dry_run, user):
        creator = self._user(user)
        sites = None
        if creator is not None and creator.groups.filter(name=Role.COORDINATOR).exists():
            sites = Site.objects.filter(coordinators=creator)
        protocol = ProtocolVersion.current()
        check = FileCheck(protocol=protocol, sites=sites)
        # The file is checked whole before any referral is saved (one saved and rolled back
        # would use up its screening number): its clean rows wait in a temporary file, a batch
        # at a time, so memory stays flat whatever the file's length. Their evaluations, which
        # take no number, are stored meanwhile, the database working while the rows after them
        # are checked; all is undone if any row is refused.
        with tempfile.TemporaryFile() as spool, transaction.atomic():
            rows = self._check(file, check, spool, store=not dry_run, creator=creator)
            errors = check.finish(against_stored=False)
            if errors:
                self._refuse(errors + check.screen()[1], rows)
            # The people are screened against the stored referrals once, in the transaction
            # that saves them, before any is saved.
            screening, refusals = check.screen()
            if refusals:
                self._refuse(refusals, rows)
            spool.seek(0)
            clean_batches = _unspooled(spool, evaluated=not dry_run)
            outcomes = (
                _judged(clean_batches, protocol)
                if dry_run
                else self._saved(clean_batches, creator, rows, screening)
            )
        verb = "would import" if dry_run else "imported"
        summary = ", ".join(f"{outcome} {count}" for outcome, count in sorted(outcomes.items()))
        self.stdout.write(f"{verb} {rows} referral(s): {summary or 'none'}")

    def _check(self, file, check, spool, *, store: bool, creator) -> int:
        """Check every row of ``file``, spooling the clean ones while none is wrong; the rows.
        With ``store``, each clean batch's evaluations are stored as well (by ``creator``,
        ``services.evaluations_create``) and spooled after it."""
        csv_rows = count_lines(file) - 1 if file.suffix.lower() == ".csv" else 0
        progress = self._progress("checking", csv_rows)
        rows = 0
        try:
            numbered_batches = batches(enumerate(read_rows(file), start=1))
            for rows, spooled, errors, people in _checked(check, numbered_batches):
                check.add(errors, people)
                if check.errors:
                    continue
                spool.write(spooled)
                if store:
                    evaluated = services.evaluations_create(
                        rows=_rows(pickle.loads(spooled)),  # noqa: S301 - made by _check_batch
                        user=creator,
                    )
                    pickle.dump(evaluated, spool, protocol=pickle.HIGHEST_PROTOCOL)
                if progress:
                    progress.update(rows)
        except ImportFileError as error:
            raise CommandError(str(error)) from error
        finally:
            if progress:
                progress.close()
        return rows

    def _refuse(self, errors: list, rows: int) -> None:
        errors.sort(key=operator.attrgetter("row"))  # stable: a row's problems keep their order
        for error in errors:
            self.stderr.write(str(error))
        raise CommandError(
            f"{len(errors)} problem(s) in {len({error.row for error in errors})} of "
            f"{rows} row(s); nothing was imported."
        )

    def _saved(self, clean_batches, creator, rows, screening) -> Counter:
        progress = self._progress("saving", rows)
        outcomes, saved = Counter(), 0
        spooled = itertools.chain.from_iterable(
            zip(batch, evaluated, strict=True) for batch, evaluated in clean_batches
        )
        try:
            for pairs in batches(spooled, size=SAVED_AT_ONCE):
                batch, evaluated = zip(*pairs, strict=True)
                referrals = services.referrals_create(
                    rows=batch,
                    user=creator,
                    screening=screening.part(saved, saved + len(batch)),
                    evaluated=list(evaluated),
                )
                outcomes.update(referral.outcome for referral in referrals)
                saved += len(referrals)
                if progress:
                    progress.update(saved)
        except IntegrityError as clash:
            # Someone referred one of these people since they were screened: the database's
            # one-open-referral constraint refuses the row.
            raise CommandError(
                "Someone referred one of these people meanwhile; nothing was imported."
            ) from clash
        finally:
            if progress:
                progress.close()
        return outcomes

    def _user(self, username):
        if username is None:
            return None
        try:
            return get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist as missing:
            raise CommandError(f"no user named {username!r}") from missing

    def _progress(self, label: str, total: int) -> Progress | None:
        if total < PROGRESS_FROM_ROWS:
            return None
        return Progress(f"{label} rows", total, stream=self.stderr._out)


def _checked(check: FileCheck, numbered_batches: Iterator[list]) -> Iterator[tuple]:
    """``_check_batch`` of every batch, in the file's order. A file of more than one batch is
    checked in forked processes (``CHECKING_PROCESSES``) while this one stores the evaluations
    of the batches before; a few batches at a time are handed out, so memory stays flat."""
    first = next(numbered_batches)  # read_rows refuses a file without rows
    second = next(numbered_batches, None)
    if second is None or CHECKING_PROCESSES < 2:
        for batch in itertools.chain([first], [second] if second else [], numbered_batches):
            yield _check_batch(check, batch)
        return
    # A child inherits the connection too, in the import's transaction: the children never
    # query, and they leave through os._exit (or are terminated), which does not close it
    # behind this process's back.
    context = multiprocessing.get_context("fork")
    with context.Pool(CHECKING_PROCESSES, _forked_with, (check,)) as pool:
        pending = deque()
        for batch in itertools.chain([first, second], numbered_batches):
            pending.append(pool.apply_async(_check_forked, (batch,)))
            if len(pending) > 2 * CHECKING_PROCESSES:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


_forked_check: FileCheck | None = None  # in a checking process, the command's FileCheck


def _forked_with(check: FileCheck) -> None:
    global _forked_check
    _forked_check = check


def _check_forked(batch: list) -> tuple:
    return _check_batch(_forked_check, batch)


def _check_batch(check: FileCheck, batch: list) -> tuple:
    """The number of the batch's last row; its clean rows as they are spooled (None once a row
    is refused, as nothing will be saved); its errors and its people, for ``FileCheck.add``."""
    rows, errors, people = check.check_batch(batch)
    spooled = None if errors else _spooled(row.data for row in rows)
    return batch[-1][0], spooled, errors, people


def _spooled(rows: Iterable[dict]) -> bytes:
    """One batch of clean rows, as tuples in ``REFERRAL_KEYS`` order (each site pickled once)."""
    return pickle.dumps(list(map(_referral_values, rows)), protocol=pickle.HIGHEST_PROTOCOL)


def _rows(batch: list[tuple]) -> list[dict]:
    """A spooled batch's rows, as dicts by ``REFERRAL_KEYS`` again."""
    return [dict(zip(REFERRAL_KEYS, values, strict=True)) for values in batch]


def _unspooled(spool, *, evaluated: bool):
    """The spooled batches of rows in turn; each with its ``services.Evaluated`` when
    ``evaluated`` (then spooled after it)."""
    while True:
        try:
            batch = _rows(pickle.load(spool))  # noqa: S301 - the file this command wrote
        except EOFError:
            return
        yield (batch, pickle.load(spool)) if evaluated else batch  # noqa: S301 - the same


def _judged(clean_batches, protocol) -> Counter:
    """The outcomes referrals_create would give, without creating any: a referral created and
    rolled back still uses up its number, as sequences ignore rollbacks."""
    limits = protocol.limits()
    return Counter(
        str(rules.evaluate(Referral(**data).snapshot(), limits).outcome)
        for batch in clean_batches
        for data in batch
    )
