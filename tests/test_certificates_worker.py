"""A real Celery worker, killed (SIGKILL) in the middle of a large order's certificates: a
restarted worker gets the task back (it was never acknowledged) and the order ends with one
certificate per name and one email. The workers run as separate processes on the test Redis
against the test database, as in production."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from django.db import connection

from allocation.services import order_fulfil
from certificates.models import Certificate, OrderCertificates

from .factories import make_order

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
# Large enough that the worker is still drawing when the first batch is committed (25 names a
# batch, tens of milliseconds a certificate), so the kill always lands mid-task.
NAMES = 400
# A task of a dead worker goes back to the queue after this many seconds (production: an hour).
VISIBILITY_TIMEOUT = 4


@pytest.fixture
def broker(settings):
    """Tasks go to Redis (the test settings otherwise run them in-process)."""
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("needs Redis (make test provides it)")
    from unitysefer.celery import app

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    keys = ["certificates", "celery", "unacked", "unacked_index", "unacked_mutex"]
    client.delete(*keys)  # only test runs use this Redis database: start from an empty queue
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield client
    app.conf.task_always_eager = eager
    client.delete(*keys)


@pytest.fixture
def workers(tmp_path, settings):
    """Start Celery workers on the certificates queue, against the test database; each is
    killed at the end if it is still running."""
    if connection.vendor != "postgresql" or "DATABASE_URL" not in os.environ:
        pytest.skip("needs PostgreSQL from DATABASE_URL (make test provides it)")
    started = []
    database_url = urlsplit(os.environ["DATABASE_URL"])
    env = {
        **os.environ,
        # The same server and options as this process, the test database's name.
        "DATABASE_URL": urlunsplit(database_url._replace(path="/" + connection.settings_dict["NAME"])),
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        "CERTIFICATES_ROOT": str(settings.STORAGES["certificates"]["OPTIONS"]["location"]),
        "EMAIL_URL": f"filemail:///{tmp_path / 'mail'}",
    }

    def start(name):
        with open(tmp_path / f"{name}.log", "wb") as log:  # the worker keeps its own copy
            process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "unitysefer", "worker", "-Q", "certificates",
                 "--concurrency", "1", "--prefetch-multiplier", "1", "--without-gossip", "--without-mingle",
                 "--without-heartbeat", "-n", f"{name}@%h", "--loglevel", "INFO"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    for log in sorted(tmp_path.glob("*.log")):  # shown by pytest when the test failed
        print(f"--- {log.name}\n{log.read_text(errors='replace')[-4000:]}")


def wait_for(condition, *, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def test_a_worker_killed_mid_order_loses_no_certificate(campaigns, broker, workers, settings, tmp_path):
    settings.CERTIFICATES_ISSUE_WHEN_ALLOCATED = True  # as in production (off for other tests)
    order = make_order(campaigns["idf"], NAMES)
    order_fulfil(order_id=order.pk)  # paid and allocated; the certificates task is queued on commit
    assert broker.llen("certificates") == 1
    issued = Certificate.objects.filter(name__order=order)

    first = workers("first")
    at_kill = wait_for(issued.count, timeout=60, what="the first batch of certificates")
    os.killpg(first.pid, signal.SIGKILL)  # the worker and its pool process, mid-task
    first.wait()
    at_kill = max(at_kill, issued.count())
    assert 0 < at_kill < NAMES, "the worker was not killed in the middle of the order"
    # The task was taken and never acknowledged: Redis still holds it for redelivery.
    assert broker.hlen("unacked") == 1 and broker.llen("certificates") == 0

    time.sleep(VISIBILITY_TIMEOUT + 0.5)
    second = workers("second")
    state = OrderCertificates.objects.filter(order=order, completed_at__isnull=False)
    wait_for(state.exists, timeout=120, what="the restarted worker to finish the order")
    second.send_signal(signal.SIGTERM)

    names = order.names.count()
    assert issued.count() == names == NAMES
    assert issued.values("name").distinct().count() == NAMES
    storage = issued.first().file.storage
    for certificate in issued:
        assert storage.size(certificate.file.name) == certificate.size > 1000
    with issued.first().file.open("rb") as file:
        assert file.read(5) == b"%PDF-"
    # One email, once: with 400 certificates, a link to them all rather than attachments.
    mails = list((tmp_path / "mail").iterdir())
    assert len(mails) == 1
    assert f"/orders/{order.token}/certificates/booklet.pdf" in mails[0].read_text()
    assert broker.hlen("unacked") == 0
