"""PostgreSQL keeps what an order says of consent and erasure. The consent recorded when the order
was placed (consent_at, privacy_notice_version; written by order_place alone) never changes: it
is the record of what the person agreed to, and when. Once an order's personal data are erased
(erased_at) they stay erased: the moment stands, and the buyer's name, email and phone stay empty,
whatever writes the row (the admin's history revert included).
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION allocation_order_privacy_guard() RETURNS trigger AS $$
BEGIN
    IF NEW.consent_at IS DISTINCT FROM OLD.consent_at
        OR NEW.privacy_notice_version IS DISTINCT FROM OLD.privacy_notice_version THEN
        RAISE EXCEPTION 'order %: the consent recorded when it was placed never changes', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF OLD.erased_at IS NOT NULL AND (
        NEW.erased_at IS DISTINCT FROM OLD.erased_at
        OR NEW.buyer_name <> '' OR NEW.buyer_email <> '' OR NEW.buyer_phone <> ''
    ) THEN
        RAISE EXCEPTION 'order %: its personal data were erased and stay erased', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER allocation_order_privacy_guard
    BEFORE UPDATE ON allocation_order
    FOR EACH ROW EXECUTE FUNCTION allocation_order_privacy_guard();
"""

DROP = """
DROP TRIGGER IF EXISTS allocation_order_privacy_guard ON allocation_order;
DROP FUNCTION IF EXISTS allocation_order_privacy_guard();
"""


def create_guard(apps, schema_editor):
    # A raw cursor without parameters: the '%' of RAISE must not be read as placeholders.
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(CREATE)


def drop_guard(apps, schema_editor):
    schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("allocation", "0013_order_consent_and_erasure")]

    operations = [migrations.RunPython(create_guard, drop_guard)]
