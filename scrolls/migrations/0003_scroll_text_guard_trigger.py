"""On PostgreSQL the database itself keeps a scroll's text and allocation order fixed.

A scroll written from a text edition has exactly the edition's letters, and once a scroll holds
a letter its edition, size and lottery seed never change (the letters already given would stop
meaning what their holders were told). A CHECK constraint cannot read another table, so a
trigger does; SQLite, used only by `make run`, relies on the services (scrolls.services).
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION scrolls_scroll_text_guard() RETURNS trigger AS $$
DECLARE
    edition_letters integer;
BEGIN
    IF NEW.edition_id IS NOT NULL THEN
        SELECT letter_count INTO edition_letters FROM scrolls_textedition WHERE id = NEW.edition_id;
        IF NEW.total_letters <> edition_letters THEN
            RAISE EXCEPTION 'scroll % has % letters but its text edition % has %',
                NEW.id, NEW.total_letters, NEW.edition_id, edition_letters
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    IF TG_OP = 'UPDATE'
        AND (NEW.edition_id IS DISTINCT FROM OLD.edition_id
             OR NEW.total_letters <> OLD.total_letters
             OR NEW.lottery_seed IS DISTINCT FROM OLD.lottery_seed)
        AND (OLD.steps_walked > 0 OR OLD.letters_allocated > 0
             OR EXISTS (SELECT 1 FROM allocation_letter WHERE scroll_id = OLD.id)) THEN
        RAISE EXCEPTION 'scroll % already holds letters: its text and allocation order are fixed', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER scrolls_scroll_text_guard
    BEFORE INSERT OR UPDATE OF edition_id, total_letters, lottery_seed ON scrolls_scroll
    FOR EACH ROW EXECUTE FUNCTION scrolls_scroll_text_guard();

-- An edition in use keeps its letter count (its letters are replaced only while unused).
CREATE OR REPLACE FUNCTION scrolls_textedition_guard() RETURNS trigger AS $$
BEGIN
    IF NEW.letter_count <> OLD.letter_count
        AND EXISTS (SELECT 1 FROM scrolls_scroll WHERE edition_id = OLD.id) THEN
        RAISE EXCEPTION 'text edition % is used by scrolls: its letters are fixed', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER scrolls_textedition_guard
    BEFORE UPDATE OF letter_count ON scrolls_textedition
    FOR EACH ROW EXECUTE FUNCTION scrolls_textedition_guard();
"""

DROP = """
DROP TRIGGER IF EXISTS scrolls_textedition_guard ON scrolls_textedition;
DROP FUNCTION IF EXISTS scrolls_textedition_guard();
DROP TRIGGER IF EXISTS scrolls_scroll_text_guard ON scrolls_scroll;
DROP FUNCTION IF EXISTS scrolls_scroll_text_guard();
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
    # The guard reads allocation_letter, so it comes after the allocation app's tables.
    dependencies = [
        ("scrolls", "0002_text_editions_lottery_eligibility"),
        ("allocation", "0002_letter_guard_trigger"),
    ]

    operations = [migrations.RunPython(create_guard, drop_guard)]
