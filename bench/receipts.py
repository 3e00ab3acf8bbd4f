"""Receipts beside certificates: how many one worker process draws a second, for the same paid
orders, against a throwaway PostgreSQL database (test_bench_receipts).

    make bench                      # runs bench/run.py, which runs this
    .venv/bin/python tests/with_services.py .venv/bin/python bench/receipts.py [--orders 200] [--names 3]

Each order (--names names, in the IDF campaign, whose organisation is an Israeli amuta) is paid
and allocated, which issues its receipt; nothing is drawn then. Then, each kind in a fresh
process of its own (one worker process, one core), as the worker's tasks do: every order's
certificates (certificates.services.order_certificates_issue: drawn in batches, stored, emailed)
and every order's receipt (receipts.services.receipt_deliver: drawn, stored, emailed). The first
order of each is drawn before the clock starts (a worker draws many: fonts and stylesheets are
loaded once per process), and each is measured in CPU-seconds as well as wall time.

Target (issue 18): receipts a second per worker core at least as many as certificates a second.
"""

import argparse
import datetime
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "bench_receipts"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _steps import database_drop, peak_rss_mib, report_figure, step_run, use_database  # noqa: E402


def setup_django(storage_dir):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "unitysefer.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")
    os.environ["CERTIFICATES_ROOT"] = str(Path(storage_dir) / "certificates")
    os.environ["RECEIPTS_ROOT"] = str(Path(storage_dir) / "receipts")
    os.environ["EMAIL_URL"] = "memorymail://"
    # What payment and allocation queue goes nowhere: each step below runs the service it measures.
    os.environ["REDIS_URL"] = ""
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
    import django

    django.setup()


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def prepare(args):
    """The throwaway database, the text, the organisation and the paid orders; their ids."""
    from django.core.management import call_command
    from django.db import connection

    from allocation.services import Buyer, order_allocate, order_mark_paid, order_place
    from receipts.models import Receipt
    from receipts.services import organisation_set
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
    organisation_set(slug="keren", name="Keren Hatorah", name_he="קרן התורה", jurisdiction="il", tax_id="580123456",
                     campaign_slugs=["idf"], address="1 Herzl St\nJerusalem", signatory_name="Rabbi Levi Cohen",
                     section_46_number="4321",
                     section_46_expires=datetime.date.today() + datetime.timedelta(days=365))  # fmt: skip
    campaign = Campaign.objects.get(slug="idf")
    orders = []
    for index in range(args.orders):
        names = [
            {"hebrew_name": "מנחם מענדל", "parent_hebrew_name": "חיה מושקא", "gender": "m" if i % 2 else "f",
             "english_name": f"Person {index}-{i}", "city": "Brooklyn", "country": "US"}
            for i in range(args.names)
        ]  # fmt: skip
        buyer = Buyer(name=f"דוד כהן {index}", email=f"donor{index}@example.org")
        order = order_place(campaign=campaign, names=names, buyer=buyer)
        order_mark_paid(order_id=order.pk)  # the receipt is numbered here
        order_allocate(order_id=order.pk)
        orders.append(order.pk)
    receipts = list(Receipt.objects.filter(order_id__in=orders).order_by("order_id").values_list("id", flat=True))
    assert len(receipts) == len(orders), "every paid order has its receipt"
    print(json.dumps({"database": name, "orders": orders, "receipts": receipts,
                      "setup_seconds": time.perf_counter() - started}))  # fmt: skip


def _timed(work, items, profile):
    """Run work(item) for each item, the first before the clock starts; (count, wall, cpu)."""
    work(items[0])
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    cpu, started = cpu_seconds(), time.perf_counter()
    count = sum(work(item) for item in items[1:])
    elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    if profile:
        import pstats

        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
    return count, elapsed, cpu


def certificates(args):
    """Issue every order's certificates in this process, as the worker's task does."""
    use_database(args.database)
    from certificates.services import order_certificates_issue

    orders = json.loads(args.ids)
    count, elapsed, cpu = _timed(lambda pk: order_certificates_issue(order_id=pk), orders, args.profile)
    print(json.dumps({"count": count, "seconds": elapsed, "cpu_seconds": cpu, "peak_rss_mib": peak_rss_mib()}))


