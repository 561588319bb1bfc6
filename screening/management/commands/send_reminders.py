import datetime

from django.core.management.base import BaseCommand, CommandError

from screening import import_uploads, notifications
from screening.models import Notification


class Command(BaseCommand):
    help = (
        "Tell coordinators of approved referrals whose labs are too old for enrolment, and data "
        "managers of referrals waiting more than 14 days for the MDT. Run daily (a systemd "
        "timer, docs/deploy.md); nobody is told the same thing twice, however often it runs. "
        "Also deletes import uploads left unconfirmed for more than an hour."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--date",
            help="Remind as of this day (YYYY-MM-DD) instead of today in the trial's time zone.",
        )

    def handle(self, *args, **options):
        today = None
        if options["date"]:
            try:
                today = datetime.date.fromisoformat(options["date"])
            except ValueError as error:
                raise CommandError(f"--date: {error}") from error
        sent = notifications.reminders_send(today=today)
        for kind in (Notification.Kind.LABS_STALE, Notification.Kind.REVIEW_OVERDUE):
            self.stdout.write(f"{kind}: {sent[kind]} notifications")
        # A file of patients' data left on the import page is not kept until the next upload.
        discarded = import_uploads.discard_expired()
        self.stdout.write(f"expired import uploads deleted: {discarded}")
