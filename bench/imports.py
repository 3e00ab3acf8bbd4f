"""Bulk registration: 200,000 names from a CSV into one campaign, validated, stored and allocated
(spilling into the next scroll), against PostgreSQL's own COPY of the same rows into a bare
table, measured in the same run on a throwaway database (bench_imports).

    make bench                      # runs bench/run.py, which runs this
    .venv/bin/python tests/with_services.py .venv/bin/python bench/imports.py [--names 200000]

Targets (issue 6): 200,000 names in under 30 s, within 5 times COPY, memory flat in the number of
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
    print()
    print(f"{'measure':<50} {'figure':>14}   target")
    print(f"{'-' * 50} {'-' * 14}   {'-' * 20}")
    print(f"{'names imported from CSV (one process)':<50} {large['names']:>14,}")
    print(f"{'  letters allocated':<50} {large['letters']:>14,}   every name")
    print(f"{'  scrolls written in':<50} {', '.join(map(str, large['scrolls'])):>14}   spills over")
    print(f"{'  time (validate, store, pay, allocate)':<50} {large['seconds']:>12.1f} s   < 30 s")
    print(f"{'  names / second':<50} {rate:>14,.0f}")
    print(f"{'PostgreSQL COPY of the same rows, bare table':<50} {copied['seconds']:>12.2f} s")
    print(f"{'  import time / COPY time':<50} {ratio:>13.1f}x   <= 5x")
    print(f"{f'peak memory, {args.small:,} names':<50} {small['peak_rss_mib']:>10.0f} MiB")
    print(f"{f'peak memory, {args.names:,} names':<50} {large['peak_rss_mib']:>10.0f} MiB   flat")
    report_figure(f"{large['names']:,} names imported (validate, store, pay, allocate)", large["seconds"], "s",
                  target="< 30 s", met=large["seconds"] < 30)  # fmt: skip
    report_figure("names imported a second", rate, "names/s")
    report_figure("import time / PostgreSQL COPY of the same rows", ratio, "x", ratio=ratio, target="<= 5x",
                  met=ratio <= 5)  # fmt: skip
    growth = large["peak_rss_mib"] / small["peak_rss_mib"]
    report_figure(f"peak memory, {args.names:,} names (vs {args.small:,}: {growth:.2f}x)", large["peak_rss_mib"],
                  "MiB", ratio=growth, target="flat", met=growth < 1.5)  # fmt: skip


def parse():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", nargs="?", default="main", choices=["main", "prepare", "copy", "import", "drop"])
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
        {"prepare": prepare, "copy": copy, "import": import_names, "drop": drop}[arguments.step](arguments)
