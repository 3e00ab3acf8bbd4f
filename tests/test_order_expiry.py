"""Pending orders expire: the command and the beat task cancel an order nobody paid within
PENDING_ORDER_TTL_MINUTES, its open PaymentIntent is cancelled at Stripe, money that arrives all
the same still pays it, and the buyer can start again from its page."""

import json
import logging
from datetime import datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
import stripe
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from allocation.models import Letter, Order, OrderCancellation, OrderStatus
from allocation.services import NAME_FIELDS, order_mark_paid
from allocation.tasks import expire_pending_orders
from payments.models import Payment, PaymentStatus
from payments.services import payment_record_offline, payment_start_card
from payments.tasks import cancel_order_card_payments

from .conftest import token_client
from .factories import make_order
from .stripe_helpers import localstripe_url, register_webhook, sign, stripe_server  # noqa: F401


def made_minutes_ago(order, minutes):
    """The order as if placed `minutes` ago."""
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(minutes=minutes))


def made_long_ago(order):
    made_minutes_ago(order, django_settings.PENDING_ORDER_TTL_MINUTES + 1)


def expire():
    out = StringIO()
    call_command("expire_pending_orders", stdout=out)
    return out.getvalue()


def letters_of(order):
    return Letter.objects.filter(name__order=order).count()


def webhooks_held_back(stripe_url):
    """localstripe delivers to a closed port: we hear of a payment only when the test says so."""
    register_webhook(stripe_url, "http://127.0.0.1:9/nowhere/")


def pay_with(client, intent_id, card):
    # localstripe cannot confirm with a payment_method argument: attach it first.
    client.v1.payment_intents.update(intent_id, params={"payment_method": card})
    return client.v1.payment_intents.confirm(intent_id)


def post_webhook(client, event_id, event_type, intent):
    payload = json.dumps({"id": event_id, "type": event_type, "data": {"object": intent}}).encode()
    return client.post(
        "/payments/stripe/webhook/", payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(payload)
    )


@pytest.fixture
def demo(settings):
    settings.DEMO_PAYMENTS = True
    settings.STRIPE_SECRET_KEY = ""


# --- The command, the task and the setting --------------------------------------------------


@pytest.mark.django_db
def test_the_command_cancels_an_order_older_than_the_ttl_as_expired(campaigns):
    order = make_order(campaigns["idf"], 2)
    made_long_ago(order)

    output = expire()

    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert order.cancellation == OrderCancellation.EXPIRED
    assert order.cancelled_at is not None
    assert order.is_expired
    assert output.startswith("1 pending orders")


@pytest.mark.django_db
def test_the_command_leaves_a_fresh_pending_order_pending(campaigns):
    order = make_order(campaigns["idf"], 1)
    made_minutes_ago(order, django_settings.PENDING_ORDER_TTL_MINUTES - 1)

    expire()

    order.refresh_from_db()
    assert (order.status, order.cancelled_at, order.cancellation) == (OrderStatus.PENDING, None, "")
    assert not order.is_expired


@pytest.mark.django_db
def test_the_command_never_touches_a_paid_order(campaigns):
    order = make_order(campaigns["idf"], 1)
    order_mark_paid(order_id=order.pk)
    made_long_ago(order)
    before = Order.objects.get(pk=order.pk)

    expire()

    after = Order.objects.get(pk=order.pk)
    assert (after.status, after.paid_at, after.cancelled_at, after.cancellation) == (
        OrderStatus.PAID,
        before.paid_at,
        None,
        "",
    )


@pytest.mark.django_db
@pytest.mark.parametrize("ttl_minutes, expires", [(5, True), (60, False)])
def test_the_ttl_setting_decides_when_an_order_expires(campaigns, settings, ttl_minutes, expires):
    settings.PENDING_ORDER_TTL_MINUTES = ttl_minutes
    order = make_order(campaigns["idf"], 1)
    made_minutes_ago(order, 10)

    expire()

    order.refresh_from_db()
    assert order.is_expired is expires
    assert order.status == (OrderStatus.CANCELLED if expires else OrderStatus.PENDING)


def test_the_beat_schedule_runs_the_expiry_task_every_minute():
    from unitysefer.celery import app

    entry = django_settings.CELERY_BEAT_SCHEDULE["expire-pending-orders"]
    assert entry["task"] == "allocation.tasks.expire_pending_orders"
    assert entry["schedule"] == 60.0
    assert app.conf.beat_schedule["expire-pending-orders"]["task"] == entry["task"]
    assert expire_pending_orders.name == entry["task"] and entry["task"] in app.tasks


