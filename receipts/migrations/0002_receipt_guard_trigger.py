"""On PostgreSQL the database itself keeps every receipt and cancellation note as issued: never
deleted, never renumbered or moved to another order, amount or organisation (only its PDF may be
added, once, and the moments it was drawn and emailed set). A counter of numbers is never
deleted nor turned back, so a number is never given twice.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION receipts_receipt_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'a receipt is never deleted (receipt %)', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.organisation_id IS DISTINCT FROM OLD.organisation_id
       OR NEW.order_id IS DISTINCT FROM OLD.order_id
       OR NEW.kind IS DISTINCT FROM OLD.kind
       OR NEW.cancels_id IS DISTINCT FROM OLD.cancels_id
       OR NEW.year IS DISTINCT FROM OLD.year
       OR NEW.number IS DISTINCT FROM OLD.number
       OR NEW.issued_at IS DISTINCT FROM OLD.issued_at
       OR NEW.amount IS DISTINCT FROM OLD.amount
       OR NEW.currency IS DISTINCT FROM OLD.currency
       OR NEW.donor_name IS DISTINCT FROM OLD.donor_name
       OR NEW.language IS DISTINCT FROM OLD.language THEN
        RAISE EXCEPTION 'a receipt is never renumbered or changed (receipt %)', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF OLD.file <> '' AND NEW.file IS DISTINCT FROM OLD.file THEN
        RAISE EXCEPTION 'a receipt''s PDF, once drawn, is kept (receipt %)', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER receipts_receipt_guard
    BEFORE UPDATE OR DELETE ON receipts_receipt
    FOR EACH ROW EXECUTE FUNCTION receipts_receipt_guard();

CREATE OR REPLACE FUNCTION receipts_counter_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'a receipt counter is never deleted (counter %)', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.organisation_id IS DISTINCT FROM OLD.organisation_id
       OR NEW.series IS DISTINCT FROM OLD.series
       OR NEW.year IS DISTINCT FROM OLD.year
       OR NEW.last_number < OLD.last_number THEN
        RAISE EXCEPTION 'a receipt counter only moves on (counter %)', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER receipts_counter_guard
    BEFORE UPDATE OR DELETE ON receipts_receiptcounter
    FOR EACH ROW EXECUTE FUNCTION receipts_counter_guard();
"""

DROP = """
DROP TRIGGER IF EXISTS receipts_receipt_guard ON receipts_receipt;
DROP FUNCTION IF EXISTS receipts_receipt_guard();
DROP TRIGGER IF EXISTS receipts_counter_guard ON receipts_receiptcounter;
DROP FUNCTION IF EXISTS receipts_counter_guard();
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
    dependencies = [("receipts", "0001_initial")]

    operations = [migrations.RunPython(create_guard, drop_guard)]
