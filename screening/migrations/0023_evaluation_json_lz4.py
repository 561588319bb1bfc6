"""Evaluations' JSON (about 4 KB a referral, copied again into the audit table) compressed
with lz4 where the server offers it: an import stores it in half the time pglz takes. A server
built without lz4 (the embedded one of ``make run``) keeps pglz; either reads both."""

from django.db import migrations

COLUMNS = (
    ("screening_evaluation", "results"),
    ("screening_evaluation", "snapshot"),
    ("screening_evaluationevent", "results"),
    ("screening_evaluationevent", "snapshot"),
)


def _set_compression(method: str) -> str:
    statements = "\n".join(
        f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION {method};"
        for table, column in COLUMNS
    )
    return f"""
        DO $$
        BEGIN
            IF 'lz4' = ANY (SELECT unnest(enumvals) FROM pg_settings
                            WHERE name = 'default_toast_compression') THEN
                {statements}
            END IF;
        END
        $$;
    """


class Migration(migrations.Migration):
    dependencies = [("screening", "0022_audit_statement_triggers")]

    operations = [
        migrations.RunSQL(_set_compression("lz4"), reverse_sql=_set_compression("DEFAULT")),
    ]