@pytest.mark.django_db
def test_the_beat_task_expires_the_stale_orders(campaigns):
    stale, fresh = make_order(campaigns["idf"], 1), make_order(campaigns["idf"], 1)
    made_long_ago(stale)

    expire_pending_orders.apply().get()

    assert Order.objects.get(pk=stale.pk).is_expired
    assert Order.objects.get(pk=fresh.pk).status == OrderStatus.PENDING


# --- The buyer's page, "start again" and the API --------------------------------------------


@pytest.fixture
def expired_order(campaigns):
    order = make_order(campaigns["beis-rivkah"], 2)
    made_long_ago(order)
    expire()
    order.refresh_from_db()
    assert order.is_expired
    return order


@pytest.mark.django_db
def test_an_expired_orders_page_says_it_expired_and_offers_to_start_again(client, expired_order):
    page = client.get(f"/orders/{expired_order.token}/")

    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="expired"' in html and 'id="cancelled"' not in html
    assert f'action="/orders/{expired_order.token}/again/"' in html
    assert 'id="order-again"' in html and "Start again" in html
    assert "Pay now" not in html


@pytest.mark.django_db
def test_start_again_places_a_new_pending_order_with_the_same_names_and_goes_to_pay_it(client, expired_order):
    response = client.post(f"/orders/{expired_order.token}/again/")

    again = Order.objects.exclude(pk=expired_order.pk).get()
    assert response.status_code == 302 and response["Location"] == f"/orders/{again.token}/pay/"
    assert again.status == OrderStatus.PENDING and again.token != expired_order.token
    same = ("campaign_id", "buyer_name", "buyer_email", "buyer_phone", "channel", "currency", "amount")
    assert [getattr(again, field) for field in same] == [getattr(expired_order, field) for field in same]
    assert list(again.names.order_by("id").values(*NAME_FIELDS)) == list(
        expired_order.names.order_by("id").values(*NAME_FIELDS)
    )
    old = Order.objects.get(pk=expired_order.pk)
    assert old.is_expired and old.names.count() == 2


@pytest.mark.django_db
def test_the_api_says_an_order_expired(campaigns, plain_shliach):
    order = make_order(campaigns["idf"], 1, created_by=plain_shliach)
    made_long_ago(order)
    expire()

    body = token_client(plain_shliach).get(f"/api/v1/orders/{order.pk}/").json()

    assert body["status"] == "cancelled" and body["expired"] is True
    assert body["expires_at"] is None and body["cancelled_at"] is not None
    assert body["links"]["again"].endswith(f"/orders/{order.token}/again/")


@pytest.mark.django_db
def test_the_api_says_when_a_pending_order_expires(campaigns, plain_shliach, settings):
    settings.PENDING_ORDER_TTL_MINUTES = 90
    order = make_order(campaigns["idf"], 1, created_by=plain_shliach)

    body = token_client(plain_shliach).get(f"/api/v1/orders/{order.pk}/").json()

    assert body["status"] == "pending" and body["expired"] is False
    assert body["expires_at"] is not None
    assert datetime.fromisoformat(body["expires_at"]) == order.created_at + timedelta(minutes=90)


# --- Paying an expired order ----------------------------------------------------------------


@pytest.mark.django_db
def test_a_new_card_attempt_for_an_expired_order_is_refused(expired_order, demo):
    with pytest.raises(ValidationError) as refused:
        payment_start_card(order_id=expired_order.pk)

    assert refused.value.code == "order_cancelled"
    assert "start again" in refused.value.messages[0]
    assert not Payment.objects.filter(order=expired_order).exists()


@pytest.mark.django_db
def test_the_pay_page_of_an_expired_order_sends_the_buyer_to_its_page(client, expired_order, demo):
    response = client.get(f"/orders/{expired_order.token}/pay/")

    assert response.status_code == 302 and response["Location"] == f"/orders/{expired_order.token}/"
    assert not Payment.objects.filter(order=expired_order).exists()


@pytest.mark.django_db
def test_an_offline_payment_still_pays_an_expired_order(expired_order, staff_user):
    payment = payment_record_offline(order=expired_order, reference="cheque 77", recorded_by=staff_user)

    order = Order.objects.get(pk=expired_order.pk)
    assert (payment.status, payment.amount) == (PaymentStatus.SUCCEEDED, order.amount)
    assert order.status == OrderStatus.PAID and order.paid_at is not None
    assert order.cancellation == OrderCancellation.EXPIRED  # what happened before stays told
    assert letters_of(order) == 2


