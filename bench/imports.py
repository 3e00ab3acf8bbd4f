"""Bulk registration: 200,000 names from a CSV into one campaign, validated, stored and allocated
(spilling into the next scroll), against PostgreSQL's own COPY of the same rows into a bare
table and into the import's own tables (names and letters, with their indexes, constraints and
triggers), measured in the same run on a throwaway database (bench_imports).

    make bench                      # runs bench/run.py, which runs this
    .venv/bin/python tests/with_services.py .venv/bin/python bench/imports.py [--names 200000]

Targets (issue 6, and issue 22 for the COPY into its own tables): 200,000 names in under 30 s,
within 5 times the COPY into its own tables, memory flat in the number of
names (the import runs at two sizes, each in a fresh process, and their peak memory is compared).
"""

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "bench_imports"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _steps import database_drop, peak_rss_mib, report_figure, step_run, use_database  # noqa: E402

FIRST = ["מנחם מענדל", "יוסף יצחק", "לוי יצחק", "שניאור זלמן", "משה", "אברהם", "דוד", "שמואל"]
FIRST_F = ["חיה מושקא", "שרה", "רבקה", "רחל", "לאה", "דבורה", "מרים", "חנה"]
HEADER = ["hebrew_name", "parent_hebrew_name", "gender", "english_name", "family_name", "deceased", "city", "country"]


def setup_django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "unitysefer.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")
    os.environ["EMAIL_URL"] = "memorymail://"
    os.environ["IMPORTS_ROOT"] = os.environ.get("BENCH_STORAGE", tempfile.gettempdir())
    # What allocation queues (certificates) goes nowhere: the bench measures the import itself.
    os.environ["REDIS_URL"] = ""
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
    import django

    django.setup()


