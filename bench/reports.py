"""Weekly reports and the public campaigns endpoint at the scale of a long campaign series:
3 million letters over 150 weeks across the seeded campaigns, in a throwaway PostgreSQL database
(bench_reports), filled by INSERT ... SELECT generate_series in a minute or two.

    make bench                      # runs bench/run.py, which runs this
    .venv/bin/python tests/with_services.py .venv/bin/python bench/reports.py [--letters 3000000] [--seconds 3]

It prints the time to compute one weekly report (the largest campaign, the last week ended; with
and without the indexes the reports app adds), and the requests a second that one gunicorn server
answers for GET /api/v1/campaigns/ and for a trivial JSON view, measured side by side in the same
server and run, with the database queries a cached request makes: once with the settings'
default (each process keeps its copy of the cache for PROGRESS_CACHE_LOCAL_SECONDS), once asking
Redis on every request.

Targets (issue 7): a weekly report in under a second; the campaigns endpoint at 80% or more of
the trivial view, with no database query per request once cached.
"""

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "bench_reports"
WEEKS = 150
sys.path.insert(0, str(ROOT))

from _steps import database_drop, report_figure, use_database  # noqa: E402  (bench/, next to this script)

# Share of the letters per campaign (percent), roughly as the campaigns differ in size.
WEIGHTS = {
    "tomchei-temimim": 30, "beis-rivkah": 15, "sefardi": 10, "idf": 25,
    "russian-jewry": 12, "children": 5, "world-of-truth": 3,
}  # fmt: skip
CITIES = [
    ("Brooklyn", "US"), ("Crown Heights", "US"), ("Jerusalem", "IL"), ("Kfar Chabad", "IL"), ("Paris", "FR"),
    ("London", "GB"), ("Moscow", "RU"), ("Buenos Aires", "AR"), ("Melbourne", "AU"), ("Toronto", "CA"),
]  # fmt: skip
SHLUCHIM = 300
# unitysefer/settings.py's default: how long each web process keeps its copy of the progress.
LOCAL_SECONDS = 0.5


def bench_environment():
    """The settings every step and the server run with: the bench site (the project and a
    trivial view), production defaults but plain HTTP, the bench's own cache keys."""
    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": "bench.benchsite.settings",
        "SECRET_KEY": "bench-only-not-secret",
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "LOG_LEVEL": "WARNING",
        "PYTHONWARNINGS": "ignore",
    })  # fmt: skip
    return env


def setup_django():
    os.environ.update(bench_environment())
    if not os.environ.get("REDIS_URL"):
        raise SystemExit("bench/reports.py measures the Redis cache: run it under tests/with_services.py")
    import django

    django.setup()


# --- Filling the database ------------------------------------------------------------------------


