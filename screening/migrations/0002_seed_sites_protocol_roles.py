"""Seed the two sites, protocol version 1 with the PROTOCOL defaults, the screening-number
sequence and the three role groups with their permissions."""

import datetime

from django.apps import apps as installed_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

SITES = (("wuwei", "Wuwei Heavy Ion Center"), ("lanzhou", "Lanzhou Heavy Ion Center"))

ROLE_PERMISSIONS = {
    "coordinator": [
        "view_referral", "add_referral", "change_referral", "enrol_participant",
        "view_evaluation", "view_mdtdecision", "view_enrolment",
    ],
    "mdt": [
        "view_referral", "decide_referral", "view_evaluation", "view_mdtdecision",
        "add_mdtdecision", "view_enrolment", "view_protocolversion",
    ],
    "admin": [
        "view_referral", "change_referral", "enrol_participant", "export_trial_data",
        "view_evaluation", "view_mdtdecision", "view_enrolment", "view_site",
        "view_protocolversion", "add_protocolversion",
    ],
}


def seed(apps, schema_editor):
    # Permissions are normally created after all migrations; the groups need them now.
    create_permissions(installed_apps.get_app_config("screening"), apps=apps, verbosity=0)
    Site = apps.get_model("screening", "Site")
    ProtocolVersion = apps.get_model("screening", "ProtocolVersion")
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for code, name in SITES:
        Site.objects.create(code=code, name=name)
    ProtocolVersion.objects.create(
        version=1,
        effective_date=datetime.date(2025, 5, 1),
        note="Protocol defaults at the opening of accrual.",
    )
    for role, codenames in ROLE_PERMISSIONS.items():
        group = Group.objects.create(name=role)
        group.permissions.set(
            Permission.objects.filter(content_type__app_label="screening", codename__in=codenames)
        )


def unseed(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLE_PERMISSIONS).delete()
    apps.get_model("screening", "ProtocolVersion").objects.filter(version=1).delete()
    apps.get_model("screening", "Site").objects.filter(code__in=[c for c, _ in SITES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("screening", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE SEQUENCE screening_referral_number_seq",
            "DROP SEQUENCE screening_referral_number_seq",
        ),
        migrations.RunPython(seed, unseed),
    ]
