"""Indexes the weekly reports read through, on tables of the allocation app.

- (scroll_id, allocated_at) on letters: a week's letters of a campaign are one range per scroll
  of this index, counted in the index alone (3 million letters: see bench/reports.py).
- (campaign_id, paid_at) on orders: a campaign's orders of a week, without reading the other
  campaigns' orders of that week.

Built CONCURRENTLY on PostgreSQL, so that deploying to a database full of letters does not stop
allocations while it builds. The names are our own, so they never clash with allocation's.
"""

from django.db import migrations

INDEXES = [
    ("reports_letter_scroll_allocated", "allocation_letter", "scroll_id, allocated_at"),
    ("reports_order_campaign_paid", "allocation_order", "campaign_id, paid_at"),
]


def create(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    for name, table, columns in INDEXES:
        schema_editor.execute(f"CREATE INDEX {concurrently}IF NOT EXISTS {name} ON {table} ({columns})")


def drop(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    for name, _table, _columns in INDEXES:
        schema_editor.execute(f"DROP INDEX {concurrently}IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("reports", "0001_initial"),
        ("allocation", "0004_order_referred_by"),
    ]

    operations = [migrations.RunPython(create, drop)]