def prepare(args):
    """Create the database and fill it; print what is in it as JSON."""
    from django.contrib.auth.models import User
    from django.db import connection
    from django.utils import timezone

    from scrolls.models import DEFAULT_TOTAL_LETTERS, Campaign, Scroll, ScrollState
    from scrolls.seed import DEFAULT_CAMPAIGNS
    from scrolls.services import campaigns_seed

    connection.settings_dict["TEST"]["NAME"] = DATABASE  # never a test run's database
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    timings = {}
    started = time.perf_counter()
    # No honour letters kept in the bench's scrolls: every position is a name's, in order.
    honours = {field: 0 for field in ("honour_letters_first", "honour_letters_last")
               if any(model_field.name == field for model_field in Campaign._meta.get_fields())}  # fmt: skip
    campaigns_seed(campaigns=[{**campaign, **honours} for campaign in DEFAULT_CAMPAIGNS])
    User.objects.bulk_create(
        User(username=f"shliach-{n}", first_name="Shliach", last_name=str(n), email=f"shliach{n}@example.org",
             password="!")
        for n in range(1, SHLUCHIM + 1)
    )  # fmt: skip
    user_ids = list(User.objects.order_by("id").values_list("id", flat=True))
    buckets, low = [], 0
    for slug, weight in WEIGHTS.items():
        buckets.append((Campaign.objects.get(slug=slug).pk, low, low + weight))
        low += weight
    total = DEFAULT_TOTAL_LETTERS
    # Orders of 1 to 19 names (10 on average), paid at an even pace over 150 weeks up to now.
    order_count = args.letters // 10
    with connection.cursor() as cursor:
        step = time.perf_counter()
        cursor.execute(
            """
            WITH buckets(campaign_id, low, high) AS (
                SELECT * FROM unnest(%(campaigns)s::bigint[], %(lows)s::int[], %(highs)s::int[])
            ),
            series AS (
                SELECT i, 1 + (i * 7919) %% 19 AS size,
                       now() - make_interval(weeks => %(weeks)s)
                           + make_interval(weeks => %(weeks)s) * (i::float8 / %(n)s) AS paid,
                       CASE WHEN i %% 20 < 12 THEN 'online' WHEN i %% 20 < 17 THEN 'shliach'
                            WHEN i %% 20 < 19 THEN 'offline' ELSE 'api' END AS channel
                FROM generate_series(1::bigint, %(n)s) AS i
            )
            INSERT INTO allocation_order (campaign_id, token, buyer_name, buyer_email, buyer_phone, created_by_id,
                channel, referred_by_id, amount, currency, status, created_at, paid_at, allocated_at, language)
            SELECT b.campaign_id, 'bench-' || s.i, '', 'buyer' || s.i || '@example.org', '',
                   CASE WHEN s.channel IN ('shliach', 'offline')
                        THEN (%(users)s::bigint[])[1 + (s.i * 7) %% %(user_count)s] END,
                   s.channel,
                   CASE WHEN s.channel = 'online' AND s.i %% 5 = 0
                        THEN (%(users)s::bigint[])[1 + (s.i * 13) %% %(user_count)s] END,
                   s.size * 18, c.currency, CASE WHEN s.i %% 100 = 0 THEN 'refunded' ELSE 'paid' END,
                   s.paid - interval '1 minute', s.paid, s.paid, ''
            FROM series s
            JOIN buckets b ON (s.i * 37) %% 100 >= b.low AND (s.i * 37) %% 100 < b.high
            JOIN scrolls_campaign c ON c.id = b.campaign_id
            ORDER BY s.i
            """,
            {
                "campaigns": [bucket[0] for bucket in buckets], "lows": [bucket[1] for bucket in buckets],
                "highs": [bucket[2] for bucket in buckets], "weeks": WEEKS, "n": order_count,
                "users": user_ids, "user_count": len(user_ids),
            },
        )  # fmt: skip
        timings["orders"] = time.perf_counter() - step
        step = time.perf_counter()
        cursor.execute(
            """
            INSERT INTO allocation_name (order_id, hebrew_name, parent_hebrew_name, gender, family_name, english_name,
                deceased, city, country)
            SELECT o.id, 'מנחם מענדל', 'חיה מושקא', CASE WHEN k %% 2 = 0 THEN 'm' ELSE 'f' END, '', '', false,
                   (%(cities)s::text[])[1 + o.id %% %(city_count)s], (%(countries)s::text[])[1 + o.id %% %(city_count)s]
            FROM allocation_order o, generate_series(1, (o.amount / 18)::int) AS k
            ORDER BY o.id, k
            """,
            {"cities": [c for c, _ in CITIES], "countries": [c for _, c in CITIES], "city_count": len(CITIES)},
        )
        timings["names"] = time.perf_counter() - step
        # The scrolls the letters fill, in order, the last one open (as allocation leaves them).
        cursor.execute(
            "SELECT o.campaign_id, count(*) FROM allocation_name n JOIN allocation_order o ON o.id = n.order_id"
            " GROUP BY o.campaign_id"
        )
        for campaign_id, count in cursor.fetchall():
            last = count // total + 1
            if last > 1:  # full scrolls have walked every position; the last one is open
                now = timezone.now()
                full = {"state": ScrollState.FULL, "filled_at": now, "steps_walked": total}
                Scroll.objects.filter(campaign_id=campaign_id).update(**full)
                for number in range(2, last):
                    Scroll.objects.create(campaign_id=campaign_id, number=number, total_letters=total, **full)
                Scroll.objects.create(campaign_id=campaign_id, number=last, total_letters=total)
        step = time.perf_counter()
        # The letter guard's per-row lookups are skipped for this load (a session of the bench's own
        # database): the rows are consistent by construction, each name once, each position once
        # within its scroll, no honour letter kept.
        cursor.execute("SET session_replication_role = replica")
        # Each campaign's names take its positions in order of payment, scroll after scroll.
        cursor.execute(
            """
            INSERT INTO allocation_letter (scroll_id, position, name_id, allocated_at)
            SELECT s.id, (r.rn - 1) %% %(total)s + 1, r.name_id, r.paid_at
            FROM (SELECT n.id AS name_id, o.campaign_id, o.paid_at,
                         row_number() OVER (PARTITION BY o.campaign_id ORDER BY n.id) AS rn
                  FROM allocation_name n JOIN allocation_order o ON o.id = n.order_id) AS r
            JOIN scrolls_scroll s ON s.campaign_id = r.campaign_id AND s.number = (r.rn - 1) / %(total)s + 1
            ORDER BY r.name_id
            """,
            {"total": total},
        )
        timings["letters"] = time.perf_counter() - step
        cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute(
            """
            UPDATE scrolls_scroll s SET letters_allocated = l.count, opened_at = l.first,
                   steps_walked = CASE WHEN s.state = 'open' THEN l.count ELSE s.steps_walked END,
                   filled_at = CASE WHEN s.state = 'full' THEN l.last END
            FROM (SELECT scroll_id, count(*) AS count, min(allocated_at) AS first, max(allocated_at) AS last
                  FROM allocation_letter GROUP BY scroll_id) AS l
            WHERE l.scroll_id = s.id
            """
        )
        cursor.execute("SELECT count(*) FROM allocation_letter")
        letters = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM scrolls_scroll")
        scrolls = cursor.fetchone()[0]
    # As autovacuum would, in time: statistics for the planner, the visibility map for
    # index-only scans.
    step = time.perf_counter()
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    timings["vacuum"] = time.perf_counter() - step
    print(json.dumps({
        "database": name, "letters": letters, "orders": order_count, "scrolls": scrolls,
        "setup_seconds": time.perf_counter() - started, "timings": timings,
    }))  # fmt: skip


