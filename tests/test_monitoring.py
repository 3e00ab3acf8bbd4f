"""Monitoring (issue 21): errors to a Sentry-compatible server without personal data, /metrics
behind its token with the figures every process shares, and JSON log lines whose request id
follows the work into the Celery tasks it queued."""

import gzip
import io
import json
import logging
import os
import subprocess
import sys
import threading
import zlib
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sentry_sdk
from django.conf import settings as django_settings
from django.core.cache import cache
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from pythonjsonlogger.json import JsonFormatter

from allocation.models import Order
from allocation.services import Buyer, order_allocate, order_mark_paid, orders_allocate_pending
from certificates.tasks import issue_missing_certificates
from core.logs import RequestIdFilter
from monitoring.sentry import event_scrub, sentry_init
from registrations.services import name_import_check, name_import_create
from scrolls.tasks import repair_progress

from .celery_workers import broker, wait_for, worker_processes  # noqa: F401
from .conftest import make_user
from .factories import make_order

pytestmark = pytest.mark.django_db

TOKEN = "a-metrics-token-for-the-tests"
ROOT = Path(__file__).resolve().parent.parent


def scrape(client, token=TOKEN):
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# --- /metrics ---------------------------------------------------------------------------------


def test_metrics_is_not_there_without_its_token(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


def test_metrics_refuses_a_request_without_the_right_token(client, settings):
    settings.METRICS_TOKEN = TOKEN
    refused = [
        client.get("/metrics"),
        client.get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token"),
        client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}x"),
        client.get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}"),
    ]
    assert [response.status_code for response in refused] == [401] * 4
    assert refused[0]["WWW-Authenticate"].startswith("Bearer")
    assert b"unitysefer" not in b"".join(response.content for response in refused)
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


def test_metrics_counts_a_paid_order_and_its_letters_by_campaign(client, settings, campaigns):
    settings.METRICS_TOKEN = TOKEN
    before = scrape(client)
    order = make_order(campaigns["idf"], name_count=3)
    after_placing = scrape(client)
    assert value(after_placing, "unitysefer_orders_paid_total", campaign="idf") == value(
        before, "unitysefer_orders_paid_total", campaign="idf"
    )
    order_mark_paid(order_id=order.pk)
    order_allocate(order_id=order.pk)
    after = scrape(client)
    assert value(after, "unitysefer_orders_paid_total", campaign="idf") == 1 + value(
        before, "unitysefer_orders_paid_total", campaign="idf"
    )
    assert value(after, "unitysefer_letters_allocated_total", campaign="idf") == 3 + value(
        before, "unitysefer_letters_allocated_total", campaign="idf"
    )
    assert value(after, "unitysefer_orders_paid_total", campaign="sefardi") == value(
        before, "unitysefer_orders_paid_total", campaign="sefardi"
    )
    assert ("unitysefer_orders_paid_total", (("campaign", "sefardi"),)) in after  # every campaign, 0 too


def test_metrics_times_requests_by_view(client, settings):
    settings.METRICS_TOKEN = TOKEN
    labels = {"method": "GET", "view": "healthz", "status": "200"}
    before = value(scrape(client), "unitysefer_http_request_duration_seconds_count", **labels)
    client.get("/healthz/")
    client.get("/healthz/")
    assert value(scrape(client), "unitysefer_http_request_duration_seconds_count", **labels) == before + 2