def receipts(args):
    """Draw and email every order's receipt in this process, as the worker's task does."""
    use_database(args.database)
    from receipts.models import Receipt
    from receipts.services import receipt_deliver

    def deliver(pk):
        receipt_deliver(receipt_id=pk)
        return 1

    ids = json.loads(args.ids)
    count, elapsed, cpu = _timed(deliver, ids, args.profile)
    drawn = Receipt.objects.filter(pk__in=ids, drawn_at__isnull=False, emailed_at__isnull=False).count()
    assert drawn == len(ids), f"{drawn} of {len(ids)} receipts drawn and emailed"
    print(json.dumps({"count": count, "seconds": elapsed, "cpu_seconds": cpu, "peak_rss_mib": peak_rss_mib()}))


def drop(args):
    assert args.database == DATABASE
    database_drop(DATABASE)


def main(args):
    storage = tempfile.TemporaryDirectory(prefix="bench-receipts-")
    os.environ["BENCH_STORAGE"] = storage.name
    print(f"Preparing: MAM text, campaigns, an organisation, {args.orders} paid orders of {args.names} names ...")
    prepared = step_run(__file__, "prepare", "--orders", args.orders, "--names", args.names)
    database = prepared["database"]
    profile = ["--profile"] if args.profile else []
    try:
        # Receipts first, then certificates: the machine's state favours neither kind.
        drawn = step_run(__file__, "receipts", "--database", database, "--ids", json.dumps(prepared["receipts"]),
                         *profile)  # fmt: skip
        issued = step_run(__file__, "certificates", "--database", database, "--ids", json.dumps(prepared["orders"]),
                          *profile)  # fmt: skip
    finally:
        step_run(__file__, "drop", "--database", database)
        storage.cleanup()

    rows = {}
    for label, result in (("receipts", drawn), ("certificates", issued)):
        rows[label] = {
            "per_second": result["count"] / result["seconds"],
            "per_cpu_second": result["count"] / result["cpu_seconds"],
            **result,
        }
    ratio = rows["receipts"]["per_cpu_second"] / rows["certificates"]["per_cpu_second"]
    print()
    print(f"{args.orders - 1} orders of {args.names} names timed (the first of each kind drawn before the clock)")
    print(f"{'measure':<44} {'receipts':>12} {'certificates':>14}")
    print(f"{'-' * 44} {'-' * 12} {'-' * 14}")
    print(f"{'drawn, stored and emailed':<44} {rows['receipts']['count']:>12,} {rows['certificates']['count']:>14,}")
    print(f"{'wall time (s)':<44} {rows['receipts']['seconds']:>12.1f} {rows['certificates']['seconds']:>14.1f}")
    print(f"{'a second':<44} {rows['receipts']['per_second']:>12.1f} {rows['certificates']['per_second']:>14.1f}")
    print(f"{'a CPU-second (per worker core)':<44} {rows['receipts']['per_cpu_second']:>12.1f} "
          f"{rows['certificates']['per_cpu_second']:>14.1f}")  # fmt: skip
    print(f"{'peak memory of the worker process (MiB)':<44} {rows['receipts']['peak_rss_mib']:>12.0f} "
          f"{rows['certificates']['peak_rss_mib']:>14.0f}")  # fmt: skip
    print(f"receipts / certificates, per CPU-second: {ratio:.2f}x (target >= 1)")
    report_figure("receipts a CPU-second (per worker core)", rows["receipts"]["per_cpu_second"], "/s")
    report_figure(f"certificates a CPU-second, same orders ({args.names} names each)",
                  rows["certificates"]["per_cpu_second"], "/s")  # fmt: skip
    report_figure("receipts / certificates a CPU-second", ratio, "x", ratio=ratio, target=">= 1x", met=ratio >= 1)


def parse():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "step", nargs="?", default="main", choices=["main", "prepare", "receipts", "certificates", "drop"]
    )
    parser.add_argument("--orders", type=int, default=200, help="paid orders, each with its receipt")
    parser.add_argument("--names", type=int, default=3, help="names (so certificates) per order")
    parser.add_argument("--database")
    parser.add_argument("--ids", help="the receipts' or orders' ids (JSON)")
    parser.add_argument("--profile", action="store_true", help="print a profile of each kind's drawing")
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse()
    if arguments.step == "main":
        main(arguments)
    else:
        with tempfile.TemporaryDirectory(prefix="bench-receipts-") as storage:
            setup_django(os.environ.get("BENCH_STORAGE", storage))
            {"prepare": prepare, "receipts": receipts, "certificates": certificates, "drop": drop}[arguments.step](
                arguments
            )
