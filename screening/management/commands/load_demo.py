from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from screening import services
from screening.demo import demo_rows
from screening.imports import validate_rows
from screening.models import ProtocolVersion, Referral

DEMO_PASSWORD = "trialscreen-demo"
DEMO_USERS = (
    ("coordinator-wuwei", "coordinator", ["wuwei"]),
    ("coordinator-lanzhou", "coordinator", ["lanzhou"]),
    ("mdt", "mdt", []),
    ("datamanager", "admin", []),
)


class Command(BaseCommand):
    help = (
        "Load demo users (one per role, password 'trialscreen-demo') and about 40 demo "
        "referrals across both sites and every outcome. Does nothing if demo users exist. "
        "For development only."
    )

    @transaction.atomic
    def handle(self, *args, **options):
        users = get_user_model().objects
        if users.filter(username=DEMO_USERS[0][0]).exists():
            self.stdout.write("demo data already loaded")
            self._print_users()
            return
        for username, role, sites in DEMO_USERS:
            site_options = [f"--site={site}" for site in sites]
            call_command(
                "adduser",
                username,
                f"--role={role}",
                *site_options,
                f"--password={DEMO_PASSWORD}",
                stdout=self.stdout,
            )
        if not Referral.objects.exists():
            cleaned, errors = validate_rows(
                demo_rows(timezone.localdate()), protocol=ProtocolVersion.current()
            )
            if errors:
                raise CommandError("; ".join(str(error) for error in errors))
            creator = users.get(username="coordinator-wuwei")
            referrals = services.referrals_create(rows=cleaned, user=creator)
            self.stdout.write(f"loaded {len(referrals)} demo referrals")
        self._print_users()

    def _print_users(self):
        names = ", ".join(username for username, _role, _sites in DEMO_USERS)
        self.stdout.write(f"demo users: {names}; password: {DEMO_PASSWORD}")
