"""Real Celery workers for the tests that kill one mid-task: separate processes on the test
Redis, against the test database, as in production."""

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
# A task of a dead worker goes back to the queue after this many seconds (production: an hour).
VISIBILITY_TIMEOUT = 4
# Every queue and kombu's bookkeeping: only test runs use this Redis database.
BROKER_KEYS = ["celery", "certificates", "notifications", "imports", "unacked", "unacked_index", "unacked_mutex"]


@pytest.fixture
def broker(settings):
    """Tasks go to Redis (the test settings otherwise run them in-process), from empty queues."""
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("needs Redis (make test provides it)")
    from unitysefer.celery import app

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete(*BROKER_KEYS)
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield client
    app.conf.task_always_eager = eager
    client.delete(*BROKER_KEYS)


@contextmanager
def worker_processes(tmp_path, *, queue, env=None, celery_options=()):
    """Gives `start(name)`, which starts a worker on `queue` (one process, one task at a time;
    `celery_options` before the `worker` command, e.g. "--quiet");
    every worker still running at the end is killed, and the logs are printed (pytest shows them
    when the test failed). Mail goes to files in tmp_path / "mail"."""
    if connection.vendor != "postgresql" or "DATABASE_URL" not in os.environ:
        pytest.skip("needs PostgreSQL from DATABASE_URL (make test provides it)")
    database_url = urlsplit(os.environ["DATABASE_URL"])
    environment = {
        **os.environ,
        # The same server and options as this process, the test database's name.
        "DATABASE_URL": urlunsplit(database_url._replace(path="/" + connection.settings_dict["NAME"])),
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        "EMAIL_URL": f"filemail:///{tmp_path / 'mail'}",
        **(env or {}),
    }
    started = []

    def start(name):
        with open(tmp_path / f"{name}.log", "wb") as log:  # the worker keeps its own copy
            process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "unitysefer", *celery_options, "worker", "-Q", queue,
                 "--concurrency", "1", "--prefetch-multiplier", "1", "--without-gossip", "--without-mingle",
                 "--without-heartbeat", "-n", f"{name}@%h", "--loglevel", "INFO"],
                cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for log in sorted(tmp_path.glob("*.log")):
            print(f"--- {log.name}\n{log.read_text(errors='replace')[-4000:]}")


def wait_for(condition, *, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")
