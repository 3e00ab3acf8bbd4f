"""What one order costs the server (issue 22): the CPU of one gunicorn sync worker (DEBUG off)
for a 3-name API order paid offline, and for the web buyer's whole flow (buy page, form, pay
page, demo payment, done page), each over the CPU of a trivial request (/healthz/) measured side
by side in the same server and run, one client at a time; and the SQL statements each sends.

    .venv/bin/python tests/with_services.py .venv/bin/python bench/order_cpu.py [--rounds 5]
    .venv/bin/python tests/with_services.py .venv/bin/python bench/order_cpu.py --profile [--orders 200]

Targets (issue 22): an API order at most 8x a trivial request, the web flow at most 20x, an API
order in at most 15 statements. The worker's CPU is read from /proc (user + system time of the
worker process alone): the client and PostgreSQL are not counted, as the issue measured.
"""

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _steps import ROOT, report_figure, step_run  # noqa: E402
from load import (  # noqa: E402
    Client,
    bench_environment,
    buy_through_api,
    buy_through_pages,
    database_with_shliach,
    free_port,
)

DATABASE = "bench_order_cpu"
API_TARGET, WEB_TARGET, STATEMENTS_TARGET = 8, 20, 15


def setup_django():
    os.environ.update(bench_environment(DATABASE))
    import django

    django.setup()


def prepare(args):
    """The throwaway database: the campaigns and their text, a trusted shliach and their token."""
    from django.db import connection

    name, token = database_with_shliach(DATABASE)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # autovacuum is off on this machine: fresh tables need it
    print(json.dumps({"database": name, "token": token}))


class TestClient:
    """Django's test client in the shape of load.Client, for buy_through_api and buy_through_pages."""

    def __init__(self):
        from django.test import Client as DjangoClient

        self.client = DjangoClient(HTTP_HOST="127.0.0.1")

    def request(self, method, path, body=None, headers=None):
        extra = {f"HTTP_{key.upper().replace('-', '_')}": value for key, value in (headers or {}).items()}
        content_type = extra.pop("HTTP_CONTENT_TYPE", "application/octet-stream")
        if method == "GET":
            response = self.client.get(path, **extra)
        else:
            response = self.client.generic(method, path, data=body or b"", content_type=content_type, **extra)
        return response.status_code, response.headers, response.content


def statements(args):
    """The statements of one API order and of one web flow, as the server sends them (the same
    code, through Django's test client in this process; tasks go to no broker)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    rng = random.Random(1)
    buy_through_api(TestClient(), token=args.token, rng=rng)  # warm
    with CaptureQueriesContext(connection) as api:
        buy_through_api(TestClient(), token=args.token, rng=rng)
    buy_through_pages(TestClient(), rng=rng)
    with CaptureQueriesContext(connection) as web:
        buy_through_pages(TestClient(), rng=rng)
    print(json.dumps({"api": len(api.captured_queries), "web": len(web.captured_queries)}))


def profile(args):
    """Where an API order's Python goes: `--orders` orders in this process under cProfile (the
    same code as the server's, through Django's test client), the functions by their own time
    and the request's parts by their cumulative time."""
    import collections
    import cProfile
    import pstats

    from django.db import connection

    rng = random.Random(2)
    client = TestClient()
    for _ in range(10):  # warm
        buy_through_api(client, token=args.token, rng=rng)
    waited = collections.defaultdict(float)

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            waited[re.sub(r'"s\d+_x\d+"', '"..."', " ".join(sql.split()[:4]))[:70]] += time.perf_counter() - started

    profiler = cProfile.Profile()
    with connection.execute_wrapper(timed):
        profiler.enable()
        for _ in range(args.orders):
            buy_through_api(client, token=args.token, rng=rng)
        profiler.disable()
    print(f"{args.orders} API orders of 3 names, in process; time in each statement (wall, an order):")
    for statement, seconds in sorted(waited.items(), key=lambda item: -item[1]):
        print(f"  {seconds / args.orders * 1000:7.3f} ms  {statement}")
    if args.stats_file:
        profiler.dump_stats(args.stats_file)
    stats = pstats.Stats(profiler).strip_dirs()
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(60)


def drop(args):
    from _steps import database_drop

    database_drop(DATABASE)


def _worker_cpu(worker):
    times = worker.cpu_times()
    return times.user + times.system


