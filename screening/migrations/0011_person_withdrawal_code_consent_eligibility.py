"""The person behind a referral, coded withdrawal reasons and eligibility at consent (PROTOCOL
sections 3a, 4 and 6). Existing withdrawals are coded: the exact phrase "declined consent", which
the app wrote when a patient declined, becomes ``declined_consent``; any other reason ``other``,
its text kept."""

import django.db.models.deletion
import pgtrigger.compiler
import pgtrigger.migrations
from django.conf import settings
from django.db import migrations, models


DECLINED_CONSENT_TEXT = "declined consent"


def code_withdrawals(apps, schema_editor):
    Referral = apps.get_model("screening", "Referral")
    withdrawn = Referral.objects.filter(status="withdrawn")
    withdrawn.filter(withdrawal_reason=DECLINED_CONSENT_TEXT).update(
        withdrawal_code="declined_consent"
    )
    withdrawn.exclude(withdrawal_reason=DECLINED_CONSENT_TEXT).update(withdrawal_code="other")


def uncode_withdrawals(apps, schema_editor):
    Referral = apps.get_model("screening", "Referral")
    Referral.objects.filter(withdrawal_code="declined_consent").update(
        withdrawal_reason=DECLINED_CONSENT_TEXT
    )


class Migration(migrations.Migration):

    dependencies = [
        ('screening', '0010_remove_unchecked_permissions'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        pgtrigger.migrations.RemoveTrigger(
            model_name='enrolment',
            name='insert_insert',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='enrolment',
            name='update_update',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='enrolment',
            name='delete_delete',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='mdtdecision',
            name='insert_insert',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='mdtdecision',
            name='update_update',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='mdtdecision',
            name='delete_delete',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='referral',
            name='insert_insert',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='referral',
            name='update_update',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='referral',
            name='delete_delete',
        ),
        migrations.AddField(
            model_name='enrolment',
            name='eligibility',
            field=models.JSONField(blank=True, null=True, verbose_name='eligibility at consent'),
        ),
        migrations.AddField(
            model_name='enrolment',
            name='identity_confirmed',
            field=models.BooleanField(default=False, help_text='For a possible duplicate: checked not to be the same person.', verbose_name='identity confirmed'),
        ),
        migrations.AddField(
            model_name='enrolmentevent',
            name='eligibility',
            field=models.JSONField(blank=True, null=True, verbose_name='eligibility at consent'),
        ),
        migrations.AddField(
            model_name='enrolmentevent',
            name='identity_confirmed',
            field=models.BooleanField(default=False, help_text='For a possible duplicate: checked not to be the same person.', verbose_name='identity confirmed'),
        ),
        migrations.AddField(
            model_name='mdtdecision',
            name='rests_on',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='screening.evaluation', verbose_name='rests on evaluation'),
        ),
        migrations.AddField(
            model_name='mdtdecisionevent',
            name='rests_on',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', related_query_name='+', to='screening.evaluation', verbose_name='rests on evaluation'),
        ),
        migrations.AddField(
            model_name='referral',
            name='possible_duplicate',
            field=models.BooleanField(default=False, help_text='Another referral has the same name, date of birth and sex under another person key.', verbose_name='possible duplicate'),
        ),
        migrations.AddField(
            model_name='referral',
            name='previous_referral',
            field=models.ForeignKey(blank=True, help_text="The same person's latest earlier referral, closed when this one was made.", null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='screening.referral', verbose_name='previous referral'),
        ),
        migrations.AddField(
            model_name='referral',
            name='withdrawal_code',
            field=models.CharField(blank=True, choices=[('declined_consent', 'Declined consent'), ('patient_choice', "Patient's choice"), ('clinical_deterioration', 'Clinical deterioration'), ('died', 'Died'), ('lost_to_follow_up', 'Lost to follow-up'), ('duplicate_referral', 'Duplicate referral'), ('other', 'Other')], max_length=25, verbose_name='withdrawal reason'),
        ),
        migrations.AddField(
            model_name='referralevent',
            name='possible_duplicate',
            field=models.BooleanField(default=False, help_text='Another referral has the same name, date of birth and sex under another person key.', verbose_name='possible duplicate'),
        ),
        migrations.AddField(
            model_name='referralevent',
            name='previous_referral',
            field=models.ForeignKey(blank=True, db_constraint=False, help_text="The same person's latest earlier referral, closed when this one was made.", null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', related_query_name='+', to='screening.referral', verbose_name='previous referral'),
        ),
        migrations.AddField(
            model_name='referralevent',
            name='withdrawal_code',
            field=models.CharField(blank=True, choices=[('declined_consent', 'Declined consent'), ('patient_choice', "Patient's choice"), ('clinical_deterioration', 'Clinical deterioration'), ('died', 'Died'), ('lost_to_follow_up', 'Lost to follow-up'), ('duplicate_referral', 'Duplicate referral'), ('other', 'Other')], max_length=25, verbose_name='withdrawal reason'),
        ),
        migrations.AlterField(
            model_name='referral',
            name='withdrawal_reason',
            field=models.TextField(blank=True, verbose_name='withdrawal details'),
        ),
        migrations.AlterField(
            model_name='referralevent',
            name='withdrawal_reason',
            field=models.TextField(blank=True, verbose_name='withdrawal details'),
        ),
        migrations.RunPython(code_withdrawals, uncode_withdrawals),
        migrations.AddIndex(
            model_name='referral',
            index=models.Index(fields=['date_of_birth', 'sex'], name='referral_birth_sex_idx'),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='enrolment',
            trigger=pgtrigger.compiler.Trigger(name='insert_insert', sql=pgtrigger.compiler.UpsertTriggerSql(func='INSERT INTO "screening_enrolmentevent" ("consent_date", "eligibility", "enrolled_at", "enrolled_by_id", "id", "identity_confirmed", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "protocol_version_id", "referral_id", "sequence", "study_number") VALUES (NEW."consent_date", NEW."eligibility", NEW."enrolled_at", NEW."enrolled_by_id", NEW."id", NEW."identity_confirmed", _pgh_attach_context(), clock_timestamp(), \'insert\', NEW."id", NEW."protocol_version_id", NEW."referral_id", NEW."sequence", NEW."study_number"); RETURN NULL;', hash='1c4d30e22aac6aa7d4723db653540d2dcb4b570f', operation='INSERT', pgid='pgtrigger_insert_insert_93333', table='screening_enrolment', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='enrolment',
            trigger=pgtrigger.compiler.Trigger(name='update_update', sql=pgtrigger.compiler.UpsertTriggerSql(condition='WHEN (OLD.* IS DISTINCT FROM NEW.*)', func='INSERT INTO "screening_enrolmentevent" ("consent_date", "eligibility", "enrolled_at", "enrolled_by_id", "id", "identity_confirmed", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "protocol_version_id", "referral_id", "sequence", "study_number") VALUES (NEW."consent_date", NEW."eligibility", NEW."enrolled_at", NEW."enrolled_by_id", NEW."id", NEW."identity_confirmed", _pgh_attach_context(), clock_timestamp(), \'update\', NEW."id", NEW."protocol_version_id", NEW."referral_id", NEW."sequence", NEW."study_number"); RETURN NULL;', hash='aeebe4b2f51e1610be072c441fd3292b42927a1f', operation='UPDATE', pgid='pgtrigger_update_update_77900', table='screening_enrolment', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='enrolment',
            trigger=pgtrigger.compiler.Trigger(name='delete_delete', sql=pgtrigger.compiler.UpsertTriggerSql(func='INSERT INTO "screening_enrolmentevent" ("consent_date", "eligibility", "enrolled_at", "enrolled_by_id", "id", "identity_confirmed", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "protocol_version_id", "referral_id", "sequence", "study_number") VALUES (OLD."consent_date", OLD."eligibility", OLD."enrolled_at", OLD."enrolled_by_id", OLD."id", OLD."identity_confirmed", _pgh_attach_context(), clock_timestamp(), \'delete\', OLD."id", OLD."protocol_version_id", OLD."referral_id", OLD."sequence", OLD."study_number"); RETURN NULL;', hash='5cefbe42ee6285b3dca703ef7da308a2d4c4caf6', operation='DELETE', pgid='pgtrigger_delete_delete_193a0', table='screening_enrolment', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='mdtdecision',
            trigger=pgtrigger.compiler.Trigger(name='insert_insert', sql=pgtrigger.compiler.UpsertTriggerSql(func='INSERT INTO "screening_mdtdecisionevent" ("attendees", "decided_at", "decided_by_id", "decision", "evaluation_id", "id", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "rationale", "reason_code", "referral_id", "rests_on_id", "superseded_at") VALUES (NEW."attendees", NEW."decided_at", NEW."decided_by_id", NEW."decision", NEW."evaluation_id", NEW."id", _pgh_attach_context(), clock_timestamp(), \'insert\', NEW."id", NEW."rationale", NEW."reason_code", NEW."referral_id", NEW."rests_on_id", NEW."superseded_at"); RETURN NULL;', hash='ada06b9cc2111a49630084bd515ee09bad826837', operation='INSERT', pgid='pgtrigger_insert_insert_846a2', table='screening_mdtdecision', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='mdtdecision',
            trigger=pgtrigger.compiler.Trigger(name='update_update', sql=pgtrigger.compiler.UpsertTriggerSql(condition='WHEN (OLD.* IS DISTINCT FROM NEW.*)', func='INSERT INTO "screening_mdtdecisionevent" ("attendees", "decided_at", "decided_by_id", "decision", "evaluation_id", "id", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "rationale", "reason_code", "referral_id", "rests_on_id", "superseded_at") VALUES (NEW."attendees", NEW."decided_at", NEW."decided_by_id", NEW."decision", NEW."evaluation_id", NEW."id", _pgh_attach_context(), clock_timestamp(), \'update\', NEW."id", NEW."rationale", NEW."reason_code", NEW."referral_id", NEW."rests_on_id", NEW."superseded_at"); RETURN NULL;', hash='614fe3e34675dcb845ecddfa5fc63376a14590e8', operation='UPDATE', pgid='pgtrigger_update_update_07ff0', table='screening_mdtdecision', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='mdtdecision',
            trigger=pgtrigger.compiler.Trigger(name='delete_delete', sql=pgtrigger.compiler.UpsertTriggerSql(func='INSERT INTO "screening_mdtdecisionevent" ("attendees", "decided_at", "decided_by_id", "decision", "evaluation_id", "id", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "rationale", "reason_code", "referral_id", "rests_on_id", "superseded_at") VALUES (OLD."attendees", OLD."decided_at", OLD."decided_by_id", OLD."decision", OLD."evaluation_id", OLD."id", _pgh_attach_context(), clock_timestamp(), \'delete\', OLD."id", OLD."rationale", OLD."reason_code", OLD."referral_id", OLD."rests_on_id", OLD."superseded_at"); RETURN NULL;', hash='865da0e866266c6b889437c12a3f19fa85546838', operation='DELETE', pgid='pgtrigger_delete_delete_e2afa', table='screening_mdtdecision', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='referral',
            trigger=pgtrigger.compiler.Trigger(name='insert_insert', sql=pgtrigger.compiler.UpsertTriggerSql(func='INSERT INTO "screening_referralevent" ("abdominal_lymph_node_metastasis", "active_connective_tissue_disease", "alt", "alt_unit", "anc", "anc_unit", "ast", "ast_unit", "cardiac_event_within_6_months", "cardiac_implantable_device", "cm", "cn", "created_at", "created_by_id", "creatinine", "creatinine_clearance", "creatinine_clearance_unit", "creatinine_unit", "ct", "date_of_birth", "deep_ulceration", "dosimetry_status", "ecog", "evaluation_id", "fev1_litres", "fistula_or_perforation", "full_name", "heart_v30_percent", "hemoglobin", "hemoglobin_unit", "histology", "hospital_number", "id", "interstitial_lung_disease", "labs_date", "lung_mean_dose_gy", "lung_v20_percent", "lvef_percent", "metal_implant_in_treatment_region", "national_id", "other_absolute_rt_contraindication", "outcome", "pathology_confirmed", "perforation_risk_other", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "platelets", "platelets_unit", "possible_duplicate", "pregnant_or_breastfeeding", "previous_referral_id", "prior_esophageal_radiotherapy", "prior_esophageal_surgery", "prior_thoracic_radiotherapy_overlap", "referral_date", "referring_physician", "screening_date", "screening_number", "sex", "site_id", "spinal_cord_max_gy", "status", "total_bilirubin", "total_bilirubin_unit", "tumour_location", "uncontrolled_arrhythmia", "updated_at", "wbc", "wbc_unit", "withdrawal_code", "withdrawal_reason") VALUES (NEW."abdominal_lymph_node_metastasis", NEW."active_connective_tissue_disease", NEW."alt", NEW."alt_unit", NEW."anc", NEW."anc_unit", NEW."ast", NEW."ast_unit", NEW."cardiac_event_within_6_months", NEW."cardiac_implantable_device", NEW."cm", NEW."cn", NEW."created_at", NEW."created_by_id", NEW."creatinine", NEW."creatinine_clearance", NEW."creatinine_clearance_unit", NEW."creatinine_unit", NEW."ct", NEW."date_of_birth", NEW."deep_ulceration", NEW."dosimetry_status", NEW."ecog", NEW."evaluation_id", NEW."fev1_litres", NEW."fistula_or_perforation", NEW."full_name", NEW."heart_v30_percent", NEW."hemoglobin", NEW."hemoglobin_unit", NEW."histology", NEW."hospital_number", NEW."id", NEW."interstitial_lung_disease", NEW."labs_date", NEW."lung_mean_dose_gy", NEW."lung_v20_percent", NEW."lvef_percent", NEW."metal_implant_in_treatment_region", NEW."national_id", NEW."other_absolute_rt_contraindication", NEW."outcome", NEW."pathology_confirmed", NEW."perforation_risk_other", _pgh_attach_context(), clock_timestamp(), \'insert\', NEW."id", NEW."platelets", NEW."platelets_unit", NEW."possible_duplicate", NEW."pregnant_or_breastfeeding", NEW."previous_referral_id", NEW."prior_esophageal_radiotherapy", NEW."prior_esophageal_surgery", NEW."prior_thoracic_radiotherapy_overlap", NEW."referral_date", NEW."referring_physician", NEW."screening_date", NEW."screening_number", NEW."sex", NEW."site_id", NEW."spinal_cord_max_gy", NEW."status", NEW."total_bilirubin", NEW."total_bilirubin_unit", NEW."tumour_location", NEW."uncontrolled_arrhythmia", NEW."updated_at", NEW."wbc", NEW."wbc_unit", NEW."withdrawal_code", NEW."withdrawal_reason"); RETURN NULL;', hash='989666091dbe0d8e0a5e27dc0bb17a7b8cfaaa2b', operation='INSERT', pgid='pgtrigger_insert_insert_836b5', table='screening_referral', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='referral',
            trigger=pgtrigger.compiler.Trigger(name='update_update', sql=pgtrigger.compiler.UpsertTriggerSql(condition='WHEN (OLD.* IS DISTINCT FROM NEW.*)', func='INSERT INTO "screening_referralevent" ("abdominal_lymph_node_metastasis", "active_connective_tissue_disease", "alt", "alt_unit", "anc", "anc_unit", "ast", "ast_unit", "cardiac_event_within_6_months", "cardiac_implantable_device", "cm", "cn", "created_at", "created_by_id", "creatinine", "creatinine_clearance", "creatinine_clearance_unit", "creatinine_unit", "ct", "date_of_birth", "deep_ulceration", "dosimetry_status", "ecog", "evaluation_id", "fev1_litres", "fistula_or_perforation", "full_name", "heart_v30_percent", "hemoglobin", "hemoglobin_unit", "histology", "hospital_number", "id", "interstitial_lung_disease", "labs_date", "lung_mean_dose_gy", "lung_v20_percent", "lvef_percent", "metal_implant_in_treatment_region", "national_id", "other_absolute_rt_contraindication", "outcome", "pathology_confirmed", "perforation_risk_other", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "platelets", "platelets_unit", "possible_duplicate", "pregnant_or_breastfeeding", "previous_referral_id", "prior_esophageal_radiotherapy", "prior_esophageal_surgery", "prior_thoracic_radiotherapy_overlap", "referral_date", "referring_physician", "screening_date", "screening_number", "sex", "site_id", "spinal_cord_max_gy", "status", "total_bilirubin", "total_bilirubin_unit", "tumour_location", "uncontrolled_arrhythmia", "updated_at", "wbc", "wbc_unit", "withdrawal_code", "withdrawal_reason") VALUES (NEW."abdominal_lymph_node_metastasis", NEW."active_connective_tissue_disease", NEW."alt", NEW."alt_unit", NEW."anc", NEW."anc_unit", NEW."ast", NEW."ast_unit", NEW."cardiac_event_within_6_months", NEW."cardiac_implantable_device", NEW."cm", NEW."cn", NEW."created_at", NEW."created_by_id", NEW."creatinine", NEW."creatinine_clearance", NEW."creatinine_clearance_unit", NEW."creatinine_unit", NEW."ct", NEW."date_of_birth", NEW."deep_ulceration", NEW."dosimetry_status", NEW."ecog", NEW."evaluation_id", NEW."fev1_litres", NEW."fistula_or_perforation", NEW."full_name", NEW."heart_v30_percent", NEW."hemoglobin", NEW."hemoglobin_unit", NEW."histology", NEW."hospital_number", NEW."id", NEW."interstitial_lung_disease", NEW."labs_date", NEW."lung_mean_dose_gy", NEW."lung_v20_percent", NEW."lvef_percent", NEW."metal_implant_in_treatment_region", NEW."national_id", NEW."other_absolute_rt_contraindication", NEW."outcome", NEW."pathology_confirmed", NEW."perforation_risk_other", _pgh_attach_context(), clock_timestamp(), \'update\', NEW."id", NEW."platelets", NEW."platelets_unit", NEW."possible_duplicate", NEW."pregnant_or_breastfeeding", NEW."previous_referral_id", NEW."prior_esophageal_radiotherapy", NEW."prior_esophageal_surgery", NEW."prior_thoracic_radiotherapy_overlap", NEW."referral_date", NEW."referring_physician", NEW."screening_date", NEW."screening_number", NEW."sex", NEW."site_id", NEW."spinal_cord_max_gy", NEW."status", NEW."total_bilirubin", NEW."total_bilirubin_unit", NEW."tumour_location", NEW."uncontrolled_arrhythmia", NEW."updated_at", NEW."wbc", NEW."wbc_unit", NEW."withdrawal_code", NEW."withdrawal_reason"); RETURN NULL;', hash='b0d573c30b26b94e74b65d62f44250ffc46a9175', operation='UPDATE', pgid='pgtrigger_update_update_c684c', table='screening_referral', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='referral',
            trigger=pgtrigger.compiler.Trigger(name='delete_delete', sql=pgtrigger.compiler.UpsertTriggerSql(func='INSERT INTO "screening_referralevent" ("abdominal_lymph_node_metastasis", "active_connective_tissue_disease", "alt", "alt_unit", "anc", "anc_unit", "ast", "ast_unit", "cardiac_event_within_6_months", "cardiac_implantable_device", "cm", "cn", "created_at", "created_by_id", "creatinine", "creatinine_clearance", "creatinine_clearance_unit", "creatinine_unit", "ct", "date_of_birth", "deep_ulceration", "dosimetry_status", "ecog", "evaluation_id", "fev1_litres", "fistula_or_perforation", "full_name", "heart_v30_percent", "hemoglobin", "hemoglobin_unit", "histology", "hospital_number", "id", "interstitial_lung_disease", "labs_date", "lung_mean_dose_gy", "lung_v20_percent", "lvef_percent", "metal_implant_in_treatment_region", "national_id", "other_absolute_rt_contraindication", "outcome", "pathology_confirmed", "perforation_risk_other", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "platelets", "platelets_unit", "possible_duplicate", "pregnant_or_breastfeeding", "previous_referral_id", "prior_esophageal_radiotherapy", "prior_esophageal_surgery", "prior_thoracic_radiotherapy_overlap", "referral_date", "referring_physician", "screening_date", "screening_number", "sex", "site_id", "spinal_cord_max_gy", "status", "total_bilirubin", "total_bilirubin_unit", "tumour_location", "uncontrolled_arrhythmia", "updated_at", "wbc", "wbc_unit", "withdrawal_code", "withdrawal_reason") VALUES (OLD."abdominal_lymph_node_metastasis", OLD."active_connective_tissue_disease", OLD."alt", OLD."alt_unit", OLD."anc", OLD."anc_unit", OLD."ast", OLD."ast_unit", OLD."cardiac_event_within_6_months", OLD."cardiac_implantable_device", OLD."cm", OLD."cn", OLD."created_at", OLD."created_by_id", OLD."creatinine", OLD."creatinine_clearance", OLD."creatinine_clearance_unit", OLD."creatinine_unit", OLD."ct", OLD."date_of_birth", OLD."deep_ulceration", OLD."dosimetry_status", OLD."ecog", OLD."evaluation_id", OLD."fev1_litres", OLD."fistula_or_perforation", OLD."full_name", OLD."heart_v30_percent", OLD."hemoglobin", OLD."hemoglobin_unit", OLD."histology", OLD."hospital_number", OLD."id", OLD."interstitial_lung_disease", OLD."labs_date", OLD."lung_mean_dose_gy", OLD."lung_v20_percent", OLD."lvef_percent", OLD."metal_implant_in_treatment_region", OLD."national_id", OLD."other_absolute_rt_contraindication", OLD."outcome", OLD."pathology_confirmed", OLD."perforation_risk_other", _pgh_attach_context(), clock_timestamp(), \'delete\', OLD."id", OLD."platelets", OLD."platelets_unit", OLD."possible_duplicate", OLD."pregnant_or_breastfeeding", OLD."previous_referral_id", OLD."prior_esophageal_radiotherapy", OLD."prior_esophageal_surgery", OLD."prior_thoracic_radiotherapy_overlap", OLD."referral_date", OLD."referring_physician", OLD."screening_date", OLD."screening_number", OLD."sex", OLD."site_id", OLD."spinal_cord_max_gy", OLD."status", OLD."total_bilirubin", OLD."total_bilirubin_unit", OLD."tumour_location", OLD."uncontrolled_arrhythmia", OLD."updated_at", OLD."wbc", OLD."wbc_unit", OLD."withdrawal_code", OLD."withdrawal_reason"); RETURN NULL;', hash='07ef5d7c4db178fef1a948498f5252b2bcfd1e97', operation='DELETE', pgid='pgtrigger_delete_delete_a52fa', table='screening_referral', when='AFTER')),
        ),
        migrations.AddConstraint(
            model_name='referral',
            constraint=models.UniqueConstraint(condition=models.Q(('status__in', ['screening', 'mdt_review', 'mdt_approved']), models.Q(('national_id', ''), _negated=True)), fields=('national_id',), name='screening_referral_one_open_per_national_id', violation_error_message='This person already has an open referral.'),
        ),
        migrations.AddConstraint(
            model_name='referral',
            constraint=models.CheckConstraint(condition=models.Q(('withdrawal_code__in', ['declined_consent', 'patient_choice', 'clinical_deterioration', 'died', 'lost_to_follow_up', 'duplicate_referral', 'other']), ('withdrawal_code', ''), _connector='OR'), name='screening_referral_withdrawal_code_valid'),
        ),
    ]
