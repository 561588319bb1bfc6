"""Where the server has no lz4 (the embedded one of ``make run``), the evaluations' JSON and
its audit copies are stored uncompressed, out of line (``STORAGE EXTERNAL``): pglz took a third
longer to store an import's evaluations than not compressing them at all, for about 1.8 times
the disk. A server with lz4 keeps it (migration 0023): as quick, and half the disk."""

from django.db import migrations

COLUMNS = (
    ("screening_evaluation", "results"),
    ("screening_evaluation", "snapshot"),
    ("screening_evaluationevent", "results"),
    ("screening_evaluationevent", "snapshot"),
)


def _set_storage(storage: str) -> str:
    statements = "\n".join(
        f"ALTER TABLE {table} ALTER COLUMN {column} SET STORAGE {storage};"
        for table, column in COLUMNS
    )
    return f"""
        DO $$
        BEGIN
            IF NOT 'lz4' = ANY (SELECT unnest(enumvals) FROM pg_settings
                                WHERE name = 'default_toast_compression') THEN
                {statements}
            END IF;
        END
        $$;
    """


class Migration(migrations.Migration):
    dependencies = [("screening", "0023_evaluation_json_lz4")]

    operations = [
        migrations.RunSQL(_set_storage("EXTERNAL"), reverse_sql=_set_storage("EXTENDED")),
    ]
