"""Letters under load: 200 concurrent clients buy letters for a fixed time against gunicorn and
PostgreSQL, some through the API with an offline payment (a trusted shliach's token), some through
the web pages with the demo provider (buy page, form with CSRF, demo payment, done page). Then the
invariants are checked in SQL, and the rate is set beside its ceiling: the same SQL statements the
services issue for one order of each kind (captured once with a query wrapper), replayed straight
from psycopg2 with as many connections as the server has threads, for the same time, against a
copy of the same data taken before the load.

    make bench                      # runs bench/run.py, which runs this
    .venv/bin/python tests/with_services.py .venv/bin/python bench/load.py [--clients 200 --seconds 20]

Target (issue 10): the app's letters a second at least 50% of the ceiling.
"""

import argparse
import http.client
import json
import os
import pickle
import random
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.cookies import SimpleCookie
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "bench_load"
CEILING_DATABASE = "bench_load_ceiling"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _steps import report_figure, step_run, use_database  # noqa: E402

API_CAMPAIGN, WEB_CAMPAIGN = "idf", "tomchei-temimim"
API_NAMES = 3  # names in each API order; a web order has one
# The two campaigns' first scrolls are this small, so they fill under load and the next opens.
SMALL_SCROLL = 500
HEBREW = ["מנחם מענדל", "יוסף יצחק", "לוי יצחק", "שניאור זלמן", "משה", "אברהם", "דוד", "שמואל"]
MOTHERS = ["חיה מושקא", "שרה", "רבקה", "רחל", "לאה", "דבורה", "מרים", "חנה"]


# --- The clients (also used by tests/test_load.py) -----------------------------------------------


class Client:
    """One HTTP/1.1 keep-alive connection and its cookies."""

    def __init__(self, host, port):
        self.host, self.port, self.cookies = host, port, {}
        self.connection = http.client.HTTPConnection(host, port, timeout=60)

    def request(self, method, path, body=None, headers=None):
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{key}={value}" for key, value in self.cookies.items())
        for attempt in range(2):  # a keep-alive connection the server closed: reconnect once
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.connection.close()
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
                if attempt:
                    raise
        for header in response.headers.get_all("Set-Cookie") or []:
            for key, morsel in SimpleCookie(header).items():
                self.cookies[key] = morsel.value
        return response.status, response.headers, data

    def reconnect(self):
        """A new connection, its cookies kept: a buyer coming back for another order."""
        self.connection.close()
        self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)

    def close(self):
        self.connection.close()


def _name(rng):
    return {"hebrew_name": rng.choice(HEBREW), "parent_hebrew_name": rng.choice(MOTHERS), "gender": "m"}


def buy_through_api(client, *, token, rng, campaign=API_CAMPAIGN, names=API_NAMES):
    """POST /api/v1/orders/ paid offline; the number of letters it got."""
    body = json.dumps({
        "campaign": campaign, "names": [_name(rng) for _ in range(names)],
        "payment": {"method": "offline", "reference": f"load-{rng.getrandbits(48)}"},
    })  # fmt: skip
    status, _, data = client.request(
        "POST", "/api/v1/orders/", body=body.encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Token {token}"},
    )  # fmt: skip
    if status != 201:
        raise AssertionError(f"API order: {status} {data[:300]!r}")
    letters = json.loads(data)["names"]
    if len(letters) != names or not all(letter.get("letter") for letter in letters):
        raise AssertionError(f"API order came back without all its letters: {data[:300]!r}")
    return names


_CSRF_INPUT = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')


