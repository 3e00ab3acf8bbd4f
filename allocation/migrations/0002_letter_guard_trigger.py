"""On PostgreSQL the database itself keeps letters forever and within their scroll.

A CHECK constraint cannot look at another table (the scroll's total) and cannot forbid UPDATE
or DELETE, so a trigger does. SQLite, used only by `make run`, relies on the services.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION allocation_letter_guard() RETURNS trigger AS $$
DECLARE
    scroll_total integer;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT total_letters INTO scroll_total FROM scrolls_scroll WHERE id = NEW.scroll_id;
        IF NEW.position > scroll_total THEN
            RAISE EXCEPTION 'letter position % is outside scroll % (1..%)',
                NEW.position, NEW.scroll_id, scroll_total USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'a letter is forever: % on allocation_letter is refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER allocation_letter_guard
    BEFORE INSERT OR UPDATE OR DELETE ON allocation_letter
    FOR EACH ROW EXECUTE FUNCTION allocation_letter_guard();
"""

DROP = """
DROP TRIGGER IF EXISTS allocation_letter_guard ON allocation_letter;
DROP FUNCTION IF EXISTS allocation_letter_guard();
"""


def create_guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # A raw cursor without parameters: the '%' of RAISE must not be read as placeholders.
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(CREATE)


def drop_guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("allocation", "0001_initial"), ("scrolls", "0001_initial")]

    operations = [migrations.RunPython(create_guard, drop_guard)]
