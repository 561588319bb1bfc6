"""Test data: users of each role and referral rows as a coordinator would enter them."""

import datetime

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from screening import services
from screening.demo import referral_row
from screening.imports import validate_rows
from screening.models import ProtocolVersion, Site

PASSWORD = "correct-horse-battery"


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


def referral_data(**overrides) -> dict:
    """An eligible referral as import/form data (PROTOCOL section 3 keys), then ``overrides``.

    A key set to None is left out, as a coordinator would leave the field empty.
    """
    today = timezone.localdate()
    row = referral_row(number=overrides.pop("number", 1), site="wuwei", today=today)
    row.update(overrides)
    return {key: value for key, value in row.items() if value is not None}


def form_data(**overrides) -> dict:
    """``referral_data`` as the strings a browser posts."""
    return {key: str(value) for key, value in referral_data(**overrides).items()}


def create_referral(user=None, **overrides):
    """Create a referral through the same validation and service as the browser."""
    cleaned, errors = validate_rows(
        [referral_data(**overrides)], protocol=ProtocolVersion.current()
    )
    assert not errors, errors
    return services.referral_create(data=cleaned[0], user=user)


def days_ago(days: int) -> str:
    return (timezone.localdate() - datetime.timedelta(days=days)).isoformat()
