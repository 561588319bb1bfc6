from screening import exports
from screening.management.commands._export import ExportCommand
from screening.models import ExportLog


class Command(ExportCommand):
    help = (
        "Export the screening log: one row per referral with the PROTOCOL section 7 columns. "
        "Pseudonymous unless --identified adds hospital_number and full_name."
    )
    kind = ExportLog.Kind.SCREENING_LOG
    sheet_title = "screening log"

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--identified", action="store_true", help="add hospital_number and full_name"
        )

    def rows(self, referrals, *, identified, **options):
        rows = exports.screening_log_rows(referrals, identified=identified)
        return rows, exports.screening_log_columns(identified=identified)
