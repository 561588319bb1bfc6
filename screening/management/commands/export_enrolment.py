from screening import exports
from screening.management.commands._export import ExportCommand


class Command(ExportCommand):
    help = "Export the enrolment list: enrolled participants in study-number order."
    sheet_title = "enrolment"

    def handle(self, *args, format, output, **options):
        rows = exports.enrolment_rows(self.referrals(**options))
        self.write(rows, exports.ENROLMENT_COLUMNS, format=format, output=output)
