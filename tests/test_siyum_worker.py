"""The siyum's notices sent by a real Celery worker, killed (SIGKILL) in the middle of a batch: a
restarted worker gets the task back (it was never acknowledged), carries on from the first
address not sent, and in the end everyone holding a letter in the scroll got exactly one email.

To kill the worker at a known point of the batch, the test holds the row lock of one address's
notice from a connection of its own: the worker sends the addresses before it and waits there.
The mail goes to files (Django's file backend), counted across processes."""

import datetime
import os
import re
import signal
import time
from collections import Counter

import psycopg2
import pytest
from django.db import connection

from allocation.models import Order
from allocation.services import Buyer, order_fulfil
from scrolls.models import Campaign, ScrollState
from scrolls.seed import DEFAULT_CAMPAIGNS
from scrolls.services import campaigns_seed
from siyum.models import SiyumNotice
from siyum.services import scroll_siyum_hold

from .celery_workers import VISIBILITY_TIMEOUT, broker, wait_for, worker_processes  # noqa: F401 (fixture)
from .conftest import make_user
from .factories import make_order, name_data, shrink_open_scroll

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BATCH = 10
HOLDERS = 30  # addresses buying letters; with the four honourees, 34 notices in four batches
BLOCKED_AT = 8  # the worker sends the first seven of its first batch, then waits on the eighth


@pytest.fixture
def notices_workers(tmp_path):
    """Celery workers on the notifications queue, sending batches of BATCH with a short pause."""
    env = {"SIYUM_NOTICE_BATCH_SIZE": str(BATCH), "SIYUM_NOTICE_BATCH_INTERVAL": "0.3"}
    with worker_processes(tmp_path, queue="notifications", env=env) as start:
        yield start


def sent_by_address(mail_dir):
    """Every message the file backend wrote, by recipient."""
    recipients = Counter()
    for path in mail_dir.iterdir():
        recipients.update(re.findall(r"^To: (.+)$", path.read_text(), flags=re.M))
    return recipients


def test_a_worker_killed_mid_batch_sends_nobody_two_notices_and_misses_nobody(broker, notices_workers, tmp_path):
    campaigns_seed(campaigns=DEFAULT_CAMPAIGNS)
    campaign = Campaign.objects.get(slug="idf")
    scroll = shrink_open_scroll(campaign, HOLDERS + 10)  # 36 letters to sell, 4 honour letters
    staff = make_user("staff", is_staff=True)
    for index in range(HOLDERS + 6):  # six addresses buy twice, once in capitals
        email = f"holder{index % HOLDERS}@example.org"
        order = make_order(campaign, 1, buyer=Buyer(name="B", email=email.upper() if index >= HOLDERS else email))
        order_fulfil(order_id=order.pk)
    scroll.refresh_from_db()
    assert scroll.state == ScrollState.FULL
    broker.delete("celery")  # the buyers' confirmations: not what this test counts

    honours = {
        position: {"name": name_data(index), "email": f"honouree{position}@example.org"}
        for index, position in enumerate([1, 2, HOLDERS + 9, HOLDERS + 10])
    }
    siyum = scroll_siyum_hold(
        scroll_id=scroll.pk, held_on=datetime.date.today(), place="Kfar Chabad", honours=honours, held_by=staff
    )
    expected = {f"holder{i}@example.org" for i in range(HOLDERS)} | {h["email"] for h in honours.values()}
    notices = SiyumNotice.objects.filter(siyum=siyum)
    assert set(notices.values_list("email", flat=True)) == expected and notices.count() == len(expected)
    assert broker.llen("notifications") == 1

    # Hold the eighth address's row from a connection of our own: the worker stops there.
    blocked = notices.order_by("id")[BLOCKED_AT - 1]
    holder = psycopg2.connect(**_psycopg2_params())
    with holder.cursor() as cursor:
        cursor.execute("SELECT id FROM siyum_siyumnotice WHERE id = %s FOR UPDATE", [blocked.pk])
    sent = notices.filter(sent_at__isnull=False)

    first = notices_workers("first")
    wait_for(lambda: sent.count() == BLOCKED_AT - 1, timeout=60, what="the first seven notices")
    wait_for(lambda: _waiting_on_a_lock(), timeout=30, what="the worker to wait on the held row")
    os.killpg(first.pid, signal.SIGKILL)  # the worker and its pool process, mid-batch
    first.wait()
    assert sent.count() == BLOCKED_AT - 1
    assert broker.hlen("unacked") == 1 and broker.llen("notifications") == 0  # taken, never acknowledged
    holder.rollback()
    holder.close()

    time.sleep(VISIBILITY_TIMEOUT + 0.5)
    second = notices_workers("second")
    wait_for(lambda: not notices.filter(sent_at__isnull=True).exists(), timeout=120, what="every notice")
    wait_for(lambda: broker.hlen("unacked") == 0 and broker.llen("notifications") == 0, timeout=30,
             what="the last batch to finish")  # fmt: skip
    second.send_signal(signal.SIGTERM)
    second.wait(timeout=30)

    delivered = sent_by_address(tmp_path / "mail")
    assert set(delivered) == expected, "nobody missed"
    assert max(delivered.values()) == 1, f"nobody twice: {[a for a, n in delivered.items() if n > 1]}"
    assert len(list((tmp_path / "mail").iterdir())) >= 4  # one file per batch: the throttle's batches
    assert Order.objects.filter(campaign=campaign).count() == HOLDERS + 6 + 4


def _psycopg2_params():
    settings = connection.settings_dict
    return {
        "dbname": settings["NAME"],
        "user": settings["USER"],
        "password": settings["PASSWORD"],
        "host": settings["HOST"],
        "port": settings["PORT"],
    }


def _waiting_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0