# --- Against Stripe (localstripe) -----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_expiry_cancels_the_orders_open_payment_intent_at_stripe(stripe_server, localstripe_url, campaigns):
    webhooks_held_back(localstripe_url)
    order = make_order(campaigns["idf"], 1)
    payment, _ = payment_start_card(order_id=order.pk)
    made_long_ago(order)

    expire()

    assert stripe_server.v1.payment_intents.retrieve(payment.reference).status == "canceled"
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED
    assert order.is_expired


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_an_order_expired_with_its_intent_open_cannot_be_paid_at_stripe_afterwards(
    stripe_server, localstripe_url, campaigns, client
):
    webhooks_held_back(localstripe_url)
    order = make_order(campaigns["idf"], 2)
    payment, _ = payment_start_card(order_id=order.pk)
    made_long_ago(order)
    expire()

    with pytest.raises(stripe.StripeError):
        pay_with(stripe_server, payment.reference, "pm_card_visa")

    # The buyer's return changes nothing: there was no money.
    page = client.get(f"/orders/{order.token}/?payment_intent={payment.reference}&redirect_status=succeeded")
    assert 'id="expired"' in page.content.decode()
    assert stripe_server.v1.payment_intents.retrieve(payment.reference).status == "canceled"
    order.refresh_from_db()
    assert order.is_expired and order.paid_at is None
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.CANCELLED
    assert letters_of(order) == 0


def paid_at_stripe_unheard(stripe_client, stripe_url, order):
    """The buyer pays at Stripe, and its webhook is held back: we have not heard of it."""
    webhooks_held_back(stripe_url)
    payment, _ = payment_start_card(order_id=order.pk)
    assert pay_with(stripe_client, payment.reference, "pm_card_visa").status == "succeeded"
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.CREATED
    return payment


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_money_paid_before_the_expiry_is_heard_of_pays_the_expired_order(
    stripe_server, localstripe_url, campaigns, caplog
):
    order = make_order(campaigns["idf"], 2)
    payment = paid_at_stripe_unheard(stripe_server, localstripe_url, order)
    made_long_ago(order)

    with caplog.at_level(logging.WARNING, logger="payments.services"):
        expire()

    # Stripe would not cancel a PaymentIntent that succeeded: it was asked about instead.
    assert any("could not be cancelled at the provider" in record.getMessage() for record in caplog.records)
    assert stripe_server.v1.payment_intents.retrieve(payment.reference).status == "succeeded"
    payment.refresh_from_db()
    order.refresh_from_db()
    assert (payment.status, payment.flagged_reason) == (PaymentStatus.SUCCEEDED, "")
    assert order.status == OrderStatus.PAID and order.paid_at is not None
    assert order.cancellation == OrderCancellation.EXPIRED and order.cancelled_at is not None
    assert letters_of(order) == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_the_return_page_and_the_late_webhook_after_a_paid_expiry_change_nothing_more(
    stripe_server, localstripe_url, campaigns, client
):
    order = make_order(campaigns["idf"], 2)
    payment = paid_at_stripe_unheard(stripe_server, localstripe_url, order)
    made_long_ago(order)
    expire()
    positions = sorted(Letter.objects.filter(name__order=order).values_list("position", flat=True))
    assert len(positions) == 2

    page = client.get(f"/orders/{order.token}/?payment_intent={payment.reference}&redirect_status=succeeded")
    assert page.content.decode().count('class="letter-row"') == 2
    intent = stripe_server.v1.payment_intents.retrieve(payment.reference).to_dict()
    response = post_webhook(client, "evt_late_after_expiry", "payment_intent.succeeded", intent)

    assert response.status_code == 200
    assert sorted(Letter.objects.filter(name__order=order).values_list("position", flat=True)) == positions
    assert Letter.objects.count() == 2
    assert Payment.objects.get(pk=payment.pk).flagged_reason == ""
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_success_webhook_for_an_order_already_expired_pays_it(
    stripe_server, localstripe_url, campaigns, client, monkeypatch
):
    order = make_order(campaigns["idf"], 3)
    payment = paid_at_stripe_unheard(stripe_server, localstripe_url, order)

    # The broker is down as the order expires: nobody asks Stripe about its payment then.
    def broker_down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(cancel_order_card_payments, "delay", broker_down)
    made_long_ago(order)
    expire()
    order.refresh_from_db()
    assert order.is_expired and Payment.objects.get(pk=payment.pk).status == PaymentStatus.CREATED

    intent = stripe_server.v1.payment_intents.retrieve(payment.reference).to_dict()
    response = post_webhook(client, "evt_paid_after_expiry", "payment_intent.succeeded", intent)

    assert response.status_code == 200
    assert response.content == f"payment {payment.pk} succeeded".encode()
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and order.amount == Decimal("54.00")
    assert Payment.objects.get(pk=payment.pk).flagged_reason == ""
    assert letters_of(order) == 3