# --- Measuring ------------------------------------------------------------------------------------


def report(args):
    """Time the weekly report of the largest campaign (and one of every campaign), and its PDF."""
    use_database(args.database)
    from django.db import connection

    from reports.rendering import weekly_report_pdf
    from reports.selectors import weekly_report
    from reports.weeks import campaign_zone, week_last_ended
    from scrolls.models import Campaign

    campaigns = list(Campaign.objects.order_by("id"))
    largest = max(campaigns, key=lambda campaign: WEIGHTS.get(campaign.slug, 0))
    ending = week_last_ended(zone=campaign_zone(largest)).ending
    timings = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        result = weekly_report(campaign=largest, week_ending=ending)
        timings.append(time.perf_counter() - started)
    every = time.perf_counter()
    for campaign in campaigns:
        weekly_report(campaign=campaign, week_ending=week_last_ended(zone=campaign_zone(campaign)).ending)
    every = time.perf_counter() - every
    started = time.perf_counter()
    pdf = weekly_report_pdf(result)
    pdf_seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM allocation_letter l JOIN scrolls_scroll s ON s.id = l.scroll_id"
                       " WHERE s.campaign_id = %s", [largest.pk])  # fmt: skip
        campaign_letters = cursor.fetchone()[0]
    print(json.dumps({
        "campaign": largest.slug, "campaign_letters": campaign_letters, "week_ending": ending.isoformat(),
        "first": timings[0], "median": statistics.median(timings), "every_campaign": every,
        "campaigns": len(campaigns), "letters_in_week": result.this_week.letters, "pdf_seconds": pdf_seconds,
        "pdf_bytes": len(pdf),
    }))  # fmt: skip


def indexes(args):
    """Drop or create the reports app's indexes (to measure what they are worth)."""
    use_database(args.database)
    import importlib

    from django.db import connection

    migration = importlib.import_module("reports.migrations.0002_report_indexes")
    with connection.cursor() as cursor:
        for name, table, columns in migration.INDEXES:
            if args.action == "drop":
                cursor.execute(f"DROP INDEX IF EXISTS {name}")
            else:
                cursor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({columns})")
        cursor.execute("ANALYZE allocation_letter, allocation_order")
    print(json.dumps({"indexes": args.action}))


