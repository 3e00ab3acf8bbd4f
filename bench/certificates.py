"""Certificates: how many one worker process issues a second, and the booklet of 1,000 names
(time and peak memory), against a throwaway PostgreSQL database (test_<name of DATABASE_URL>).

    make bench                      # runs bench/run.py, which runs this
    .venv/bin/python tests/with_services.py .venv/bin/python bench/certificates.py [--names 1000]

Targets (issue 5): at least 20 certificates a second per core; the booklet of 1,000 names in
under 30 s; memory flat in the number of names (the booklet is measured at several sizes, each in
a fresh process, so one run's memory does not hide in another's).
"""

import argparse
import json
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "bench_certificates"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _steps import database_drop, peak_rss_mib, report_figure, step_run, use_database  # noqa: E402


def setup_django(storage_dir):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "unitysefer.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")
    os.environ["CERTIFICATES_ROOT"] = storage_dir
    os.environ["EMAIL_URL"] = "memorymail://"
    # What allocation queues goes nowhere: each step below runs the service it measures.
    os.environ["REDIS_URL"] = ""
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
    import django

    django.setup()


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def allocated_order(campaign, count):
    from allocation.services import Buyer, order_allocate, order_mark_paid, order_place

    names = [
        {"hebrew_name": "מנחם מענדל", "parent_hebrew_name": "חיה מושקא", "gender": "m" if i % 2 else "f",
         "english_name": f"Person {i}", "city": "Brooklyn", "country": "US"}
        for i in range(count)
    ]  # fmt: skip
    order = order_place(campaign=campaign, names=names, buyer=Buyer(name="Bench", email="bench@example.org"))
    order_mark_paid(order_id=order.pk)
    order_allocate(order_id=order.pk)
    return order


def prepare(args):
    """Create the throwaway database, the text and the orders; print their ids as JSON."""
    from django.core.management import call_command
    from django.db import connection

    from scrolls.models import Campaign
    from scrolls.seed import DEFAULT_CAMPAIGNS
    from scrolls.services import campaigns_seed, text_edition_load_package, text_edition_make_default

    connection.settings_dict["TEST"]["NAME"] = DATABASE  # never a test run's database
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    started = time.perf_counter()
    edition, _ = text_edition_load_package()
    text_edition_make_default(edition=edition)
    campaigns_seed(campaigns=DEFAULT_CAMPAIGNS)
    call_command("check")
    campaign = Campaign.objects.get(slug="idf")
    orders = {"issue": allocated_order(campaign, args.issue).pk}
    for size in args.booklet:
        orders[f"booklet-{size}"] = allocated_order(campaign, size).pk
    print(json.dumps({"database": name, "orders": orders, "setup_seconds": time.perf_counter() - started}))


def issue(args):
    """Issue the certificates of an order in this process (one worker process)."""
    use_database(args.database)
    from certificates.services import order_certificates_issue

    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
    cpu, started = cpu_seconds(), time.perf_counter()
    count = order_certificates_issue(order_id=args.order)
    elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    if args.profile:
        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(35)
    print(json.dumps({"count": count, "seconds": elapsed, "cpu_seconds": cpu, "peak_rss_mib": peak_rss_mib()}))


def booklet(args):
    """Write an order's booklet to a temporary file in this (fresh) process."""
    use_database(args.database)
    from allocation.models import Order
    from certificates.services import order_booklet_write

    order = Order.objects.select_related("campaign").get(pk=args.order)
    rss_before = peak_rss_mib()
    if args.tracemalloc:
        tracemalloc.start()
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    with tempfile.TemporaryFile() as file:
        pages = order_booklet_write(order=order, out=file)
        size = file.tell()
    elapsed = time.perf_counter() - started
    if args.profile:
        import pstats

        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
    python_peak = tracemalloc.get_traced_memory()[1] / 2**20 if args.tracemalloc else None
    print(json.dumps({
        "pages": pages, "seconds": elapsed, "bytes": size, "peak_rss_mib": peak_rss_mib(),
        "rss_before_mib": rss_before, "python_peak_mib": python_peak,
    }))  # fmt: skip


def drop(args):
    assert args.database == DATABASE
    database_drop(DATABASE)