def test_what_the_apps_announce_is_counted_across_processes(
    client, settings, campaigns, django_capture_on_commit_callbacks
):
    """Sweeper catches, webhook failures and imports refused, counted in Redis (any process's
    scrape reads the same numbers)."""
    settings.METRICS_TOKEN = TOKEN
    settings.STRIPE_WEBHOOK_SECRET = "whsec_monitoring_test"
    before = scrape(client)

    response = client.post(
        "/payments/stripe/webhook/", b"{}", content_type="application/json", HTTP_STRIPE_SIGNATURE="t=1,v1=forged"
    )
    assert response.status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        order = make_order(campaigns["idf"], name_count=2)
        order_mark_paid(order_id=order.pk)  # paid, its allocation lost: the sweeper's work
        assert orders_allocate_pending(older_than_seconds=0) == 1
    shliach = make_user("monitored-shliach")
    name_import = name_import_create(
        user=shliach, campaign=campaigns["idf"], source_name="names.csv", content=b"hebrew_name,gender\n,q\n"
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert name_import_check(import_id=name_import.pk).status == "refused"

    after = scrape(client)
    for name, labels, added in [
        ("unitysefer_stripe_webhook_failures_total", {"reason": "bad_signature"}, 1),
        ("unitysefer_stripe_webhook_failures_total", {"reason": "error"}, 0),
        ("unitysefer_sweeper_catches_total", {"sweeper": "paid_orders_without_letters"}, 1),
        ("unitysefer_sweeper_catches_total", {"sweeper": "certificates_queued_again"}, 0),
        ("unitysefer_imports_refused_total", {"step": "check"}, 1),
    ]:
        assert value(after, name, **labels) == value(before, name, **labels) + added, (name, labels)


def test_metrics_shows_each_queue_and_how_long_its_oldest_task_has_waited(client, settings, broker):  # noqa: F811
    settings.METRICS_TOKEN = TOKEN
    empty = scrape(client)
    for queue in ["celery", "certificates", "notifications", "imports"]:
        assert value(empty, "unitysefer_celery_queue_length", queue=queue) == 0
        assert ("unitysefer_celery_queue_oldest_task_age_seconds", (("queue", queue),)) in empty
    repair_progress.delay()
    repair_progress.delay()
    waiting = scrape(client)
    assert value(waiting, "unitysefer_celery_queue_length", queue="celery") == 2
    assert value(waiting, "unitysefer_celery_queue_length", queue="certificates") == 0
    assert 0 < value(waiting, "unitysefer_celery_queue_oldest_task_age_seconds", queue="celery") < 600
    assert value(waiting, "unitysefer_celery_queue_oldest_task_age_seconds", queue="certificates") == 0


# --- Logs -------------------------------------------------------------------------------------


def test_a_request_id_is_made_or_taken_from_the_proxy_and_said_in_the_answer(client):
    made = client.get("/healthz/")["X-Request-ID"]
    assert len(made) == 32 and made != client.get("/healthz/")["X-Request-ID"]
    assert client.get("/healthz/", HTTP_X_REQUEST_ID="proxy-1234-abcd")["X-Request-ID"] == "proxy-1234-abcd"
    for unsafe in ["short", "with space in it", "x" * 200, "<script>alert(1)</script>"]:
        answered = client.get("/healthz/", HTTP_X_REQUEST_ID=unsafe)["X-Request-ID"]
        assert answered != unsafe and len(answered) == 32


def test_json_log_lines_carry_the_request_id_into_the_task_it_queued(client, settings, broker, tmp_path):  # noqa: F811
    """LOG_FORMAT=json: the view's line (this process) and the worker's lines (another process,
    started with LOG_FORMAT=json) are JSON objects, one a line, and the task's carry the id of
    the request that queued it."""
    settings.ROOT_URLCONF = "tests.monitoring_urls"
    configured = dict(django_settings.LOGGING["formatters"]["json"])
    configured.pop("()")
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(JsonFormatter(**configured))
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("tests.monitoring")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        response = client.get("/test/log-and-enqueue/", HTTP_X_REQUEST_ID="request-monitoring-0001")
    finally:
        logger.removeHandler(handler)
    assert response["X-Request-ID"] == "request-monitoring-0001"
    (view_line,) = [json.loads(line) for line in lines.getvalue().splitlines()]
    assert view_line["message"] == "Queuing the progress's repair"
    assert view_line["request_id"] == "request-monitoring-0001"
    assert {"time", "level", "logger"} <= set(view_line)

    # --quiet: no banner. Run as root (here, not in the image), Celery warns of it before logging
    # is set up, in plain text.
    environment = {"LOG_FORMAT": "json", "PYTHONWARNINGS": "ignore:You're running the worker with superuser"}
    with worker_processes(tmp_path, queue="celery", env=environment, celery_options=["--quiet"]) as start:
        start("logs")
        log = tmp_path / "logs.log"
        wait_for(
            lambda: "scrolls.tasks.repair_progress" in log.read_text() and "succeeded" in log.read_text(),
            timeout=60,
            what="the worker to run the task",
        )
    records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert all(isinstance(record, dict) for record in records)
    done = [record for record in records if "repair_progress" in record["message"] and "succeeded" in record["message"]]
    assert [record["request_id"] for record in done] == ["request-monitoring-0001"]
    # The worker's own lines, outside any task, carry none.
    assert any(record["request_id"] is None for record in records)


# --- Sentry -----------------------------------------------------------------------------------


class Envelopes(BaseHTTPRequestHandler):
    """A Sentry-compatible endpoint: keeps the body of every envelope posted to it."""

    received: list[bytes] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        elif encoding == "br":
            import brotli

            body = brotli.decompress(body)
        if self.path.endswith("/envelope/"):
            self.received.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def sentry_server():
    Envelopes.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Envelopes)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    sentry_init(dsn=f"http://publickey@127.0.0.1:{server.server_port}/1", environment="test")
    yield Envelopes.received
    # sentry_sdk.init is for the whole process: no other test sends anything.
    sentry_sdk.get_client().close(timeout=2)
    sentry_sdk.get_global_scope().set_client(None)
    server.shutdown()
    server.server_close()


