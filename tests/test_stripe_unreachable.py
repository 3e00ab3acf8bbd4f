"""Stripe unreachable (its address a closed port): every door answers a translated 503, or the
page as it is, never a 500, and nothing changes. A NUL in the return URL never reaches PostgreSQL."""

import pytest
from rest_framework.test import APIClient

from allocation.models import Order
from allocation.services import order_mark_paid
from payments.models import Payment, PaymentProvider, PaymentStatus

from .conftest import make_user
from .factories import make_order

pytestmark = pytest.mark.django_db

CARD_UNAVAILABLE_HE = "תשלום בכרטיס אינו זמין כרגע"


@pytest.fixture
def stripe_unreachable(settings):
    settings.STRIPE_SECRET_KEY = "sk_test_unitysefer"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_unitysefer"
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # the discard port: nothing listens
    settings.STRIPE_MAX_NETWORK_RETRIES = 0


def card_attempt(order, reference="pi_Unreachable1"):
    return Payment.objects.create(
        order=order, provider=PaymentProvider.STRIPE, amount=order.amount, currency=order.currency, reference=reference
    )


def test_an_api_order_by_card_answers_a_translated_503(stripe_unreachable, campaigns):
    payload = {
        "campaign": "idf",
        "buyer": {"name": "Rivka", "email": "rivka@example.org"},
        "names": [{"hebrew_name": "משה", "parent_hebrew_name": "מרים", "gender": "m"}],
        "payment": {"method": "stripe"},
        "consent": True,
    }
    response = APIClient().post("/api/v1/orders/", payload, format="json", HTTP_ACCEPT_LANGUAGE="he")
    assert response.status_code == 503
    assert response.json()["detail"].startswith(CARD_UNAVAILABLE_HE)
    # The order placed stays pending without money, and expires as any unpaid order does.
    order = Order.objects.get()
    assert order.status == "pending" and not order.payments.exclude(reference="").exists()


def test_the_pay_page_answers_a_translated_503(stripe_unreachable, campaigns, client):
    order = make_order(campaigns["idf"], 1)
    response = client.get(f"/orders/{order.token}/pay/", HTTP_ACCEPT_LANGUAGE="he")
    assert response.status_code == 503 and CARD_UNAVAILABLE_HE in response.content.decode()

    card_attempt(make_order(campaigns["idf"], 1))  # an attempt to resume, its secret not at hand
    resumed = Payment.objects.get(reference="pi_Unreachable1").order
    response = client.get(f"/orders/{resumed.token}/pay/", HTTP_ACCEPT_LANGUAGE="he")
    assert response.status_code == 503 and CARD_UNAVAILABLE_HE in response.content.decode()


def test_the_orders_page_shows_the_order_as_it_is(stripe_unreachable, campaigns, client):
    order = make_order(campaigns["idf"], 1)
    payment = card_attempt(order)
    response = client.get(f"/orders/{order.token}/?payment_intent={payment.reference}&redirect_status=succeeded")
    assert response.status_code == 200 and 'href="/orders/' in response.content.decode()
    assert (Order.objects.get(pk=order.pk).status, Payment.objects.get(pk=payment.pk).status) == ("pending", "created")


def test_a_nul_in_the_return_url_gets_the_page_not_an_error(campaigns, client):
    order = make_order(campaigns["idf"], 1)
    for value in ("%00", "pi_%00abc", "%00" * 300):
        response = client.get(f"/orders/{order.token}/?payment_intent={value}&redirect_status=succeeded")
        assert response.status_code == 200


def test_the_admins_refund_says_stripe_could_not_be_reached_and_changes_nothing(stripe_unreachable, campaigns, client):
    order = make_order(campaigns["idf"], 1)
    payment = card_attempt(order)
    Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.SUCCEEDED)
    order_mark_paid(order_id=order.pk)
    client.force_login(make_user("cashier", is_staff=True, permissions=["payments.change_payment"]))

    response = client.post(
        "/admin/payments/payment/",
        {"action": "refund", "_selected_action": [payment.pk]},
        follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    assert "Stripe could not be reached or refused the refund" in response.content.decode()
    payment.refresh_from_db()
    assert (payment.status, payment.amount_refunded) == ("succeeded", 0)
    assert Order.objects.get(pk=order.pk).status == "paid"
