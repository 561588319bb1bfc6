"""A detail once recorded in an audit context (the user, the request path, anything pghistory
was given) keeps its value; until now only the user was kept.

The site's database role cannot update contexts at all, but the audit triggers write contexts
with the owner's rights (``screening.database_roles``): pghistory upserts the context on every
audited write, so a session that claimed an old context's id could otherwise change its path.
pghistory may still add details to a context, and fill in one recorded as null (the user once
a request has signed in).
"""

from django.db import migrations

GUARD = """
CREATE OR REPLACE FUNCTION screening_audit_context_guard() RETURNS trigger AS $$
DECLARE
    detail text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit context % cannot be deleted', OLD.id;
    END IF;
    IF NEW.id IS DISTINCT FROM OLD.id OR NEW.created_at IS DISTINCT FROM OLD.created_at THEN
        RAISE EXCEPTION 'audit context %: its id and time cannot change', OLD.id;
    END IF;
    IF jsonb_typeof(OLD.metadata) = 'object' THEN
        FOR detail IN
            SELECT key FROM jsonb_each(OLD.metadata) WHERE value <> 'null'::jsonb
        LOOP
            IF NEW.metadata->detail IS DISTINCT FROM OLD.metadata->detail THEN
                RAISE EXCEPTION 'audit context %: the recorded % cannot change', OLD.id, detail;
            END IF;
        END LOOP;
    ELSIF NEW.metadata IS DISTINCT FROM OLD.metadata THEN
        RAISE EXCEPTION 'audit context %: the recorded details cannot change', OLD.id;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""

# The guard of migration 0004.
USER_ONLY_GUARD = """
CREATE OR REPLACE FUNCTION screening_audit_context_guard() RETURNS trigger AS $$
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
"""


class Migration(migrations.Migration):
    dependencies = [("screening", "0012_signatures_record_views_export_outcome")]

    operations = [migrations.RunSQL(GUARD, USER_ONLY_GUARD)]