def warm(args):
    """Refresh the cached progress, then count the queries of cached requests in this process."""
    use_database(args.database)
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from scrolls.services import campaign_progress_refresh

    campaign_progress_refresh()
    client = Client(SERVER_NAME="127.0.0.1")
    requests = 200
    with CaptureQueriesContext(connection) as queries:
        for _ in range(requests):
            response = client.get("/api/v1/campaigns/")
            assert response.status_code == 200, response.status_code
    body = response.json()
    print(json.dumps({"queries_per_request": len(queries) / requests, "campaigns": len(body),
                      "bytes": len(response.content)}))  # fmt: skip


def server_connections(args):
    """Connections to the bench database other than this one: the server's, if it ever queried."""
    use_database(args.database)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [args.database]
        )
        print(json.dumps({"connections": cursor.fetchone()[0]}))


def drop(args):
    assert args.database == DATABASE
    database_drop(DATABASE)


def run(step, *extra):
    """One step in a fresh process; its JSON answer."""
    result = subprocess.run(
        [sys.executable, __file__, step, *map(str, extra)],
        capture_output=True, text=True, cwd=ROOT, env=bench_environment(), check=False,
    )  # fmt: skip
    if result.returncode:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"bench step {step} failed")
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- The server and the client ---------------------------------------------------------------------


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url(name):
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{name}"))