def main(args):
    storage = tempfile.TemporaryDirectory(prefix="bench-certificates-")
    os.environ["BENCH_STORAGE"] = storage.name  # the steps share the stored certificates
    print(f"Preparing: MAM text, campaigns, orders of {args.issue} and {', '.join(map(str, args.booklet))} names ...")
    prepared = step_run(__file__, "prepare", "--issue", args.issue, "--booklet", *args.booklet)
    database, orders = prepared["database"], prepared["orders"]
    try:
        issued = step_run(
            __file__,
            "issue",
            "--database",
            database,
            "--order",
            orders["issue"],
            *(["--profile"] if args.profile else []),
        )
        for size in args.booklet:
            issued_for_booklet = step_run(
                __file__, "issue", "--database", database, "--order", orders[f"booklet-{size}"]
            )
            print(
                f"  (issued the {size:,} certificates of the booklet at {size / issued_for_booklet['seconds']:.1f} a second)"
            )
        booklets = {}
        for size in args.booklet:
            timed = step_run(__file__, "booklet", "--database", database, "--order", orders[f"booklet-{size}"])
            traced = step_run(
                __file__, "booklet", "--database", database, "--order", orders[f"booklet-{size}"], "--tracemalloc"
            )
            booklets[size] = (timed, traced)
    finally:
        step_run(__file__, "drop", "--database", database)
        storage.cleanup()

    rate = issued["count"] / issued["seconds"]
    per_core = issued["count"] / issued["cpu_seconds"]
    print()
    print(f"{'measure':<46} {'figure':>14}   target")
    print(f"{'-' * 46} {'-' * 14}   {'-' * 24}")
    print(f"{'certificates issued (one worker process)':<46} {issued['count']:>14,}")
    print(f"{'  wall time':<46} {issued['seconds']:>12.1f} s")
    print(f"{'  certificates / second':<46} {rate:>14.1f}   >= 20 per core")
    print(f"{'  certificates / CPU-second (per core)':<46} {per_core:>14.1f}   >= 20")
    print(f"{'  peak memory of the worker process':<46} {issued['peak_rss_mib']:>10.0f} MiB")
    for size, (timed, traced) in booklets.items():
        print(f"{f'booklet of {size:,} names':<46} {timed['pages']:>10,} pp   one page per name")
        print(f"{'  time':<46} {timed['seconds']:>12.1f} s" + ("   < 30 s" if size == 1000 else ""))
        print(f"{'  file size':<46} {timed['bytes'] / 2**20:>10.1f} MiB")
        grown = timed["peak_rss_mib"] - timed["rss_before_mib"]
        print(
            f"{'  peak RSS (growth while writing)':<46} {timed['peak_rss_mib']:>10.0f} MiB   (+{grown:.0f} MiB)   flat"
        )
        print(f"{'  peak Python allocations (tracemalloc)':<46} {traced['python_peak_mib']:>10.1f} MiB   flat")
    report_figure("certificates a second (one worker process)", rate, "/s")
    report_figure("certificates a CPU-second (per core)", per_core, "/s", target=">= 20", met=per_core >= 20)
    for size, (timed, traced) in booklets.items():
        report_figure(f"booklet of {size:,} names", timed["seconds"], "s",
                      **({"target": "< 30 s", "met": timed["seconds"] < 30} if size == 1000 else {}))  # fmt: skip
        report_figure(f"booklet of {size:,} names, peak Python allocations", traced["python_peak_mib"], "MiB")


def parse():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", nargs="?", default="main", choices=["main", "prepare", "issue", "booklet", "drop"])
    parser.add_argument("--issue", type=int, default=500, help="names whose certificates are issued and timed")
    parser.add_argument("--booklet", type=int, nargs="+", default=[100, 1000], help="booklet sizes (names)")
    parser.add_argument("--database")
    parser.add_argument("--order", type=int)
    parser.add_argument("--profile", action="store_true", help="print a profile of issuing")
    parser.add_argument("--tracemalloc", action="store_true")
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse()
    if arguments.step == "main":
        main(arguments)
    else:
        with tempfile.TemporaryDirectory(prefix="bench-certificates-") as storage:
            setup_django(os.environ.get("BENCH_STORAGE", storage))
            {"prepare": prepare, "issue": issue, "booklet": booklet, "drop": drop}[arguments.step](arguments)