def _form_post(client, path, page, fields):
    token = _CSRF_INPUT.search(page)
    if token is None:
        raise AssertionError(f"no CSRF token in the page before {path}")
    fields = {"csrfmiddlewaretoken": token.group(1).decode(), **fields}
    return client.request(
        "POST", path, body=urllib.parse.urlencode(fields).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip


def buy_through_pages(client, *, rng, campaign=WEB_CAMPAIGN):
    """The buyer's pages: buy page, the form, the demo payment, the done page; letters got (1)."""
    status, _, page = client.request("GET", f"/buy/{campaign}/")
    if status != 200:
        raise AssertionError(f"buy page: {status}")
    name = _name(rng)
    status, headers, data = _form_post(client, f"/buy/{campaign}/", page, {
        "names-TOTAL_FORMS": "1", "names-INITIAL_FORMS": "0", "names-MIN_NUM_FORMS": "0",
        "names-MAX_NUM_FORMS": "1000", "names-0-hebrew_name": name["hebrew_name"], "names-0-gender": "m",
        "names-0-parent_hebrew_name": name["parent_hebrew_name"], "buyer_name": "Load Test",
        "buyer_email": "load@example.org", "buyer_phone": "", "amount": "", "consent": "on",
    })  # fmt: skip
    if status != 302:
        raise AssertionError(f"buy form: {status} {data[:300]!r}")
    pay_path = urllib.parse.urlsplit(headers["Location"]).path
    status, _, page = client.request("GET", pay_path)
    if status != 200:
        raise AssertionError(f"pay page: {status}")
    status, headers, data = _form_post(client, f"{pay_path}demo/", page, {"outcome": "succeed"})
    if status != 302:
        raise AssertionError(f"demo payment: {status} {data[:300]!r}")
    status, _, page = client.request("GET", urllib.parse.urlsplit(headers["Location"]).path)
    if status != 200:
        raise AssertionError(f"done page: {status}")
    return 1


def clients_run(*, host, port, token, clients, seconds, web_share=0.5, seed=0, max_orders=10_000):
    """`clients` threads, each buying in a loop until the time is up (or `max_orders` each):
    the first `web_share` of them through the pages, the rest through the API. Returns the
    counts and the errors (each client stops at its first error)."""
    deadline = time.monotonic() + seconds
    web_clients = round(clients * web_share)
    results = [None] * clients
    barrier = threading.Barrier(clients)

    def run(index):
        rng = random.Random(seed * 100_000 + index)
        client = Client(host, port)
        web = index < web_clients
        orders = letters = 0
        error = None
        try:
            barrier.wait(timeout=60)
            while time.monotonic() < deadline and orders < max_orders:
                letters += buy_through_pages(client, rng=rng) if web else buy_through_api(client, token=token, rng=rng)
                orders += 1
                # Each order on a connection of its own, as separate purchases arrive (and as a
                # proxy in front of gunicorn passes them on): a connection kept for the whole run
                # stays with the worker that accepted it, and the workers' shares drifted apart
                # from run to run (API to web orders from 1.2 to 7.8 to one).
                client.reconnect()
        except Exception as exception:  # reported by the caller
            error = f"{'web' if web else 'api'} client {index}: {exception!r}"
        finally:
            client.close()
        results[index] = {"web": web, "orders": orders, "letters": letters, "error": error}

    started = time.monotonic()
    threads = [threading.Thread(target=run, args=(index,), daemon=True) for index in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 120)
    elapsed = time.monotonic() - started
    finished = [result for result in results if result is not None]
    return {
        "seconds": elapsed,
        "hung": clients - len(finished),
        "orders": sum(result["orders"] for result in finished),
        "letters": sum(result["letters"] for result in finished),
        "api_orders": sum(result["orders"] for result in finished if not result["web"]),
        "web_orders": sum(result["orders"] for result in finished if result["web"]),
        "errors": [result["error"] for result in finished if result["error"]],
    }


# --- The invariants, in SQL (also used by tests/test_load.py) ------------------------------------


def invariants_check(cursor):
    """Raise AssertionError unless: no (scroll, position) twice; each scroll's letters and the
    reserved positions it walked past fill its walk with no gap (a full scroll to its end);
    one open scroll per campaign; every paid order has one letter per name and no other order
    has any. Returns a summary (scrolls, full scrolls, letters, paid orders)."""
    problems = []
    cursor.execute("SELECT scroll_id, position FROM allocation_letter GROUP BY 1, 2 HAVING count(*) > 1 LIMIT 5")
    if rows := cursor.fetchall():
        problems.append(f"positions used twice: {rows}")
    cursor.execute("""
        SELECT s.id, s.state, s.total_letters, s.steps_walked, s.letters_allocated, s.lottery_seed,
               (SELECT count(*) FROM allocation_letter l WHERE l.scroll_id = s.id),
               (SELECT count(DISTINCT l.position) FROM allocation_letter l WHERE l.scroll_id = s.id),
               (SELECT coalesce(max(l.position), 0) FROM allocation_letter l WHERE l.scroll_id = s.id),
               (SELECT count(*) FROM allocation_reservation r WHERE r.scroll_id = s.id
                  AND (r.reached_at IS NOT NULL OR EXISTS (
                      SELECT 1 FROM allocation_letter l WHERE l.scroll_id = s.id AND l.position = r.position))),
               (SELECT count(*) FROM allocation_letter l JOIN allocation_reservation r
                  ON r.scroll_id = l.scroll_id AND r.position = l.position WHERE l.scroll_id = s.id)
        FROM scrolls_scroll s ORDER BY s.id
    """)  # fmt: skip
    scrolls = cursor.fetchall()
    full = 0
    for scroll_id, state, total, walked, allocated, seed, count, distinct, highest, passed, given_reserved in scrolls:
        # A reserved position is either stepped over (reached) or given by staff as an honour.
        walked_positions = count - given_reserved + passed
        if count != distinct or count != allocated:
            problems.append(f"scroll {scroll_id}: {count} letters, {distinct} positions, counter {allocated}")
        if walked_positions != walked:
            problems.append(f"scroll {scroll_id}: a gap: {walked_positions} positions used of {walked} walked")
        if seed is None and highest > walked:
            problems.append(f"scroll {scroll_id}: position {highest} beyond the walk ({walked})")
        if state != "open":
            full += 1
            if walked != total:
                problems.append(f"scroll {scroll_id} is {state} at {walked} of {total}")
    cursor.execute("""
        SELECT c.slug, count(s.id) FILTER (WHERE s.state = 'open'), count(s.id)
        FROM scrolls_campaign c LEFT JOIN scrolls_scroll s ON s.campaign_id = c.id GROUP BY c.slug
    """)  # fmt: skip
    for slug, open_scrolls, _ in cursor.fetchall():
        if open_scrolls != 1:
            problems.append(f"campaign {slug} has {open_scrolls} open scrolls")
    cursor.execute("""
        SELECT o.id, o.status, count(n.id), count(l.id)
        FROM allocation_order o JOIN allocation_name n ON n.order_id = o.id
        LEFT JOIN allocation_letter l ON l.name_id = n.id
        GROUP BY o.id, o.status
        HAVING (o.status = 'paid' AND count(l.id) <> count(n.id)) OR (o.status <> 'paid' AND count(l.id) > 0)
        LIMIT 5
    """)  # fmt: skip
    if rows := cursor.fetchall():
        problems.append(f"orders whose letters do not match their names and status: {rows}")
    cursor.execute("SELECT count(*) FROM allocation_letter")
    letters = cursor.fetchone()[0]
    cursor.execute("SELECT count(*) FROM allocation_order WHERE status = 'paid'")
    paid = cursor.fetchone()[0]
    assert not problems, "; ".join(problems)
    return {"scrolls": len(scrolls), "full_scrolls": full, "letters": letters, "paid_orders": paid}


# --- The steps, each in its own process ----------------------------------------------------------


def bench_environment(database=None):
    """Production defaults (DEBUG off) but plain HTTP, with the demo payment provider switched on
    (bench/benchsite/settings.py), which the web flow pays through. Tasks go to an
    in-memory broker, nowhere: what is measured is taking the order and allocating its letters.
    The API's per-user throttle is lifted: every API client is the one shliach; so is the limit
    of orders per address: every web client is the one address."""
    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": "bench.benchsite.settings",
        "SECRET_KEY": "bench-only-not-secret",
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "REDIS_URL": "",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "EMAIL_URL": "memorymail://",
        "API_THROTTLE_USER": "1000000/min",
        "RATELIMIT_ORDERS": "1000000/h",
        "LOG_LEVEL": "WARNING",
        "PYTHONWARNINGS": "ignore",
    })  # fmt: skip
    if database:
        env["DATABASE_URL"] = database_url(database)
    return env