def write_csv(path, count, start):
    """`count` distinct names (the family name tells them apart), written as they are made."""
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(HEADER)
        for index in range(start, start + count):
            male = index % 2 == 0
            writer.writerow([
                FIRST[index % 8] if male else FIRST_F[index % 8], FIRST_F[(index // 8) % 8], "m" if male else "f",
                f"Person {index}", f"Family {index}", "no", "Brooklyn", "US",
            ])  # fmt: skip


def prepare(args):
    from django.contrib.auth.models import Permission, User
    from django.db import connection

    from allocation.services import scroll_honours_before_resize, scroll_honours_default_create
    from scrolls.models import Campaign
    from scrolls.seed import DEFAULT_CAMPAIGNS
    from scrolls.services import campaigns_seed

    connection.settings_dict["TEST"]["NAME"] = DATABASE  # never a test run's database
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    campaigns_seed(campaigns=DEFAULT_CAMPAIGNS)
    user = User.objects.create_user("bench-shliach", "bench@example.org", "bench-password")
    user.user_permissions.add(*Permission.objects.filter(codename__in=["register_names", "record_offline_payment"]))
    # Scrolls of 150,000 letters, so the large import fills one and spills into the next.
    for campaign in Campaign.objects.filter(slug__in=["idf", "sefardi"]):
        # As tests/factories.shrink_open_scroll: the honour letters move to the smaller scroll's ends.
        scroll = campaign.scrolls.get(number=1)
        scroll_honours_before_resize(scroll=scroll, total_letters=150_000)
        scroll.edition, scroll.total_letters = None, 150_000  # a scroll of a text has the text's letters
        scroll.save(update_fields=["edition", "total_letters"])
        scroll_honours_default_create(scroll=scroll)
    for size, start in ((args.small, 10_000_000), (args.names, 0)):
        write_csv(Path(args.storage) / f"names-{size}.csv", size, start)
    print(json.dumps({"database": name}))


def copy(args):
    """PostgreSQL's own COPY of the same CSV into a bare table: the floor for storing the rows."""
    use_database(args.database)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_copy")
        cursor.execute(f"CREATE TABLE bench_copy ({', '.join(f'{column} text' for column in HEADER)})")
        started = time.perf_counter()
        with open(Path(args.storage) / f"names-{args.size}.csv", encoding="utf-8") as file:
            cursor.cursor.copy_expert("COPY bench_copy FROM STDIN WITH (FORMAT csv, HEADER true)", file)
        connection.commit() if not connection.get_autocommit() else None
        seconds = time.perf_counter() - started
        cursor.execute("SELECT count(*) FROM bench_copy")
        rows = cursor.fetchone()[0]
    print(json.dumps({"seconds": seconds, "rows": rows}))


def copy_own(args):
    """PostgreSQL's own COPY of the same rows into the import's own tables, with their indexes,
    constraints and triggers: the names into allocation_name, then a letter for each into
    allocation_letter (free positions of a full-size scroll), in a transaction rolled back
    afterwards. The rows are made ready before the clock (ids drawn from the names' sequence)."""
    use_database(args.database)
    import io

    from django.db import connection, transaction

    from allocation.models import Letter, Name, Order, Reservation
    from scrolls.models import Campaign, ScrollState

    with open(Path(args.storage) / f"names-{args.size}.csv", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    with transaction.atomic(), connection.cursor() as cursor:
        campaign = Campaign.objects.get(slug=args.campaign)
        scroll = campaign.scrolls.get(state=ScrollState.OPEN)
        if scroll.total_letters - scroll.steps_walked < len(rows) + 100:
            raise SystemExit(f"the open scroll of {args.campaign} has too few letters left for the COPY")
        reserved = set(Reservation.objects.filter(scroll=scroll).values_list("position", flat=True))
        positions = [p for p in range(scroll.steps_walked + 1, scroll.total_letters + 1) if p not in reserved]
        order = Order.objects.create(
            campaign=campaign, amount=0, currency=campaign.currency, buyer_email="bench@example.org"
        )
        cursor.execute(
            f"SELECT nextval(pg_get_serial_sequence('{Name._meta.db_table}', 'id')) FROM generate_series(1, %s)",
            [len(rows)],
        )
        ids = [row[0] for row in cursor.fetchall()]
        names, letters = io.StringIO(), io.StringIO()
        names_writer, letters_writer = csv.writer(names), csv.writer(letters)
        for name_id, row, position in zip(ids, rows, positions):
            names_writer.writerow([
                name_id, order.pk, row["hebrew_name"], row["parent_hebrew_name"], row["gender"], row["family_name"],
                row["english_name"], "false", row["city"], row["country"],
            ])  # fmt: skip
            letters_writer.writerow([scroll.pk, position, name_id, "2026-01-01T00:00:00Z"])
        names.seek(0)
        letters.seek(0)
        started = time.perf_counter()
        cursor.cursor.copy_expert(
            f"COPY {Name._meta.db_table} (id, order_id, hebrew_name, parent_hebrew_name, gender, family_name,"
            " english_name, deceased, city, country) FROM STDIN WITH (FORMAT csv)",
            names,
        )
        names_seconds = time.perf_counter() - started
        cursor.cursor.copy_expert(
            f"COPY {Letter._meta.db_table} (scroll_id, position, name_id, allocated_at) FROM STDIN WITH (FORMAT csv)",
            letters,
        )
        seconds = time.perf_counter() - started
        cursor.execute(f"SELECT count(*) FROM {Letter._meta.db_table} WHERE scroll_id = %s", [scroll.pk])
        copied = cursor.fetchone()[0]
        transaction.set_rollback(True)  # the measure only: nothing stays
    print(
        json.dumps({"seconds": seconds, "names_seconds": names_seconds, "rows": len(ids), "letters_in_scroll": copied})
    )


def import_names(args):
    """The command line's path (manage.py import_names): check, store, pay offline, allocate."""
    use_database(args.database)
    from django.contrib.auth.models import User
    from django.core.files import File

    from allocation.models import Letter
    from registrations.services import name_import_create, name_import_run
    from scrolls.models import Campaign

    campaign = Campaign.objects.get(slug=args.campaign)
    user = User.objects.get(username="bench-shliach")
    path = Path(args.storage) / f"names-{args.size}.csv"
    rss_before = peak_rss_mib()
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    with path.open("rb") as handle:
        name_import = name_import_create(
            user=user, campaign=campaign, source_name=path.name, content=File(handle, name=path.name),
            payment_method="offline", payment_reference="bench",
        )  # fmt: skip
    name_import = name_import_run(import_id=name_import.pk)
    seconds = time.perf_counter() - started
    if args.profile:
        import pstats

        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
    assert name_import.status == "imported", name_import.problems[:5]
    letters = Letter.objects.filter(name__order_id=name_import.order_id)
    scrolls = sorted(set(letters.values_list("scroll__number", flat=True)))
    print(json.dumps({
        "seconds": seconds, "names": name_import.rows_done, "letters": letters.count(), "scrolls": scrolls,
        "peak_rss_mib": peak_rss_mib(), "rss_before_mib": rss_before,
    }))  # fmt: skip


def drop(args):
    database_drop(DATABASE)


def main(args):
    storage = tempfile.TemporaryDirectory(prefix="bench-imports-")
    os.environ["BENCH_STORAGE"] = storage.name
    print(f"Preparing: campaigns, CSV files of {args.small:,} and {args.names:,} names ...")
    database = step_run(__file__, "prepare", "--names", args.names, "--small", args.small, "--storage", storage.name)[
        "database"
    ]
    common = ["--database", database, "--storage", storage.name]
    try:
        copied = step_run(__file__, "copy", *common, "--size", args.names)
        copied_own = step_run(__file__, "copy_own", *common, "--size", args.names, "--campaign", "children")
        large = step_run(
            __file__,
            "import",
            *common,
            "--size",
            args.names,
            "--campaign",
            "idf",
            *(["--profile"] if args.profile else []),
        )
        small = step_run(__file__, "import", *common, "--size", args.small, "--campaign", "sefardi")
    finally:
        step_run(__file__, "drop", "--database", database)
        storage.cleanup()

    rate = large["names"] / large["seconds"]
    ratio = large["seconds"] / copied["seconds"]
    ratio_own = large["seconds"] / copied_own["seconds"]
    print()
    print(f"{'measure':<50} {'figure':>14}   target")
    print(f"{'-' * 50} {'-' * 14}   {'-' * 20}")
    print(f"{'names imported from CSV (one process)':<50} {large['names']:>14,}")
    print(f"{'  letters allocated':<50} {large['letters']:>14,}   every name")
    print(f"{'  scrolls written in':<50} {', '.join(map(str, large['scrolls'])):>14}   spills over")
    print(f"{'  time (validate, store, pay, allocate)':<50} {large['seconds']:>12.1f} s   < 30 s")
    print(f"{'  names / second':<50} {rate:>14,.0f}")
    print(f"{'PostgreSQL COPY of the same rows, bare table':<50} {copied['seconds']:>12.2f} s")
    print(f"{'  import time / COPY time':<50} {ratio:>13.1f}x")
    print(f"{'COPY into the import tables, with their indexes':<50} {copied_own['seconds']:>12.2f} s")
    print(f"{'  of which the names (the rest: their letters)':<50} {copied_own['names_seconds']:>12.2f} s")
    print(f"{'  import time / that COPY time':<50} {ratio_own:>13.1f}x   <= 5x")
    print(f"{f'peak memory, {args.small:,} names':<50} {small['peak_rss_mib']:>10.0f} MiB")
    print(f"{f'peak memory, {args.names:,} names':<50} {large['peak_rss_mib']:>10.0f} MiB   flat")
    report_figure(f"{large['names']:,} names imported (validate, store, pay, allocate)", large["seconds"], "s",
                  target="< 30 s", met=large["seconds"] < 30)  # fmt: skip
    report_figure("names imported a second", rate, "names/s")
    report_figure("import time / PostgreSQL COPY of the same rows, bare table", ratio, "x", ratio=ratio)
    report_figure("import time / COPY of the same rows into its own tables, with their indexes", ratio_own, "x",
                  ratio=ratio_own, target="<= 5x", met=ratio_own <= 5)  # fmt: skip
    growth = large["peak_rss_mib"] / small["peak_rss_mib"]
    report_figure(f"peak memory, {args.names:,} names (vs {args.small:,}: {growth:.2f}x)", large["peak_rss_mib"],
                  "MiB", ratio=growth, target="flat", met=growth < 1.5)  # fmt: skip


def parse():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "step", nargs="?", default="main", choices=["main", "prepare", "copy", "copy_own", "import", "drop"]
    )
    parser.add_argument("--names", type=int, default=200_000)
    parser.add_argument("--small", type=int, default=20_000)
    parser.add_argument("--size", type=int)
    parser.add_argument("--campaign")
    parser.add_argument("--database")
    parser.add_argument("--storage")
    parser.add_argument("--profile", action="store_true", help="print a profile of the large import")
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse()
    if arguments.step == "main":
        main(arguments)
    else:
        setup_django()
        {"prepare": prepare, "copy": copy, "copy_own": copy_own, "import": import_names, "drop": drop}[arguments.step](
            arguments
        )
