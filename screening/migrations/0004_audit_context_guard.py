"""Keep the author of every audit event: pghistory's context rows (who, which request path) may
gain details but never lose their user or disappear; the event tables are already append-only."""

from django.db import migrations

GUARD = """
CREATE FUNCTION screening_audit_context_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit context % cannot be deleted', OLD.id;
    END IF;
    -- pghistory adds to a context as a request goes on; a user once recorded stays.
    IF OLD.metadata->>'user' IS NOT NULL
            AND NEW.metadata->'user' IS DISTINCT FROM OLD.metadata->'user' THEN
        RAISE EXCEPTION 'audit context %: the recorded user cannot change', OLD.id;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER screening_audit_context_guard
    BEFORE UPDATE OR DELETE ON pghistory_context
    FOR EACH ROW EXECUTE FUNCTION screening_audit_context_guard();
"""

UNGUARD = """
DROP TRIGGER screening_audit_context_guard ON pghistory_context;
DROP FUNCTION screening_audit_context_guard();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("screening", "0003_audit_events_stamped_with_clock_time"),
        ("pghistory", "0007_auto_20250421_0444"),
    ]

    operations = [migrations.RunSQL(GUARD, UNGUARD)]
