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
            return
        with open(output, "w", encoding="utf-8", newline="") if output else _stdout() as stream:
            if format == "csv":
                stream.writelines(exports.csv_lines(rows, columns))
            else:
                stream.write(exports.json_text(rows, columns) + "\n")


class _stdout:
    def __enter__(self):
        return sys.stdout

    def __exit__(self, *exc_info):
        sys.stdout.flush()
