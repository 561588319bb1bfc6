"""What the two export commands share: the format, filter and user options, the writers and
the export log."""

import datetime
import getpass
import os
import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from screening import exports, services, writers
from screening.models import ExportLog, Site


def _date(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError as error:
        raise CommandError(f"{text!r} is not a date (YYYY-MM-DD)") from error


def os_account() -> str:
    """The operating-system account running the command (as the login environment names it;
    its uid when it has no name)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


class ExportCommand(BaseCommand):
    """An export of ``kind``; a subclass gives its ``rows`` and, unless every referral makes
    a row, its ``row_count``.

    Each run is recorded in the export log, like a browser download: started before the
    file is written, delivered once it is, failed if writing fails.
    """

    kind = ""  # ExportLog.Kind
    sheet_title = "export"
    formats = ("csv", "xlsx", "json")  # the first is the default

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=self.formats, default=self.formats[0])
        parser.add_argument(
            "--output", help="file to write; standard output when omitted (xlsx as bytes)"
        )
        parser.add_argument("--site", help="only this site's referrals (wuwei, lanzhou)")
        parser.add_argument(
            "--referred-from", type=_date, help="only referrals on or after this date (YYYY-MM-DD)"
        )
        parser.add_argument(
            "--referred-to", type=_date, help="only referrals on or before this date (YYYY-MM-DD)"
        )
        parser.add_argument(
            "--user",
            metavar="USERNAME",
            help="the TrialScreen user taking the export, recorded in the export log (else "
            "only the operating-system account is)",
        )

    def rows(self, referrals, **options) -> tuple:
        """``(rows, columns)`` of the export of ``referrals``."""
        raise NotImplementedError

    def row_count(self, referrals) -> int:
        return referrals.count()

    def handle(self, *args, format, output, user, site, referred_from, referred_to, **options):
        exporter = self.exporter(user)
        referrals = self.referrals(site=site, referred_from=referred_from, referred_to=referred_to)
        self.filtered = bool(site or referred_from or referred_to)
        rows, columns = self.rows(referrals, **options)
        log = services.export_log_create(
            user=exporter,
            kind=self.kind,
            file_format=format,
            row_count=self.row_count(referrals),
            site=Site.objects.get(code=site) if site else None,
            referred_from=referred_from,
            referred_to=referred_to,
            channel=ExportLog.Channel.COMMAND,
            os_user=os_account(),
        )
        try:
            self.write(rows, columns, format=format, output=output)
        except BaseException:
            services.export_log_finish(log=log, outcome=ExportLog.Outcome.FAILED, user=exporter)
            raise
        services.export_log_finish(log=log, outcome=ExportLog.Outcome.DELIVERED, user=exporter)

    @staticmethod
    def exporter(username: str | None):
        """The user ``--user`` names, or None without it."""
        if username is None:
            return None
        try:
            return get_user_model().objects.get_by_natural_key(username)
        except get_user_model().DoesNotExist as error:
            raise CommandError(f"unknown user {username!r}") from error

    def referrals(self, *, site, referred_from, referred_to):
        """The referrals the filter options select (the browser's filters, same meaning)."""
        if site and not Site.objects.filter(code=site).exists():
            known = ", ".join(Site.objects.values_list("code", flat=True))
            raise CommandError(f"unknown site {site!r} (known: {known})")
        return exports.referrals_filtered(
            site=site, referred_from=referred_from, referred_to=referred_to
        )

    def write(self, rows, columns, *, format, output):
        if format == "xlsx":
            writers.write_xlsx(rows, columns, output or sys.stdout.buffer, title=self.sheet_title)
        elif output:
            with open(output, "w", encoding="utf-8", newline="") as stream:
                self._write_text(rows, columns, format, stream.write)
        else:
            self._write_text(rows, columns, format, lambda text: self.stdout.write(text, ending=""))

    @staticmethod
    def _write_text(rows, columns, format, write):
        if format == "csv":
            for chunk in writers.csv_chunks(rows, columns):
                write(chunk)
        else:
            write(writers.json_text(rows, columns) + "\n")
