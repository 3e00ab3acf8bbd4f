"""The buyer's pages ask Stripe about an order at most once per STRIPE_SYNC_INTERVAL_SECONDS,
however often they are read: counted in localstripe's own log of the requests it answered."""

import time

import pytest
from django.core.cache import cache

from allocation.models import Letter, Order
from payments.models import Payment
from payments.services import payment_start_card

from .factories import make_order
from .stripe_helpers import (  # noqa: F401
    localstripe_url,
    register_webhook,
    stripe_requests,
    stripe_requests_forget,
    stripe_server,
)
from .test_payments_stripe import pay_with

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def asked_about(localstripe_url, payment):
    return stripe_requests(localstripe_url).count(f"GET /v1/payment_intents/{payment.reference}")


def test_the_orders_page_asks_stripe_once_per_interval_however_often_it_is_read(
    stripe_server, localstripe_url, campaigns, client, settings
):
    settings.STRIPE_SYNC_INTERVAL_SECONDS = 5  # long enough for a busy machine to read the page 8 times
    register_webhook(localstripe_url, "http://127.0.0.1:9/nowhere/")  # only the page tells us
    order = make_order(campaigns["idf"], 1)
    payment, _ = payment_start_card(order_id=order.pk)
    stripe_requests_forget(localstripe_url)

    for _ in range(5):
        assert client.get(f"/orders/{order.token}/?payment_intent={payment.reference}").status_code == 200
    assert asked_about(localstripe_url, payment) == 1

    # Paid meanwhile: the next read after the interval asks again, and shows the letters.
    pay_with(stripe_server, payment.reference, "pm_card_visa")
    stripe_requests_forget(localstripe_url)
    for _ in range(3):
        client.get(f"/orders/{order.token}/")
    assert asked_about(localstripe_url, payment) == 0 and Order.objects.get(pk=order.pk).status == "pending"
    time.sleep(5.1)
    page = client.get(f"/orders/{order.token}/").content.decode()
    assert page.count('class="letter-row"') == 1 and Letter.objects.filter(name__order=order).count() == 1
    for _ in range(3):  # paid: nothing more to ask
        client.get(f"/orders/{order.token}/")
    assert asked_about(localstripe_url, payment) == 1


def test_the_pay_page_asks_stripe_nothing_once_the_intent_is_made(stripe_server, localstripe_url, campaigns, client):
    order = make_order(campaigns["idf"], 1)
    stripe_requests_forget(localstripe_url)
    pages = [client.get(f"/orders/{order.token}/pay/") for _ in range(5)]
    payment = Payment.objects.get(order=order)
    assert stripe_requests(localstripe_url) == ["POST /v1/payment_intents"]  # made once, then kept
    secret = stripe_server.v1.payment_intents.retrieve(payment.reference).client_secret
    assert all(f'data-client-secret="{secret}"' in page.content.decode() for page in pages)

    # The kept secret lost (Redis restarted, say): asked once, then kept again.
    cache.delete(f"payments:client-secret:{payment.reference}")
    stripe_requests_forget(localstripe_url)
    for _ in range(3):
        assert client.get(f"/orders/{order.token}/pay/").status_code == 200
    assert stripe_requests(localstripe_url) == [f"GET /v1/payment_intents/{payment.reference}"]

    # Lost again within the interval: neither page asks Stripe; the pay page says to come back.
    cache.delete(f"payments:client-secret:{payment.reference}")
    stripe_requests_forget(localstripe_url)
    assert client.get(f"/orders/{order.token}/").status_code == 200
    response = client.get(f"/orders/{order.token}/pay/", HTTP_ACCEPT_LANGUAGE="he")
    assert response.status_code == 503 and "תשלום בכרטיס אינו זמין כרגע" in response.content.decode()
    assert stripe_requests(localstripe_url) == []
