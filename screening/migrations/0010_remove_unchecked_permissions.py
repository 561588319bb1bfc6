"""Remove the custom permissions that nothing checked: access is decided by role
(screening/access.py), so the groups no longer carry permissions that could disagree with it."""

from django.db import migrations

PERMISSIONS = {
    "export_trial_data": ("Can export screening logs and enrolment lists", ["admin"]),
    "decide_referral": ("Can record MDT decisions", ["mdt"]),
    "enrol_participant": ("Can enrol approved participants", ["coordinator", "admin"]),
}


def remove(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Permission.objects.filter(
        content_type__app_label="screening", codename__in=PERMISSIONS
    ).delete()


def restore(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    referral_type, _created = ContentType.objects.get_or_create(
        app_label="screening", model="referral"
    )
    for codename, (name, roles) in PERMISSIONS.items():
        permission, _created = Permission.objects.get_or_create(
            content_type=referral_type, codename=codename, defaults={"name": name}
        )
        for group in Group.objects.filter(name__in=roles):
            group.permissions.add(permission)


class Migration(migrations.Migration):
    dependencies = [
        ("screening", "0009_index_for_first_decisions"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="referral",
            options={"ordering": ["-referral_date", "-id"]},
        ),
        migrations.RunPython(remove, restore),
    ]
