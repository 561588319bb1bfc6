import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from screening.models import Role, Site


class Command(BaseCommand):
    help = (
        "Create a user with one role: coordinator (bound to --site), mdt (MDT member) or admin "
        "(data manager, who also reaches the Django admin). Prints a generated password when "
        "--password is not given."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=[role.value for role in Role])
        parser.add_argument(
            "--site",
            action="append",
            default=[],
            help="site code (wuwei, lanzhou); repeat for several; coordinators need one",
        )
        parser.add_argument("--password", help="at least 12 characters")

    @transaction.atomic
    def handle(self, *args, username, role, site, password, **options):
        users = get_user_model()
        if users.objects.filter(username=username).exists():
            raise CommandError(f"a user named {username!r} already exists")
        sites = list(Site.objects.filter(code__in=site))
        unknown = set(site) - {s.code for s in sites}
        if unknown:
            known = ", ".join(Site.objects.values_list("code", flat=True))
            raise CommandError(f"unknown site(s): {', '.join(sorted(unknown))} (known: {known})")
        if role == Role.COORDINATOR and not sites:
            raise CommandError("a coordinator needs at least one --site")
        generated = password is None
        if generated:
            password = secrets.token_urlsafe(12)
        user = users(username=username, is_staff=role == Role.ADMIN)
        try:
            validate_password(password, user)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        user.set_password(password)
        user.save()
        user.groups.add(Group.objects.get(name=role))
        user.sites.set(sites)
        message = f"created {role} {username}"
        if sites:
            message += f" at {', '.join(s.code for s in sites)}"
        if generated:
            message += f"; password: {password}"
        self.stdout.write(message)