def database_url(name):
    parts = urllib.parse.urlsplit(os.environ["DATABASE_URL"])
    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))


def setup_django():
    os.environ.update(bench_environment())
    import django

    django.setup()


def database_with_shliach(database):
    """A throwaway database (named `database`) with the campaigns, the text, and a trusted
    shliach; its name and the shliach's token."""
    from django.contrib.auth.models import Permission, User
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from scrolls.seed import DEFAULT_CAMPAIGNS
    from scrolls.services import campaigns_seed, text_edition_load_package, text_edition_make_default

    connection.settings_dict["TEST"]["NAME"] = database  # never a test run's database
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    edition, _ = text_edition_load_package()
    text_edition_make_default(edition=edition)
    campaigns_seed(campaigns=DEFAULT_CAMPAIGNS)
    user = User.objects.create_user("bench-shliach", "shliach@example.org", "bench-password")
    user.user_permissions.add(*Permission.objects.filter(codename__in=["register_names", "record_offline_payment"]))
    return name, Token.objects.create(user=user).key


def prepare(args):
    """The throwaway database: campaigns, the text, the shliach and their token; then its copy
    for the ceiling (full-size scrolls), then the load's small scrolls."""
    from django.db import connection

    from allocation.services import scroll_honours_before_resize, scroll_honours_default_create
    from scrolls.models import Campaign, Scroll, ScrollState

    name, token = database_with_shliach(DATABASE)
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{CEILING_DATABASE}"')
    connection.close()
    with connection._nodb_cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{CEILING_DATABASE}" TEMPLATE "{name}"')
    for campaign in Campaign.objects.filter(slug__in=[API_CAMPAIGN, WEB_CAMPAIGN]):
        # As tests/factories.shrink_open_scroll: the honour letters move to the small scroll's ends.
        scroll = Scroll.objects.get(campaign=campaign, state=ScrollState.OPEN)
        scroll_honours_before_resize(scroll=scroll, total_letters=SMALL_SCROLL)
        scroll.edition, scroll.total_letters = None, SMALL_SCROLL
        scroll.save(update_fields=["edition", "total_letters"])
        scroll_honours_default_create(scroll=scroll)
    print(json.dumps({"database": name, "token": token}))


