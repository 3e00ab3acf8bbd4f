"""Gifts delivered by a real Celery worker, killed (SIGKILL) in the middle of a batch: a restarted
worker gets the task back (never acknowledged), and in the end every recipient got exactly one
e-card. The approach of tests/test_siyum_worker.py: the test holds the row lock of one gift from
a connection of its own, so the worker delivers the gifts before it and waits there."""

import os
import re
import signal
import time
from collections import Counter

import psycopg2
import pytest

from allocation.models import Gift, GiftState
from allocation.services import order_allocate, order_mark_paid
from gifts.tasks import deliver_due_gifts

from .celery_workers import VISIBILITY_TIMEOUT, broker, wait_for, worker_processes  # noqa: F401 (fixture)
from .factories import make_order, name_data
from .test_siyum_worker import _psycopg2_params, _waiting_on_a_lock

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

GIFTS = 6
BLOCKED_AT = 4  # the worker delivers the first three, then waits on the fourth


def delivered_by_address(mail_dir):
    recipients = Counter()
    for path in mail_dir.iterdir():
        recipients.update(re.findall(r"^To: (.+)$", path.read_text(), flags=re.M))
    return recipients


def test_a_worker_killed_mid_batch_delivers_every_gift_exactly_once(broker, campaigns, tmp_path):
    names = [
        name_data(index, gift={"recipient_name": f"R {index}", "recipient_email": f"recipient{index}@example.org"})
        for index in range(GIFTS)
    ]
    order = make_order(campaigns["idf"], names=names)
    order_mark_paid(order_id=order.pk)
    order_allocate(order_id=order.pk)
    gifts = Gift.objects.filter(name__order=order)
    assert gifts.count() == GIFTS
    for queue in ("celery", "certificates", "notifications"):
        broker.delete(queue)  # what the payment queued (the order's own gifts task among it)
    deliver_due_gifts.delay()  # the beat's run: every gift is due

    blocked = gifts.order_by("id")[BLOCKED_AT - 1]
    holder = psycopg2.connect(**_psycopg2_params())
    with holder.cursor() as cursor:
        cursor.execute("SELECT id FROM allocation_gift WHERE id = %s FOR UPDATE", [blocked.pk])
    delivered = gifts.filter(state=GiftState.DELIVERED)

    with worker_processes(tmp_path, queue="celery") as start:
        first = start("first")
        wait_for(lambda: delivered.count() == BLOCKED_AT - 1, timeout=60, what="the first three gifts")
        wait_for(_waiting_on_a_lock, timeout=30, what="the worker to wait on the held gift")
        os.killpg(first.pid, signal.SIGKILL)  # the worker and its pool process, mid-batch
        first.wait()
        assert delivered.count() == BLOCKED_AT - 1
        assert broker.hlen("unacked") == 1 and broker.llen("celery") == 0  # taken, never acknowledged
        holder.rollback()
        holder.close()

        time.sleep(VISIBILITY_TIMEOUT + 0.5)
        second = start("second")
        wait_for(lambda: delivered.count() == GIFTS, timeout=120, what="every gift")
        wait_for(lambda: broker.hlen("unacked") == 0 and broker.llen("celery") == 0, timeout=30,
                 what="the task to finish")  # fmt: skip
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)

    sent = delivered_by_address(tmp_path / "mail")
    expected = {f"recipient{index}@example.org" for index in range(GIFTS)}
    assert {address for address in sent if address.startswith("recipient")} == expected, "nobody missed"
    assert all(sent[address] == 1 for address in expected), f"nobody twice: {sent}"
    assert sent[order.buyer_email] == GIFTS  # the buyer told of each, once
