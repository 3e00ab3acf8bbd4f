"""On PostgreSQL the database itself keeps every payment attempt: a record of money asked for or
received is never deleted (a refund or a failure is a status). The admin offers no delete and
orders protect their payments; this refuses a DELETE from anywhere else too. SQLite, used only
by `make run`, relies on those.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION payments_payment_never_deleted() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'a payment attempt is never deleted (payment %)', OLD.id
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER payments_payment_never_deleted
    BEFORE DELETE ON payments_payment
    FOR EACH ROW EXECUTE FUNCTION payments_payment_never_deleted();
"""

DROP = """
DROP TRIGGER IF EXISTS payments_payment_never_deleted ON payments_payment;
DROP FUNCTION IF EXISTS payments_payment_never_deleted();
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
    dependencies = [("payments", "0004_stripeevent_labels")]

    operations = [migrations.RunPython(create_guard, drop_guard)]