class StatementRecorder:
    """Every statement with its parameters, and where each transaction commits."""

    def __init__(self, connection):
        self.connection, self.log = connection, []

    def __call__(self, execute, sql, params, many, context):
        self.log.append(("execute", sql, params, many))
        return execute(sql, params, many, context)

    def __enter__(self):
        self.commit = self.connection.commit

        def commit():
            self.log.append(("commit",))
            return self.commit()

        self.connection.commit = commit
        self.wrapper = self.connection.execute_wrapper(self)
        self.wrapper.__enter__()
        return self

    def __exit__(self, *exc):
        self.wrapper.__exit__(*exc)
        del self.connection.commit


def capture(args):
    """In the ceiling's copy: one API order (offline, API_NAMES names, in one transaction as the
    API view runs it) and one web order (create, demo payment started, paid) through the services,
    every statement recorded. Ids are pushed far up first, so a captured id is never mistaken for
    another number when the replay maps them to its own."""
    from django.contrib.auth.models import User
    from django.db import connection, transaction

    from allocation.models import Order
    from allocation.services import Buyer, order_place
    from payments.services import payment_demo_complete, payment_record_offline, payment_start_card
    from scrolls.models import Campaign

    use_database(CEILING_DATABASE)
    with connection.cursor() as cursor:
        for table, start in (("allocation_order", 70_000_000), ("allocation_name", 80_000_000),
                             ("payments_payment", 90_000_000)):  # fmt: skip
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {start})")
    user = User.objects.get(username="bench-shliach")
    rng = random.Random(1)
    api_campaign, web_campaign = Campaign.objects.get(slug=API_CAMPAIGN), Campaign.objects.get(slug=WEB_CAMPAIGN)
    transaction.set_autocommit(True)
    with StatementRecorder(connection) as api:
        with transaction.atomic():
            order = order_place(campaign=api_campaign, names=[_name(rng) for _ in range(API_NAMES)], created_by=user,
                                 channel="api")  # fmt: skip
            # As the API places and pays it (checkout.services.order_checkout).
            payment = payment_record_offline(
                order=order, reference="load-capture", recorded_by=user, placed_in_this_transaction=True
            )
    api_ids = _ids(order.pk, [payment.pk])
    with StatementRecorder(connection) as web:
        order = order_place(campaign=web_campaign, names=[_name(rng)], buyer=Buyer(name="Load", email="l@example.org"))
        payment, _ = payment_start_card(order_id=order.pk)
        payment_demo_complete(payment_id=payment.pk, succeeded=True)
    web_ids = _ids(order.pk, [payment.pk])
    assert Order.objects.get(pk=order.pk).status == "paid"
    with open(args.output, "wb") as file:
        pickle.dump({"api": (api.log, api_ids), "web": (web.log, web_ids)}, file)
    print(json.dumps({"api_statements": sum(e[0] == "execute" for e in api.log),
                      "web_statements": sum(e[0] == "execute" for e in web.log)}))  # fmt: skip


