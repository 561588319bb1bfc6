"""Let data managers (group "admin") read the whole audit log in the Django admin.

View permissions only: the event tables are append-only and the admin offers no change.
"""

from django.apps import apps as installed_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

AUDIT_PERMISSIONS = {
    "pghistory": ["view_events", "view_middlewareevents", "view_context"],
    "screening": [
        "view_referralevent",
        "view_evaluationevent",
        "view_mdtdecisionevent",
        "view_enrolmentevent",
        "view_protocolversionevent",
    ],
}


def _permissions(apps):
    Permission = apps.get_model("auth", "Permission")
    for app_label, codenames in AUDIT_PERMISSIONS.items():
        yield from Permission.objects.filter(
            content_type__app_label=app_label, codename__in=codenames
        )


def grant(apps, schema_editor):
    # Permissions are normally created after all migrations; the group needs them now.
    for app_label in AUDIT_PERMISSIONS:
        create_permissions(installed_apps.get_app_config(app_label), apps=apps, verbosity=0)
    group = apps.get_model("auth", "Group").objects.get(name="admin")
    group.permissions.add(*_permissions(apps))


def revoke(apps, schema_editor):
    group = apps.get_model("auth", "Group").objects.get(name="admin")
    group.permissions.remove(*_permissions(apps))


class Migration(migrations.Migration):
    dependencies = [
        ("screening", "0004_audit_context_guard"),
        ("pghistory", "0007_auto_20250421_0444"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
