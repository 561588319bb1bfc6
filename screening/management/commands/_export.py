"""What the two export commands share: the format and filter options and the writers."""

import datetime
import sys

from django.core.management.base import BaseCommand, CommandError

from screening import exports, writers
from screening.models import Site


def _date(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError as error:
        raise CommandError(f"{text!r} is not a date (YYYY-MM-DD)") from error


class ExportCommand(BaseCommand):
    sheet_title = "export"

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=("csv", "xlsx", "json"), default="csv")
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

    def referrals(self, *, site, referred_from, referred_to, **options):
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
