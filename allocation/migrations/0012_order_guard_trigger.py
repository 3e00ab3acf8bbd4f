"""PostgreSQL keeps an order to its lifecycle. A status moves only along the table that
allocation.models.ORDER_TRANSITIONS states (pending -> paid or cancelled, cancelled -> paid,
paid -> refunded), and once an order is paid what the money and the letters rest on (its
campaign, amount, currency and the moment it was paid) never changes: its letters are in a
scroll of that campaign, and its payments were for that amount. The service
(allocation.services.lifecycle.order_transition) makes every legal move; this refuses the rest,
from the admin's history revert to a hand-written UPDATE.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION allocation_order_guard() RETURNS trigger AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status AND NOT (
        (OLD.status = 'pending' AND NEW.status IN ('paid', 'cancelled'))
        OR (OLD.status = 'cancelled' AND NEW.status = 'paid')
        OR (OLD.status = 'paid' AND NEW.status = 'refunded')
    ) THEN
        RAISE EXCEPTION 'order %: % -> % is not a transition of its lifecycle', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF OLD.status IN ('paid', 'refunded') AND (
        NEW.campaign_id IS DISTINCT FROM OLD.campaign_id
        OR NEW.amount IS DISTINCT FROM OLD.amount
        OR NEW.currency IS DISTINCT FROM OLD.currency
        OR NEW.paid_at IS DISTINCT FROM OLD.paid_at
    ) THEN
        RAISE EXCEPTION 'order % is paid: its campaign, amount, currency and payment date are settled', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER allocation_order_guard
    BEFORE UPDATE ON allocation_order
    FOR EACH ROW EXECUTE FUNCTION allocation_order_guard();
"""

DROP = """
DROP TRIGGER IF EXISTS allocation_order_guard ON allocation_order;
DROP FUNCTION IF EXISTS allocation_order_guard();
"""


def create_guard(apps, schema_editor):
    # A raw cursor without parameters: the '%' of RAISE must not be read as placeholders.
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(CREATE)


def drop_guard(apps, schema_editor):
    schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("allocation", "0011_order_cancelled_at_and_reason")]

    operations = [migrations.RunPython(create_guard, drop_guard)]
