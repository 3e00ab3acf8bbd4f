"""On PostgreSQL a name never moves to another order. Its letter, its certificate and its
payment belong to the order it came in with; moving it would hand the letter to another buyer
or shliach (a letter is never reassigned). The spelling may be corrected (it has a history);
the order it belongs to may not change. SQLite, used only by `make run`, relies on the admin,
where the order is read-only.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION allocation_name_stays_in_its_order() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'a name stays in its order (name %: order % to %)', OLD.id, OLD.order_id, NEW.order_id
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER allocation_name_stays_in_its_order
    BEFORE UPDATE OF order_id ON allocation_name
    FOR EACH ROW WHEN (OLD.order_id IS DISTINCT FROM NEW.order_id)
    EXECUTE FUNCTION allocation_name_stays_in_its_order();
"""

DROP = """
DROP TRIGGER IF EXISTS allocation_name_stays_in_its_order ON allocation_name;
DROP FUNCTION IF EXISTS allocation_name_stays_in_its_order();
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
    dependencies = [("allocation", "0009_name_history")]

    operations = [migrations.RunPython(create_guard, drop_guard)]