def _ids(order_id, payment_ids):
    from allocation.models import Name, Order

    order = Order.objects.get(pk=order_id)
    names = list(Name.objects.filter(order_id=order_id).order_by("id").values_list("id", flat=True))
    return {"order": order_id, "token": order.token, "names": names, "payments": payment_ids}


_RETURNING_TABLE = re.compile(r'INSERT INTO "?(allocation_order|allocation_name|payments_payment)"?\s', re.I)
_LETTERS = re.compile(r"INSERT INTO allocation_letter", re.I)
_LETTERS_WITH_COUNTERS = re.compile(r"UPDATE scrolls_scroll SET steps_walked = %s, letters_allocated = %s", re.I)
_SCROLL_LOCK = re.compile(r'FROM "scrolls_scroll" WHERE .* FOR UPDATE', re.I | re.S)
_SCROLL_SAVE = re.compile(r'^UPDATE "scrolls_scroll" SET (.*) WHERE', re.I)


def replay_once(cursor, log, ids):
    """The captured statements of one order, with this order's own ids, token, positions and
    scroll counters; commits where the service committed."""
    mapping = {ids["token"]: secrets.token_urlsafe(24)}
    scroll = None
    letters = 0
    for entry in log:
        if entry[0] == "commit":
            cursor.connection.commit()
            continue
        _, sql, params, many = entry
        params = _substitute(params, mapping)
        if _LETTERS.search(sql):
            scroll_id, now, positions, names, *rest = params
            walked = scroll["steps_walked"]
            params = [scroll_id, now, list(range(walked + 1, walked + 1 + len(names))), names]
            scroll["steps_walked"] += len(names)
            scroll["letters_allocated"] += len(names)
            letters += len(names)
            if _LETTERS_WITH_COUNTERS.search(sql):
                # The same statement saves the scroll's counters (and the order's mark): this
                # replay's scroll moved on.
                *mark, _, _, counted_scroll = rest
                params += [*mark, scroll["steps_walked"], scroll["letters_allocated"], counted_scroll]
        elif match := _SCROLL_SAVE.search(sql):
            # The walk's counters, as the service sets them: this replay's scroll moved on.
            columns = re.findall(r'"(\w+)" = %s', match.group(1))
            params = [scroll[column] for column in columns] + list(params[len(columns) :])
        if many:
            cursor.executemany(sql, params)
        else:
            cursor.execute(sql, params)
        if cursor.description is None:
            continue
        rows = cursor.fetchall()
        if _SCROLL_LOCK.search(sql):
            columns = [column.name for column in cursor.description]
            scroll = dict(zip(columns, rows[0]))
        elif match := _RETURNING_TABLE.match(sql):
            table = match.group(1)
            captured = {"allocation_order": [ids["order"]], "allocation_name": ids["names"],
                        "payments_payment": ids["payments"]}[table]  # fmt: skip
            for old, (new, *_) in zip(captured, rows):
                mapping[old] = new
                if table == "payments_payment":
                    mapping[f"demo-{old}"] = f"demo-{new}"
    cursor.connection.commit()
    return letters