def test_an_error_in_a_view_reaches_sentry_without_the_buyers_data(client, settings, campaigns, sentry_server):
    settings.ROOT_URLCONF = "tests.monitoring_urls"
    email, phone, name = "rivka.cohen@example.org", "+972 50-123-4567", "רבקה כהן"
    order = make_order(campaigns["idf"], buyer=Buyer(name=name, email=email, phone=phone))
    client.raise_request_exception = False
    client.cookies["sessionid"] = "a-session-cookie-value-123456"
    response = client.post(
        f"/orders/{order.token}/fail/?email={email}",
        {"buyer_email": email, "buyer_phone": phone, "buyer_name": name, "english_name": "Rivka Cohen"},
        HTTP_AUTHORIZATION="Token secret-api-token-0123456789",
        HTTP_X_REQUEST_ID="request-sentry-0001",
    )
    assert response.status_code == 500
    sentry_sdk.flush(timeout=5)
    wait_for(lambda: sentry_server, timeout=10, what="the envelope")
    sent = b"\n".join(sentry_server).decode()
    assert "OrderFailure" in sent and "/orders/{token}/fail/" in sent and "request-sentry-0001" in sent
    for personal in [email, "rivka.cohen", phone, "50-123-4567", name, "רבקה", "Rivka Cohen", order.token,
                     "a-session-cookie-value-123456", "secret-api-token-0123456789"]:  # fmt: skip
        assert personal not in sent, personal
        assert json.dumps(personal)[1:-1] not in sent, personal  # as JSON escapes it


def test_the_certificates_sweeper_s_catches_are_counted(client, settings, campaigns, broker):  # noqa: F811
    settings.METRICS_TOKEN = TOKEN
    order = make_order(campaigns["idf"], name_count=1)
    order_mark_paid(order_id=order.pk)
    order_allocate(order_id=order.pk)
    # Allocated ten minutes ago, its certificates never issued: a worker died.
    Order.objects.filter(pk=order.pk).update(allocated_at=timezone.now() - timedelta(minutes=10))
    cache.delete(f"certificates:swept:{order.pk}")  # a run before this one may have left it
    labels = {"sweeper": "certificates_queued_again"}
    before = value(scrape(client), "unitysefer_sweeper_catches_total", **labels)
    issue_missing_certificates()
    issue_missing_certificates()  # queued once: the second run leaves it waiting its turn
    assert value(scrape(client), "unitysefer_sweeper_catches_total", **labels) == before + 1
    assert broker.llen("certificates") == 1


# --- Sentry's options ---------------------------------------------------------------------------


def test_sentry_is_started_by_the_settings_only_with_a_dsn():
    script = "import django; django.setup(); import sentry_sdk; print(sentry_sdk.get_client().is_active())"
    answers = []
    for dsn in ["", "http://publickey@127.0.0.1:9/1"]:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "unitysefer.settings", "SENTRY_DSN": dsn}
        result = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        answers.append(result.stdout.strip())
    assert answers == ["False", "True"]


def test_a_failed_task_s_arguments_and_log_messages_are_scrubbed():
    """An event as the Celery and logging integrations make it: a task that takes an address."""
    event = {
        "exception": {"values": [{"type": "SMTPRecipientsRefused", "value": "{'rivka@example.org': (550, b'No')}"}]},
        "extra": {
            "celery-job": {"task_name": "certificates.tasks.send_letters_lookup", "args": ["rivka@example.org", "he"]}
        },
        "logentry": {"message": "Sending to %s (%s)", "params": ["rivka@example.org", "+1 (718) 555-0123"]},
        "breadcrumbs": {"values": [{"message": "לזכות רבקה בת שרה", "timestamp": "2026-12-03T13:47:22.446545Z"}]},
        "contexts": {"trace": {"trace_id": "71e1e00e5e8b45b8ab13cff376b2a662", "span_id": "b83f2d584eb899d7"}},
    }
    scrubbed = json.dumps(event_scrub(event, {}), ensure_ascii=False)
    for personal in ["rivka@example.org", "555-0123", "רבקה", "שרה"]:
        assert personal not in scrubbed
    # What is not personal stays: the task, the year of the breadcrumb's time, the trace.
    for kept in [
        "certificates.tasks.send_letters_lookup",
        "2026-12-03T13:47:22.446545Z",
        "71e1e00e5e8b45b8ab13cff376b2a662",
    ]:
        assert kept in scrubbed
