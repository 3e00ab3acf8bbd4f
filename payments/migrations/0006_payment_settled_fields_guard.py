"""PostgreSQL keeps what a payment attempt was: its order, provider, amount and currency never
change once it exists, nor its reference once it has one (a card attempt gets its PaymentIntent
id just after it is made). Its status moves, through payments.services; the admin shows the
rest read-only, and this refuses a change from anywhere else.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION payments_payment_settled() RETURNS trigger AS $$
BEGIN
    IF NEW.order_id IS DISTINCT FROM OLD.order_id
        OR NEW.provider IS DISTINCT FROM OLD.provider
        OR NEW.amount IS DISTINCT FROM OLD.amount
        OR NEW.currency IS DISTINCT FROM OLD.currency
        OR (OLD.reference <> '' AND NEW.reference IS DISTINCT FROM OLD.reference)
    THEN
        RAISE EXCEPTION 'payment %: its order, provider, amount, currency and reference are settled', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER payments_payment_settled
    BEFORE UPDATE ON payments_payment
    FOR EACH ROW EXECUTE FUNCTION payments_payment_settled();
"""

DROP = """
DROP TRIGGER IF EXISTS payments_payment_settled ON payments_payment;
DROP FUNCTION IF EXISTS payments_payment_settled();
"""


def create_guard(apps, schema_editor):
    # A raw cursor without parameters: the '%' of RAISE must not be read as placeholders.
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(CREATE)


def drop_guard(apps, schema_editor):
    schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("payments", "0005_payment_never_deleted")]

    operations = [migrations.RunPython(create_guard, drop_guard)]
