"""Each site's Chinese name, shown wherever the interface names a site in Chinese."""

from django.db import migrations, models

CHINESE_NAMES = {"wuwei": "武威重离子中心", "lanzhou": "兰州重离子中心"}


def name_in_chinese(apps, schema_editor):
    Site = apps.get_model("screening", "Site")
    for code, name_zh in CHINESE_NAMES.items():
        Site.objects.filter(code=code).update(name_zh=name_zh)


class Migration(migrations.Migration):

    dependencies = [
        ('screening', '0019_importupload'),
    ]

    operations = [
        migrations.AddField(
            model_name='site',
            name='name_zh',
            field=models.CharField(blank=True, max_length=100, verbose_name='Chinese name'),
        ),
        # Undone with the column itself.
        migrations.RunPython(name_in_chinese, migrations.RunPython.noop),
    ]
