from collections import Counter
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from screening import rules, services
from screening.imports import ImportFileError, read_rows, validate_rows
from screening.models import ProtocolVersion, Referral, Role, Site

PROGRESS_EVERY = 1000


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
        creator = self._user(user)
        try:
            rows = read_rows(file)
        except ImportFileError as error:
            raise CommandError(str(error)) from error
        sites = None
        if creator is not None and creator.groups.filter(name=Role.COORDINATOR).exists():
            sites = Site.objects.filter(coordinators=creator)
        protocol = ProtocolVersion.current()
        cleaned, errors = validate_rows(
            rows, protocol=protocol, sites=sites, progress=self._progress(len(rows))
        )
        if errors:
            for error in errors:
                self.stderr.write(str(error))
            raise CommandError(
                f"{len(errors)} problem(s) in {len({error.row for error in errors})} of "
                f"{len(rows)} row(s); nothing was imported."
            )
        if dry_run:
            # Judged as referrals_create would judge them, without creating any: a referral
            # created and rolled back still uses up its number, as sequences ignore rollbacks.
            limits = protocol.limits()
            outcomes = Counter(
                str(rules.evaluate(Referral(**data).snapshot(), limits).outcome) for data in cleaned
            )
        else:
            try:
                referrals = services.referrals_create(rows=cleaned, user=creator)
            except services.WorkflowError as refusal:
                # Someone referred one of these people since the file was checked.
                raise CommandError(f"{refusal} Nothing was imported.") from refusal
            outcomes = Counter(referral.outcome for referral in referrals)
        verb = "would import" if dry_run else "imported"
        summary = ", ".join(f"{outcome} {count}" for outcome, count in sorted(outcomes.items()))
        self.stdout.write(f"{verb} {len(cleaned)} referral(s): {summary or 'none'}")

    def _user(self, username):
        if username is None:
            return None
        try:
            return get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist as missing:
            raise CommandError(f"no user named {username!r}") from missing

    def _progress(self, total):
        if total <= PROGRESS_EVERY:
            return None

        def report(number):
            if number % PROGRESS_EVERY == 0 or number == total:
                self.stderr.write(f"validated {number}/{total} rows")

        return report