def get(port, path):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def requests_a_second(port, path, *, seconds, threads):
    """Requests answered 200 a second by `threads` clients asking for `seconds`, each request on
    its own connection (gunicorn's sync workers close it after each response)."""
    counts, failures = [0] * threads, [0] * threads
    deadline = time.perf_counter() + seconds

    def client(index):
        while time.perf_counter() < deadline:
            status, _ = get(port, path)
            if status == 200:
                counts[index] += 1
            else:
                failures[index] += 1

    started = time.perf_counter()
    workers = [threading.Thread(target=client, args=(index,)) for index in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if sum(failures):
        raise SystemExit(f"{path}: {sum(failures)} requests failed")
    return sum(counts) / (time.perf_counter() - started)


def serve_and_measure(database, args, *, local_seconds):
    port = free_port()
    env = {
        **bench_environment(),
        "DATABASE_URL": database_url(database),
        "PROGRESS_CACHE_LOCAL_SECONDS": str(local_seconds),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "bench.benchsite.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", str(args.workers), "--worker-class", "sync", "--log-level", "warning", "--chdir", str(ROOT)],
        cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                status, body = get(port, "/bench/trivial/")
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise SystemExit("gunicorn did not start")
        assert status == 200 and json.loads(body) == {"ok": True}
        status, body = get(port, "/api/v1/campaigns/")
        assert status == 200 and len(json.loads(body)) == len(WEIGHTS), body[:200]
        for path in ("/bench/trivial/", "/api/v1/campaigns/"):  # warm both up
            requests_a_second(port, path, seconds=0.5, threads=args.threads)
        rates = {"/bench/trivial/": [], "/api/v1/campaigns/": []}
        # Side by side: short rounds, alternating (and which goes first), so each pair of rounds
        # sees the same machine; the ratio is the median of the pairs'.
        for round_number in range(args.rounds):
            for path in list(rates)[:: 1 if round_number % 2 == 0 else -1]:
                rates[path].append(requests_a_second(port, path, seconds=args.seconds, threads=args.threads))
        connections = run("connections", "--database", database)["connections"]
    finally:
        server.terminate()
        server.wait(timeout=30)
    return rates, connections


def main(args):
    print(f"Filling {DATABASE}: {args.letters:,} letters over {WEEKS} weeks across the campaigns ...", flush=True)
    prepared = run("prepare", "--letters", args.letters)
    database = prepared["database"]
    try:
        print(f"  filled in {prepared['setup_seconds']:.0f} s: " + ", ".join(
            f"{key} {value:.0f} s" for key, value in prepared["timings"].items()), flush=True)  # fmt: skip
        with_indexes = run("report", "--database", database, "--repeat", args.repeat)
        run("indexes", "drop", "--database", database)
        without_indexes = run("report", "--database", database, "--repeat", args.repeat)
        run("indexes", "create", "--database", database)
        warmed = run("warm", "--database", database)
        rates, connections = serve_and_measure(database, args, local_seconds=LOCAL_SECONDS)
        strict_rates, strict_connections = serve_and_measure(database, args, local_seconds=0)
    finally:
        run("drop", "--database", database)

    report, unindexed = with_indexes, without_indexes

    def line(measure, figure, target=""):
        print(f"{measure:<52} {figure:>14}   {target}".rstrip())

    print()
    line("measure", "figure", "target")
    line("-" * 52, "-" * 14, "-" * 16)
    line("letters in the database", f"{prepared['letters']:,}")
    line("  orders / scrolls", f"{prepared['orders']:,} / {prepared['scrolls']}")
    line(f"weekly report: {report['campaign']}", f"{report['campaign_letters']:,} letters")
    line(f"  week ending {report['week_ending']}, letters that week", f"{report['letters_in_week']:,}")
    line(f"  time, first of {args.repeat}", f"{report['first'] * 1000:.0f} ms", "< 1 s")
    line(f"  time, median of {args.repeat}", f"{report['median'] * 1000:.0f} ms", "< 1 s")
    line(f"  all {report['campaigns']} campaigns, one report each", f"{report['every_campaign'] * 1000:.0f} ms")
    line("  without the reports indexes, median", f"{unindexed['median'] * 1000:.0f} ms")
    line("  the PDF (charts, WeasyPrint), once computed", f"{report['pdf_seconds'] * 1000:.0f} ms")
    line("  database queries per cached request (in process)", f"{warmed['queries_per_request']:.2f}", "0")
    for title, measured, opened in (
        (f"the settings' default, PROGRESS_CACHE_LOCAL_SECONDS={LOCAL_SECONDS}", rates, connections),
        ("PROGRESS_CACHE_LOCAL_SECONDS=0: Redis on every request", strict_rates, strict_connections),
    ):
        trivial = statistics.median(measured["/bench/trivial/"])
        campaigns = statistics.median(measured["/api/v1/campaigns/"])
        ratios = [ours / theirs for ours, theirs in zip(measured["/api/v1/campaigns/"], measured["/bench/trivial/"])]
        rounds = {path: " ".join(f"{rate:.0f}" for rate in values) for path, values in measured.items()}
        print(f"{title}:")
        line("  GET /bench/trivial/ (JsonResponse), requests/s", f"{trivial:.0f}", rounds["/bench/trivial/"])
        line("  GET /api/v1/campaigns/, requests/s", f"{campaigns:.0f}", rounds["/api/v1/campaigns/"])
        line("  ratio to the trivial view (median of the rounds')", f"{statistics.median(ratios):.0%}",
             ">= 80%   " + " ".join(f"{ratio:.0%}" for ratio in ratios))  # fmt: skip
        line("  database connections the server opened", opened, "0")
    print(f"  ({args.workers} gunicorn sync workers, {args.threads} client threads on the same machine, "
          f"{args.rounds} pairs of alternating rounds of {args.seconds} s each; medians)")  # fmt: skip
    report_figure(f"weekly report, {report['campaign_letters']:,} letters, median", report["median"] * 1000, "ms",
                  target="< 1 s", met=report["median"] < 1)  # fmt: skip
    report_figure("weekly report without its indexes, median", unindexed["median"] * 1000, "ms",
                  ratio=unindexed["median"] / report["median"])  # fmt: skip
    report_figure("report PDF, once computed", report["pdf_seconds"] * 1000, "ms")
    report_figure("database queries per cached request", warmed["queries_per_request"], "queries", target="0",
                  met=warmed["queries_per_request"] == 0)  # fmt: skip
    ratio = statistics.median(
        ours / theirs for ours, theirs in zip(rates["/api/v1/campaigns/"], rates["/bench/trivial/"])
    )
    report_figure("GET /api/v1/campaigns/ a second", statistics.median(rates["/api/v1/campaigns/"]), "requests/s",
                  ratio=ratio, target=">= 0.8x the trivial view", met=ratio >= 0.8)  # fmt: skip


def parse():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", nargs="?", default="main",
                        choices=["main", "prepare", "report", "indexes", "warm", "connections", "drop"])  # fmt: skip
    parser.add_argument("action", nargs="?", choices=["drop", "create"])
    parser.add_argument("--letters", type=int, default=3_000_000)
    parser.add_argument("--repeat", type=int, default=5, help="weekly reports timed")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each round of requests")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=4, help="client threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--database")
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse()
    if arguments.step == "main":
        main(arguments)
    else:
        setup_django()
        steps = {"prepare": prepare, "report": report, "indexes": indexes, "warm": warm,
                 "connections": server_connections, "drop": drop}  # fmt: skip
        steps[arguments.step](arguments)
