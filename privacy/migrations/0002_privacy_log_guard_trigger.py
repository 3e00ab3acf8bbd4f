"""PostgreSQL keeps the privacy log as it was written: an entry is never changed or deleted (the
audit of who exported or erased whose data, when and why)."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION privacy_log_guard() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the privacy log is kept as written: % on privacy_privacylog is refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER privacy_log_guard
    BEFORE UPDATE OR DELETE ON privacy_privacylog
    FOR EACH ROW EXECUTE FUNCTION privacy_log_guard();
"""

DROP = """
DROP TRIGGER IF EXISTS privacy_log_guard ON privacy_privacylog;
DROP FUNCTION IF EXISTS privacy_log_guard();
"""


def create_guard(apps, schema_editor):
    # A raw cursor without parameters: the '%' of RAISE must not be read as placeholders.
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(CREATE)


def drop_guard(apps, schema_editor):
    schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("privacy", "0001_privacy_log")]

    operations = [migrations.RunPython(create_guard, drop_guard)]