def _substitute(params, mapping):
    if params is None:
        return None
    if isinstance(params, dict):
        return {key: _substitute_one(value, mapping) for key, value in params.items()}
    return [_substitute_one(value, mapping) for value in params]


def _substitute_one(value, mapping):
    if isinstance(value, (list, tuple)):
        return [_substitute_one(item, mapping) for item in value]
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        return mapping.get(value, value)
    return value


def ceiling(args):
    """The captured statements replayed from `--connections` psycopg2 connections for the same
    time, in the same mix of API and web orders as the load."""
    import psycopg2

    with open(args.captured, "rb") as file:
        captured = pickle.load(file)
    deadline = time.monotonic() + args.seconds
    web_connections = round(args.connections * args.web_share)
    results, errors = [], []
    barrier = threading.Barrier(args.connections)

    def run(index):
        connection = psycopg2.connect(database_url(CEILING_DATABASE))
        log, ids = captured["web" if index < web_connections else "api"]
        orders = letters = 0
        try:
            with connection.cursor() as cursor:
                barrier.wait(timeout=60)
                while time.monotonic() < deadline:
                    letters += replay_once(cursor, log, ids)
                    orders += 1
        except Exception as error:  # reported below
            errors.append(repr(error))
        finally:
            connection.close()
        results.append((orders, letters))

    started = time.monotonic()
    threads = [threading.Thread(target=run, args=(index,)) for index in range(args.connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    if errors:
        raise SystemExit(f"ceiling replay failed: {errors[:3]}")
    with psycopg2.connect(database_url(CEILING_DATABASE)) as connection, connection.cursor() as cursor:
        checked = invariants_check(cursor)
    print(json.dumps({"seconds": elapsed, "orders": sum(r[0] for r in results),
                      "letters": sum(r[1] for r in results), "checked": checked}))  # fmt: skip


def check(args):
    import psycopg2

    with psycopg2.connect(database_url(DATABASE)) as connection, connection.cursor() as cursor:
        print(json.dumps(invariants_check(cursor)))


def drop(args):
    from django.db import connection

    with connection._nodb_cursor() as cursor:
        for name in (DATABASE, CEILING_DATABASE):
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
    print(json.dumps({"dropped": [DATABASE, CEILING_DATABASE]}))


def free_port():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(args, port):
    # --preload: the application (every view, WeasyPrint among their imports) is loaded before
    # the workers fork, so all are ready when the first answers. Else the first worker up took
    # all 200 keep-alive connections while the others were still importing, and served the whole
    # load alone on one core (seen as 72% idle CPU and a third less throughput in some runs).
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "bench.benchsite.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", str(args.workers), "--worker-class", "gthread", "--threads", str(args.threads),
         "--backlog", "2048", "--keep-alive", "30", "--log-level", "warning", "--chdir", str(ROOT), "--preload"],
        cwd=ROOT, env=bench_environment(DATABASE),
    )  # fmt: skip


def wait_for(port):
    for _ in range(200):
        try:
            client = Client("127.0.0.1", port)
            status, _, _ = client.request("GET", "/bench/trivial/")
            client.close()
            if status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("gunicorn did not start")