def measure(args, token):
    port = free_port()
    server = psutil.Popen(
        [sys.executable, "-m", "gunicorn", "bench.benchsite.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--worker-class", "sync", "--log-level", "warning", "--chdir", str(ROOT)],
        cwd=ROOT, env=bench_environment(DATABASE),
    )  # fmt: skip
    try:
        for _ in range(200):
            try:
                client = Client("127.0.0.1", port)
                if client.request("GET", "/healthz/")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise SystemExit("gunicorn did not start")
        [worker] = server.children()
        rng = random.Random(0)

        def trivial():
            client.request("GET", "/healthz/")

        def api_order():
            buy_through_api(client, token=token, rng=rng)

        def web_flow():
            buy_through_pages(client, rng=rng)

        kinds = {"trivial": (trivial, args.trivial), "api": (api_order, args.orders), "web": (web_flow, args.orders)}
        for action, count in kinds.values():  # warm every path
            for _ in range(max(3, count // 10)):
                action()
        per_request = {kind: [] for kind in kinds}
        # Side by side: short rounds, alternating which goes first, each the CPU of the worker
        # for that round's requests; the ratios are the median of the rounds'.
        for round_number in range(args.rounds):
            order = list(kinds)[:: 1 if round_number % 2 == 0 else -1]
            for kind in order:
                action, count = kinds[kind]
                before = _worker_cpu(worker)
                for _ in range(count):
                    action()
                per_request[kind].append((_worker_cpu(worker) - before) / count)
        client.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return per_request


def main(args):
    if args.profile:
        token = step_run(__file__, "prepare")["token"]
        try:
            command = [sys.executable, __file__, "profile", "--token", token, "--orders", str(args.orders)]
            command += ["--stats-file", args.stats_file] if args.stats_file else []
            subprocess.run(command, cwd=ROOT, env=os.environ, check=True)
        finally:
            step_run(__file__, "drop")
        return
    print(f"Preparing {DATABASE} (campaigns, the text, a trusted shliach) ...", flush=True)
    token = step_run(__file__, "prepare")["token"]
    try:
        counted = step_run(__file__, "statements", "--token", token)
        per_request = measure(args, token)
    finally:
        step_run(__file__, "drop")
    rounds = len(per_request["trivial"])
    api_ratio = statistics.median(per_request["api"][i] / per_request["trivial"][i] for i in range(rounds))
    web_ratio = statistics.median(per_request["web"][i] / per_request["trivial"][i] for i in range(rounds))
    trivial_ms = statistics.median(per_request["trivial"]) * 1000
    api_ms = statistics.median(per_request["api"]) * 1000
    web_ms = statistics.median(per_request["web"]) * 1000
    print(f"One gunicorn sync worker, one client, {args.rounds} rounds side by side; worker CPU per request:")
    print(f"{'trivial request (/healthz/)':<44} {trivial_ms:>8.2f} ms")
    print(f"{'API order, 3 names, paid offline':<44} {api_ms:>8.2f} ms {api_ratio:>6.1f}x   <= {API_TARGET}x")
    print(
        f"{'web flow (5 requests, 1 name, demo payment)':<44} {web_ms:>8.2f} ms {web_ratio:>6.1f}x   <= {WEB_TARGET}x"
    )
    print(f"{'statements: API order / web flow':<44} {counted['api']:>8} / {counted['web']}   <= {STATEMENTS_TARGET}")
    report_figure("CPU of a trivial request (/healthz/)", trivial_ms, "ms")
    report_figure("CPU of an API order (3 names, offline)", api_ms, "ms", ratio=api_ratio,
                  target=f"<= {API_TARGET}x", met=api_ratio <= API_TARGET)  # fmt: skip
    report_figure("CPU of the web flow (5 requests)", web_ms, "ms", ratio=web_ratio,
                  target=f"<= {WEB_TARGET}x", met=web_ratio <= WEB_TARGET)  # fmt: skip
    report_figure("statements of an API order", counted["api"], "statements", target=f"<= {STATEMENTS_TARGET}",
                  met=counted["api"] <= STATEMENTS_TARGET)  # fmt: skip
    report_figure("statements of the web flow", counted["web"], "statements")


def parse():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", nargs="?", default="main", choices=["main", "prepare", "statements", "profile", "drop"])
    parser.add_argument("--profile", action="store_true", help="profile --orders API orders instead of measuring")
    parser.add_argument("--stats-file", default="", help="with --profile: also write the profile (pstats) here")
    parser.add_argument("--token", default="")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--orders", type=int, default=40, help="orders (and web flows) a round")
    parser.add_argument("--trivial", type=int, default=400, help="trivial requests a round")
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse()
    if arguments.step == "main":
        main(arguments)
    else:
        setup_django()
        {"prepare": prepare, "statements": statements, "profile": profile, "drop": drop}[arguments.step](arguments)
