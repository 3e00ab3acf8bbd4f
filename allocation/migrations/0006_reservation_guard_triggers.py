"""On PostgreSQL the database keeps honour letters for their honourees.

- A letter may be written at a reserved position only for the name the reservation was given to
  (allocation_letter_guard, which already keeps letters forever and within their scroll).
- A reservation lies within its scroll, never on a letter already written, keeps its place, and
  once given keeps its name; once the walk has passed it (or it was given) it cannot be deleted,
  since nothing else would ever fill that position.
- A scroll is not made smaller than a position reserved in it.

SQLite, used only by `make run`, relies on the services, which take the campaign's lock.
"""

from django.db import migrations

LETTER_GUARD = """
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
        {reserved}
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'a letter is forever: % on allocation_letter is refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
"""

RESERVED_CHECK = """IF EXISTS (
            SELECT 1 FROM allocation_reservation
            WHERE scroll_id = NEW.scroll_id AND position = NEW.position
              AND name_id IS DISTINCT FROM NEW.name_id
        ) THEN
            RAISE EXCEPTION 'letter % of scroll % is reserved for an honouree', NEW.position, NEW.scroll_id
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;"""

CREATE = """
CREATE OR REPLACE FUNCTION allocation_reservation_guard() RETURNS trigger AS $$
DECLARE
    scroll_total integer;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT total_letters INTO scroll_total FROM scrolls_scroll WHERE id = NEW.scroll_id;
        IF NEW.position > scroll_total THEN
            RAISE EXCEPTION 'reserved position % is outside scroll % (1..%)',
                NEW.position, NEW.scroll_id, scroll_total USING ERRCODE = 'check_violation';
        END IF;
        IF EXISTS (SELECT 1 FROM allocation_letter WHERE scroll_id = NEW.scroll_id AND position = NEW.position) THEN
            RAISE EXCEPTION 'letter % of scroll % is already written', NEW.position, NEW.scroll_id
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    ELSIF TG_OP = 'UPDATE' THEN
        IF NEW.scroll_id <> OLD.scroll_id OR NEW.position <> OLD.position
            OR (OLD.name_id IS NOT NULL AND NEW.name_id IS DISTINCT FROM OLD.name_id)
            OR (OLD.reached_at IS NOT NULL AND NEW.reached_at IS DISTINCT FROM OLD.reached_at) THEN
            RAISE EXCEPTION 'honour letter % of scroll % keeps its place, and once given its name',
                OLD.position, OLD.scroll_id USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF OLD.reached_at IS NOT NULL OR OLD.name_id IS NOT NULL THEN
        RAISE EXCEPTION 'honour letter % of scroll % was reached or given: it stays', OLD.position, OLD.scroll_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN OLD;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER allocation_reservation_guard
    BEFORE INSERT OR UPDATE OR DELETE ON allocation_reservation
    FOR EACH ROW EXECUTE FUNCTION allocation_reservation_guard();

CREATE OR REPLACE FUNCTION allocation_scroll_reservations_guard() RETURNS trigger AS $$
BEGIN
    IF NEW.total_letters < OLD.total_letters AND EXISTS (
        SELECT 1 FROM allocation_reservation WHERE scroll_id = OLD.id AND position > NEW.total_letters
    ) THEN
        RAISE EXCEPTION 'scroll % has a reserved position beyond %', OLD.id, NEW.total_letters
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER allocation_scroll_reservations_guard
    BEFORE UPDATE OF total_letters ON scrolls_scroll
    FOR EACH ROW EXECUTE FUNCTION allocation_scroll_reservations_guard();
"""

DROP = """
DROP TRIGGER IF EXISTS allocation_scroll_reservations_guard ON scrolls_scroll;
DROP FUNCTION IF EXISTS allocation_scroll_reservations_guard();
DROP TRIGGER IF EXISTS allocation_reservation_guard ON allocation_reservation;
DROP FUNCTION IF EXISTS allocation_reservation_guard();
"""


def _execute(schema_editor, sql):
    if schema_editor.connection.vendor == "postgresql":
        # A raw cursor without parameters: the '%' of RAISE must not be read as placeholders.
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(sql)


def create_guards(apps, schema_editor):
    _execute(schema_editor, LETTER_GUARD.replace("{reserved}", RESERVED_CHECK) + CREATE)


def drop_guards(apps, schema_editor):
    _execute(schema_editor, DROP + LETTER_GUARD.replace("{reserved}", ""))


class Migration(migrations.Migration):
    dependencies = [
        ("allocation", "0005_reservations_honour_channel_history"),
        ("scrolls", "0004_honour_letters_history_siyum_guards"),
    ]

    operations = [migrations.RunPython(create_guards, drop_guards)]
