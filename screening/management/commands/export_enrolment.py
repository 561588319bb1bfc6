from screening import exports
from screening.management.commands._export import ExportCommand
from screening.models import ExportLog


class Command(ExportCommand):
    help = "Export the enrolment list: enrolled participants in study-number order."
    kind = ExportLog.Kind.ENROLMENT
    sheet_title = "enrolment"

    def rows(self, referrals, **options):
        return exports.enrolment_rows(referrals), exports.ENROLMENT_COLUMNS

    def row_count(self, referrals):
        return referrals.filter(enrolment__isnull=False).count()
