"""Models and their relations named in words makemessages finds, so the admin names them in the
reader's language."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('screening', '0020_site_chinese_name'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='enrolment',
            options={'ordering': ['sequence'], 'verbose_name': 'enrolment', 'verbose_name_plural': 'enrolments'},
        ),
        migrations.AlterModelOptions(
            name='evaluation',
            options={'ordering': ['-created_at', '-id'], 'verbose_name': 'evaluation', 'verbose_name_plural': 'evaluations'},
        ),
        migrations.AlterModelOptions(
            name='exportlog',
            options={'ordering': ['-exported_at', '-id'], 'verbose_name': 'export record', 'verbose_name_plural': 'export records'},
        ),
        migrations.AlterModelOptions(
            name='importupload',
            options={'ordering': ['-created_at', '-id'], 'verbose_name': 'import file', 'verbose_name_plural': 'import files'},
        ),
        migrations.AlterModelOptions(
            name='mdtdecision',
            options={'ordering': ['-decided_at', '-id'], 'verbose_name': 'MDT decision', 'verbose_name_plural': 'MDT decisions'},
        ),
        migrations.AlterModelOptions(
            name='notification',
            options={'ordering': ['-created_at', '-id'], 'verbose_name': 'notification', 'verbose_name_plural': 'notifications'},
        ),
        migrations.AlterModelOptions(
            name='protocolversion',
            options={'ordering': ['-version'], 'verbose_name': 'protocol version', 'verbose_name_plural': 'protocol versions'},
        ),
        migrations.AlterModelOptions(
            name='recordview',
            options={'ordering': ['-viewed_at', '-id'], 'verbose_name': 'record view', 'verbose_name_plural': 'record views'},
        ),
        migrations.AlterModelOptions(
            name='referral',
            options={'ordering': ['-referral_date', '-id'], 'verbose_name': 'referral', 'verbose_name_plural': 'referrals'},
        ),
        migrations.AlterModelOptions(
            name='signature',
            options={'ordering': ['signed_at', 'id'], 'verbose_name': 'signature', 'verbose_name_plural': 'signatures'},
        ),
        migrations.AlterModelOptions(
            name='site',
            options={'ordering': ['code'], 'verbose_name': 'site', 'verbose_name_plural': 'sites'},
        ),
        migrations.AlterField(
            model_name='enrolment',
            name='enrolled_by',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='enrolled by'),
        ),
        migrations.AlterField(
            model_name='enrolment',
            name='protocol_version',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='enrolments', to='screening.protocolversion', verbose_name='protocol version'),
        ),
        migrations.AlterField(
            model_name='enrolment',
            name='referral',
            field=models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='enrolment', to='screening.referral', verbose_name='referral'),
        ),
        migrations.AlterField(
            model_name='enrolmentevent',
            name='enrolled_by',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', related_query_name='+', to=settings.AUTH_USER_MODEL, verbose_name='enrolled by'),
        ),
        migrations.AlterField(
            model_name='enrolmentevent',
            name='protocol_version',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', related_query_name='+', to='screening.protocolversion', verbose_name='protocol version'),
        ),
        migrations.AlterField(
            model_name='enrolmentevent',
            name='referral',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', related_query_name='+', to='screening.referral', verbose_name='referral'),
        ),
        migrations.AlterField(
            model_name='evaluation',
            name='created_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='created by'),
        ),
        migrations.AlterField(
            model_name='evaluation',
            name='protocol_version',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='evaluations', to='screening.protocolversion', verbose_name='protocol version'),
        ),
        migrations.AlterField(
            model_name='evaluation',
            name='referral',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='evaluations', to='screening.referral', verbose_name='referral'),
        ),
        migrations.AlterField(
            model_name='evaluationevent',
            name='created_by',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', related_query_name='+', to=settings.AUTH_USER_MODEL, verbose_name='created by'),
        ),
        migrations.AlterField(
            model_name='evaluationevent',
            name='protocol_version',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', related_query_name='+', to='screening.protocolversion', verbose_name='protocol version'),
        ),
        migrations.AlterField(
            model_name='evaluationevent',
            name='referral',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', related_query_name='+', to='screening.referral', verbose_name='referral'),
        ),
        migrations.AlterField(
            model_name='mdtdecision',
            name='decided_by',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='decided by'),
        ),
        migrations.AlterField(
            model_name='mdtdecision',
            name='evaluation',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='decisions', to='screening.evaluation', verbose_name='evaluation'),
        ),
        migrations.AlterField(
            model_name='mdtdecision',
            name='referral',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='decisions', to='screening.referral', verbose_name='referral'),
        ),
        migrations.AlterField(
            model_name='mdtdecisionevent',
            name='decided_by',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', related_query_name='+', to=settings.AUTH_USER_MODEL, verbose_name='decided by'),
        ),
        migrations.AlterField(
            model_name='mdtdecisionevent',
            name='evaluation',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', related_query_name='+', to='screening.evaluation', verbose_name='evaluation'),
        ),
        migrations.AlterField(
            model_name='mdtdecisionevent',
            name='referral',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', related_query_name='+', to='screening.referral', verbose_name='referral'),
        ),
        migrations.AlterField(
            model_name='protocolversion',
            name='created_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='created by'),
        ),
        migrations.AlterField(
            model_name='protocolversionevent',
            name='created_by',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', related_query_name='+', to=settings.AUTH_USER_MODEL, verbose_name='created by'),
        ),
        migrations.AlterField(
            model_name='signature',
            name='decision',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='signatures', to='screening.mdtdecision', verbose_name='MDT decision'),
        ),
        migrations.AlterField(
            model_name='signature',
            name='enrolment',
            field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='signature', to='screening.enrolment', verbose_name='enrolment'),
        ),
        migrations.AlterField(
            model_name='signature',
            name='referral',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='signatures', to='screening.referral', verbose_name='referral'),
        ),
        migrations.AlterField(
            model_name='signatureevent',
            name='decision',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', related_query_name='+', to='screening.mdtdecision', verbose_name='MDT decision'),
        ),
        migrations.AlterField(
            model_name='signatureevent',
            name='enrolment',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', related_query_name='+', to='screening.enrolment', verbose_name='enrolment'),
        ),
        migrations.AlterField(
            model_name='signatureevent',
            name='referral',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', related_query_name='+', to='screening.referral', verbose_name='referral'),
        ),
    ]
