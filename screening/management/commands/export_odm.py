import sys

from screening import odm
from screening.management.commands._export import ExportCommand
from screening.models import ExportLog


class Command(ExportCommand):
    help = (
        "Export the trial as a CDISC ODM 1.3.2 snapshot (XML): the study's metadata and one "
        "pseudonymous SubjectData per referral, with its outcome, results, MDT decisions, "
        "enrolment, signatures and audit records. Written as it is read: memory stays flat."
    )
    kind = ExportLog.Kind.ODM
    formats = ("xml",)

    def rows(self, referrals, **options):
        return odm.OdmExport(referrals, complete=not self.filtered), None

    def write(self, rows, columns, *, format, output):
        if output:
            with open(output, "wb") as stream:
                for chunk in rows.chunks():
                    stream.write(chunk)
        else:
            for chunk in rows.chunks():
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
