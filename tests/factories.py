"""Test data: users of each role, and referrals as a coordinator would enter them."""

import datetime

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from screening import services
from screening.demo import referral_row
from screening.imports import validate_rows
from screening.models import ProtocolVersion, Referral, Site

PASSWORD = "correct-horse-battery"

Status = Referral.Status


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.add(Group.objects.get(name=extracted))
            if extracted == "admin":
                self.is_staff = True
            self.save()

    @factory.post_generation
    def site_codes(self, create, extracted, **kwargs):
        if create and extracted:
            self.sites.set(Site.objects.filter(code__in=extracted))


def referral_data(*, age: int | None = None, **overrides) -> dict:
    """An eligible referral as import/form data (PROTOCOL section 3 keys), then ``overrides``.

    ``number`` (default 1) picks the patient: name, hospital number and dates vary with it.
    ``age`` makes the patient exactly that many years old at screening (born on 1 January, so
    the birthday of the screening year has passed). A key set to None is left out, as a
    coordinator would leave the field empty.
    """
    today = timezone.localdate()
    row = referral_row(number=overrides.pop("number", 1), site="wuwei", today=today)
    row.update(overrides)
    if age is not None:
        assert "date_of_birth" not in overrides, "give the age or the date of birth, not both"
        screening = datetime.date.fromisoformat(str(row["screening_date"]))
        row["date_of_birth"] = datetime.date(screening.year - age, 1, 1).isoformat()
    return {key: value for key, value in row.items() if value is not None}


def form_data(**overrides) -> dict:
    """``referral_data`` as the strings a browser posts."""
    return {key: str(value) for key, value in referral_data(**overrides).items()}


# The statuses entry itself gives; the others are reached through the services afterwards.
ENTRY_STATUSES = (Status.SCREENING, Status.SCREEN_FAILED, Status.MDT_REVIEW)


def create_referrals(
    count: int = 1, *, user=None, status: str | None = None, site="wuwei", **overrides
) -> list[Referral]:
    """``count`` patients with the data of ``referral_data(site=site, **overrides)``, entered
    by ``user`` through ``services.referrals_create``, the service of the form and the import.

    The data is validated once, as the import validates it (about 50 queries), and the
    referrals are created in one batch (a constant number of queries): hundreds cost what a
    few do. Copies after the first are the patients of the next ``number``s: the same clinical
    data under their own hospital numbers and names (numbered, so that no copy is a possible
    duplicate of another). ``site`` may be a tuple of site codes, taken in turn.

    ``status`` is the status every referral must end in: one that entry gives (screening,
    screen_failed, mdt_review) is checked; mdt_approved, mdt_rejected and enrolled are reached
    through the MDT's decision by the cast's MDT member and the enrolment by ``user`` (who
    must then be given); withdrawn through a withdrawal by ``user``.
    """
    assert status is None or status in Status.values, f"no status {status!r}"
    sites = (site,) if isinstance(site, str) else tuple(site)
    assert count == 1 or "hospital_number" not in overrides, "copies need their own numbers"
    cleaned, errors = validate_rows(
        [referral_data(site=sites[0], **overrides)], protocol=ProtocolVersion.current()
    )
    assert not errors, errors
    first = overrides.get("number", 1)
    by_code = {code: Site.objects.get(code=code) for code in set(sites)}
    rows = [cleaned[0]]
    for index in range(1, count):
        code = sites[index % len(sites)]
        patient = referral_data(number=first + index, site=code)
        rows.append(
            {
                **cleaned[0],
                "site": by_code[code],
                "hospital_number": patient["hospital_number"],
                "full_name": f"{cleaned[0]['full_name']} {index}",
            }
        )
    referrals = services.referrals_create(rows=rows, user=user)
    if status is not None:
        for referral in referrals:
            _move_on(referral, status, user)
    return referrals


def create_referral(**arguments) -> Referral:
    """The one referral of ``create_referrals(1, **arguments)``."""
    (referral,) = create_referrals(1, **arguments)
    return referral


def _move_on(referral: Referral, status: str, user) -> None:
    """Take a newly entered referral on to ``status`` as the MDT and the coordinator would."""
    if status in ENTRY_STATUSES:
        assert referral.status == status, f"entered as {referral.status}, not {status}"
    elif status == Status.WITHDRAWN:
        services.referral_withdraw(
            referral=referral, code="patient_choice", reason="moved away", user=user
        )
    else:
        assert referral.status == Status.MDT_REVIEW, f"entered as {referral.status}"
        mdt_member = _cast_mdt_member()
        if status == Status.MDT_REJECTED:
            services.mdt_decision_record(
                referral=referral,
                user=mdt_member,
                decision="reject",
                rationale="Not suitable.",
                reason_code="other",
            )
        else:
            services.mdt_decision_record(
                referral=referral, user=mdt_member, decision="approve", rationale="Fit."
            )
            if status == Status.ENROLLED:
                assert user is not None, "an enrolment needs the user who enrols"
                services.participant_enrol(
                    referral=referral, user=user, consent_date=timezone.localdate()
                )
    assert referral.status == status


def _cast_mdt_member():
    """The MDT member of the cast (tests/conftest.py), created when the test has not asked
    for it. An existing one is left alone: ``UserFactory`` would set its password again, which
    signs out any client already signed in as it."""
    existing = get_user_model().objects.filter(username="mdt-member").first()
    return existing or UserFactory(username="mdt-member", role="mdt")


def days_ago(days: int) -> str:
    return (timezone.localdate() - datetime.timedelta(days=days)).isoformat()
