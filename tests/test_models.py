"""What the database itself enforces (STYLE.md lesson 5), and the adduser command."""

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction

from screening.models import ProtocolVersion, Referral
from tests.factories import create_referral

pytestmark = pytest.mark.django_db


def test_second_open_referral_for_a_patient_is_refused_by_the_database():
    first = create_referral(number=1)
    second = create_referral(number=2)

    with pytest.raises(IntegrityError), transaction.atomic():
        Referral.objects.filter(pk=second.pk).update(hospital_number=first.hospital_number)


def test_a_closed_referral_does_not_block_a_new_one_for_the_same_patient():
    first = create_referral(number=1)
    Referral.objects.filter(pk=first.pk).update(status=Referral.Status.WITHDRAWN)

    second = create_referral(number=1)

    assert second.hospital_number == first.hospital_number


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ecog", 6),
        ("alt", 5001),
        ("hemoglobin", 19),
        ("sex", "X"),
        ("ct", "T5"),
        ("pathology_confirmed", "maybe"),
        ("status", "lost"),
        ("national_id", "12345"),
        ("labs_date", datetime.date(2999, 1, 1)),
        ("date_of_birth", datetime.date(1899, 1, 1)),
    ],
)
def test_out_of_range_or_unknown_values_are_refused_by_the_database(field, value):
    referral = create_referral()

    with pytest.raises(IntegrityError), transaction.atomic():
        Referral.objects.filter(pk=referral.pk).update(**{field: value})


def test_model_validation_reports_the_same_rules_with_field_messages():
    referral = create_referral()
    referral.ecog = 6
    referral.lvef_percent = 101

    with pytest.raises(ValidationError) as error:
        referral.full_clean()

    assert set(error.value.message_dict) >= {"ecog", "lvef_percent"}


def test_protocol_version_one_holds_the_protocol_defaults():
    protocol = ProtocolVersion.current()

    assert protocol.version == 1
    assert protocol.enrolment_target == 32
    assert (protocol.accrual_start, protocol.accrual_end) == (
        datetime.date(2025, 5, 1),
        datetime.date(2029, 5, 31),
    )
    assert protocol.study_number(1) == "EC-001"
    limits = protocol.limits()
    assert (limits.age_min, limits.age_max, limits.total_bilirubin_max) == (18, 70, 31.5)


def test_screening_numbers_are_sequential_and_pseudonymous():
    numbers = [create_referral(number=n).screening_number for n in (1, 2, 3)]

    first = int(numbers[0].removeprefix("S-"))
    assert numbers == [f"S-{first + offset:05d}" for offset in range(3)]


def test_adduser_creates_a_coordinator_bound_to_a_site(capsys):
    call_command("adduser", "li", "--role=coordinator", "--site=lanzhou")

    out = capsys.readouterr().out
    user = get_user_model().objects.get(username="li")
    assert "password: " in out
    password = out.rsplit("password: ", 1)[1].strip()
    assert user.check_password(password)
    assert list(user.sites.values_list("code", flat=True)) == ["lanzhou"]
    assert list(user.groups.values_list("name", flat=True)) == ["coordinator"]


def test_adduser_data_manager_reaches_the_admin():
    call_command("adduser", "dm", "--role=admin", "--password=a-long-enough-password")

    assert get_user_model().objects.get(username="dm").is_staff


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["x", "--role=coordinator"], "needs at least one --site"),
        (["x", "--role=mdt", "--site=beijing"], "unknown site"),
        (["x", "--role=mdt", "--password=short"], "too short"),
    ],
)
def test_adduser_refuses_bad_requests(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("adduser", *args)
