"""What the two export commands share: the format options and the writers."""

import sys

from django.core.management.base import BaseCommand

from screening import exports


class ExportCommand(BaseCommand):
    sheet_title = "export"

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=("csv", "xlsx", "json"), default="csv")
        parser.add_argument(
            "--output", help="file to write; standard output when omitted (xlsx as bytes)"
        )

    def write(self, rows, columns, *, format, output):
        if format == "xlsx":
            exports.write_xlsx(rows, columns, output or sys.stdout.buffer, title=self.sheet_title)
        elif output:
            with open(output, "w", encoding="utf-8", newline="") as stream:
                self._write_text(rows, columns, format, stream.write)
        else:
            self._write_text(rows, columns, format, lambda text: self.stdout.write(text, ending=""))

    @staticmethod
    def _write_text(rows, columns, format, write):
        if format == "csv":
            for line in exports.csv_lines(rows, columns):
                write(line)
        else:
            write(exports.json_text(rows, columns) + "\n")