def main(args):
    print(f"Preparing {DATABASE} (campaigns, the text, a trusted shliach) and its copy for the ceiling ...", flush=True)
    prepared = step_run(__file__, "prepare")
    try:
        port = args.port or free_port()
        server = serve(args, port)
        try:
            wait_for(port)
            print(f"Load: {args.clients} clients for {args.seconds:.0f} s against gunicorn "
                  f"({args.workers} gthread workers x {args.threads} threads) ...", flush=True)  # fmt: skip
            load = clients_run(host="127.0.0.1", port=port, token=prepared["token"], clients=args.clients,
                               seconds=args.seconds, web_share=args.web_share)  # fmt: skip
        finally:
            server.terminate()
            server.wait(timeout=60)
        if load["errors"] or load["hung"]:
            raise SystemExit(f"load: {load['hung']} clients hung; errors: {load['errors'][:5]}")
        checked = step_run(__file__, "check")
        connections = args.workers * args.threads
        with tempfile.TemporaryDirectory(prefix="bench-load-") as folder:
            captured = Path(folder) / "captured.pickle"
            statements = step_run(__file__, "capture", "--output", captured)
            print(f"Ceiling: the services' statements ({statements['api_statements']} for an API order of "
                  f"{API_NAMES} names, {statements['web_statements']} for a web order) replayed from "
                  f"{connections} psycopg2 connections for {args.seconds:.0f} s ...", flush=True)  # fmt: skip
            top = step_run(__file__, "ceiling", "--captured", captured, "--connections", connections,
                           "--seconds", args.seconds, "--web-share", args.web_share)  # fmt: skip
    finally:
        step_run(__file__, "drop")

    app_letters, app_orders = load["letters"] / load["seconds"], load["orders"] / load["seconds"]
    top_letters, top_orders = top["letters"] / top["seconds"], top["orders"] / top["seconds"]
    ratio = app_letters / top_letters
    print()
    print(f"{'measure':<52} {'figure':>14}   target")
    print(f"{'-' * 52} {'-' * 14}   {'-' * 20}")
    print(f"{'orders taken (API offline / web demo)':<52} {load['api_orders']:>6,} / {load['web_orders']:<6,}")
    print(f"{'letters allocated':<52} {load['letters']:>14,}")
    print(f"{'app: letters / second':<52} {app_letters:>14.1f}")
    print(f"{'app: orders / second':<52} {app_orders:>14.1f}")
    print(f"{'ceiling (same SQL from psycopg2): letters / second':<52} {top_letters:>14.1f}")
    print(f"{'ceiling: orders / second':<52} {top_orders:>14.1f}")
    print(f"{'app / ceiling (letters a second)':<52} {ratio:>13.0%}   >= 50%")
    print(f"{'invariants after the load':<52} {'held':>14}   "
          f"{checked['scrolls']} scrolls, {checked['full_scrolls']} filled and rolled over")  # fmt: skip
    print(
        f"  ({args.clients} client threads and the server share this machine's {os.cpu_count()} cores: with "
        "200 threads on 2 cores the figure is the server's throughput, not a client's latency; the ceiling "
        f"uses as many connections as the server has threads ({connections}), the concurrency PostgreSQL sees)"
    )
    report_figure("letters allocated a second (app)", app_letters, "letters/s")
    report_figure("orders a second (app)", app_orders, "orders/s")
    report_figure("letters a second, same SQL direct (ceiling)", top_letters, "letters/s")
    report_figure("app / ceiling", ratio * 100, "%", ratio=ratio, target=">= 50%", met=ratio >= 0.5)
    report_figure("invariants after the load", checked["letters"], "letters", target="no repeat, no gap",
                  met=True)  # fmt: skip


def parse():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    steps = ["main", "prepare", "check", "capture", "ceiling", "drop"]
    parser.add_argument("step", nargs="?", default="main", choices=steps)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--web-share", type=float, default=0.5, help="the share of clients using the web pages")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn gthread workers")
    parser.add_argument("--threads", type=int, default=8, help="threads per gunicorn worker")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--output")
    parser.add_argument("--captured")
    parser.add_argument("--connections", type=int)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse()
    if arguments.step == "main":
        main(arguments)
    else:
        setup_django()
        {"prepare": prepare, "check": check, "capture": capture, "ceiling": ceiling, "drop": drop}[arguments.step](
            arguments
        )
