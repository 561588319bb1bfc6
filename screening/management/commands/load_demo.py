import copy
import datetime
from collections import Counter
from itertools import groupby
from typing import NamedTuple

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from screening import services
from screening.demo import ATTENDEES, Case, Decide, Decline, Edit, Enrol, Void, Withdraw, demo_cases
from screening.forms.referrals import ReferralForm
from screening.imports import validate_rows
from screening.models import ProtocolVersion, Referral

DEMO_PASSWORD = "trialscreen-demo"
DEMO_USERS = (
    ("coordinator-wuwei", "coordinator", ["wuwei"]),
    ("coordinator-lanzhou", "coordinator", ["lanzhou"]),
    ("mdt", "mdt", []),
    ("datamanager", "admin", []),
)
# The coordinator who enters, edits, withdraws and enrols each site's referrals.
COORDINATORS = {"wuwei": "coordinator-wuwei", "lanzhou": "coordinator-lanzhou"}
MDT_MEMBER = "mdt"


class Command(BaseCommand):
    help = (
        "Load demo users (one per role, password 'trialscreen-demo') and a trial six months "
        "into accrual: about 60 referrals at both sites with every outcome and status, MDT "
        "decisions and enrolments. Does nothing if demo users exist. For development only."
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
            by_name = users.in_bulk([*COORDINATORS.values(), MDT_MEMBER], field_name="username")
            trial = DemoTrial(
                coordinators={site: by_name[name] for site, name in COORDINATORS.items()},
                mdt_member=by_name[MDT_MEMBER],
            )
            trial.play(demo_cases(timezone.localdate()))
            statuses = Counter(Referral.objects.values_list("status", flat=True))
            summary = ", ".join(f"{count} {status}" for status, count in sorted(statuses.items()))
            self.stdout.write(f"loaded {statuses.total()} demo referrals: {summary}")
        self._print_users()

    def _print_users(self):
        names = ", ".join(username for username, _role, _sites in DEMO_USERS)
        self.stdout.write(f"demo users: {names}; password: {DEMO_PASSWORD}")


class Event(NamedTuple):
    """On ``day``, the entry of case number ``case`` or its step number ``order``."""

    day: datetime.date
    is_step: bool
    case: int
    order: int = 0
    step: object = None


class DemoTrial:
    """Plays the demo cases through the services, day by day, as the users would have: each
    site's coordinator enters, edits, withdraws and enrols its referrals, the MDT member
    decides and voids. Referrals entered one after another at one site are entered in one
    batch; screening numbers follow the referral dates, study numbers the consent dates."""

    def __init__(self, *, coordinators: dict, mdt_member):
        self.coordinators = coordinators
        self.mdt_member = mdt_member
        self.protocol = ProtocolVersion.current()
        self.referrals: dict[int, Referral] = {}  # by the case's index
        self.rows: dict[int, dict] = {}  # each case's data as last entered

    def play(self, cases: list[Case]) -> None:
        # Day by day, entries before steps: a re-referral is entered after the rejection of the
        # referral it follows, and enrolments happen in the order of their consent dates.
        events = [Event(case.referred, False, index) for index, case in enumerate(cases)]
        events += [
            Event(step.day, True, index, order, step)
            for index, case in enumerate(cases)
            for order, step in enumerate(case.steps)
        ]
        events.sort(key=lambda event: (event.day, event.is_step, event.case, event.order))
        # Runs of entries at one site with no step between them are entered in one batch.
        for (is_step, site), run in groupby(
            events, key=lambda event: (event.is_step, cases[event.case].row["site"])
        ):
            if is_step:
                for event in run:
                    self._act(event.case, cases[event.case], event.step)
            else:
                self._enter(site, [(event.case, cases[event.case]) for event in run])

    def _enter(self, site: str, cases: list[tuple[int, Case]]) -> None:
        cleaned, errors = validate_rows(
            [case.row for _index, case in cases], protocol=self.protocol
        )
        if errors:
            raise CommandError("; ".join(str(error) for error in errors))
        created = services.referrals_create(rows=cleaned, user=self.coordinators[site])
        for (index, case), referral in zip(cases, created, strict=True):
            self.referrals[index] = referral
            self.rows[index] = case.row

    def _act(self, index: int, case: Case, step) -> None:
        referral = self.referrals[index]
        coordinator = self.coordinators[case.row["site"]]
        match step:
            case Decide():
                services.mdt_decision_record(
                    referral=referral,
                    user=self.mdt_member,
                    decision=step.decision,
                    rationale=step.rationale,
                    reason_code=step.reason_code,
                    attendees=ATTENDEES,
                    meeting_date=step.day,
                )
            case Void():
                services.mdt_decision_void(
                    referral=referral, user=self.mdt_member, reason=step.reason
                )
            case Enrol():
                services.participant_enrol(
                    referral=referral, user=coordinator, consent_date=step.day
                )
            case Decline():
                services.participant_decline(referral=referral, user=coordinator)
            case Withdraw():
                services.referral_withdraw(
                    referral=referral, code=step.code, reason=step.reason, user=coordinator
                )
            case Edit():
                self._edit(index, referral, step, coordinator)
            case _:
                raise TypeError(f"no such demo step: {step!r}")

    def _edit(self, index: int, referral: Referral, step: Edit, coordinator) -> None:
        """Change the referral as its edit page would: the form validates the edited data
        against a copy, the service assigns it with the reason."""
        row = {**self.rows[index], **step.changes}
        form = ReferralForm(
            data={key: "" if value is None else str(value) for key, value in row.items()},
            instance=copy.copy(referral),
            protocol=self.protocol,
            check_person=False,
            from_file=True,
        )
        if not form.is_valid():
            raise CommandError(f"{referral.screening_number}: {form.errors.as_text()}")
        services.referral_update(
            referral=referral,
            data=form.clinical_data(),
            change_reason=step.reason,
            user=coordinator,
        )
        self.rows[index] = row
