"""Card payments against a real Stripe-compatible server (localstripe) delivering signed
webhooks to the app under test: each outcome happens exactly once, whatever the order of news."""

import json
import urllib.parse
import urllib.request

import pytest
import stripe
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from allocation.models import Letter, Order
from payments.models import Payment, StripeEvent
from payments.services import order_sync_card_payments, payment_refund, payment_start_card

from .factories import make_order
from .stripe_helpers import localstripe_url, register_webhook, sign, stripe_server, wait_until  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def pay_with(client, intent_id, card):
    # localstripe cannot confirm with a payment_method argument: attach it first.
    client.v1.payment_intents.update(intent_id, params={"payment_method": card})
    return client.v1.payment_intents.confirm(intent_id)


def event_processed(intent_id, event_type="payment_intent.succeeded"):
    # Name the type: localstripe sends other events for the same intent (e.g. its creation).
    return lambda: StripeEvent.objects.filter(
        payment_intent_id=intent_id, type=event_type, processed_at__isnull=False
    ).exists()


def test_successful_card_payment_is_fulfilled_by_the_webhook(stripe_server, campaigns):
    order = make_order(campaigns["idf"], 2)
    payment, client_secret = payment_start_card(order_id=order.pk)
    assert payment.reference.startswith("pi_") and client_secret
    intent = stripe_server.v1.payment_intents.retrieve(payment.reference)
    assert (intent.amount, intent.currency, intent.metadata["order_id"]) == (3600, "ils", str(order.pk))

    assert pay_with(stripe_server, payment.reference, "pm_card_visa").status == "succeeded"
    assert wait_until(event_processed(payment.reference))
    order.refresh_from_db()
    payment.refresh_from_db()
    assert order.status == "paid" and payment.status == "succeeded"
    assert Letter.objects.filter(name__order=order).count() == 2


def test_declined_card_marks_the_attempt_failed_and_the_buyer_can_try_again(stripe_server, campaigns):
    order = make_order(campaigns["sefardi"], 1)
    first, _ = payment_start_card(order_id=order.pk)
    with pytest.raises(stripe.CardError):
        pay_with(stripe_server, first.reference, "pm_card_chargeCustomerFail")
    assert wait_until(event_processed(first.reference, "payment_intent.payment_failed"))
    first.refresh_from_db()
    order.refresh_from_db()
    assert first.status == "failed" and order.status == "pending"
    assert not Letter.objects.exists()

    second, _ = payment_start_card(order_id=order.pk)
    assert second.pk != first.pk
    pay_with(stripe_server, second.reference, "pm_card_visa")
    # Paid, then allocated: the webhook commits the two one after the other.
    assert wait_until(lambda: Order.objects.get(pk=order.pk).allocated_at is not None)
    assert Order.objects.get(pk=order.pk).status == "paid"
    assert Letter.objects.filter(name__order=order).count() == 1
    assert Payment.objects.filter(order=order).count() == 2  # attempts are kept


def test_a_duplicate_delivery_changes_nothing_more(stripe_server, campaigns, client):
    order = make_order(campaigns["idf"], 3)
    payment, _ = payment_start_card(order_id=order.pk)
    pay_with(stripe_server, payment.reference, "pm_card_visa")
    assert wait_until(event_processed(payment.reference))
    event = StripeEvent.objects.get(payment_intent_id=payment.reference, type="payment_intent.succeeded")
    intent = stripe_server.v1.payment_intents.retrieve(payment.reference).to_dict()
    payload = json.dumps({"id": event.event_id, "type": event.type, "data": {"object": intent}}).encode()
    for _ in range(2):
        response = client.post(
            "/payments/stripe/webhook/", payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(payload)
        )
        assert response.status_code == 200 and response.content == b"duplicate"
    # The same news under a new event id is processed, and still changes nothing more.
    replay = json.dumps({"id": "evt_replayed", "type": event.type, "data": {"object": intent}}).encode()
    response = client.post(
        "/payments/stripe/webhook/", replay, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(replay)
    )
    assert response.status_code == 200
    assert Letter.objects.filter(name__order=order).count() == 3
    assert Payment.objects.get(pk=payment.pk).flagged_reason == ""


def test_return_page_before_the_webhook_shows_letters_and_the_webhook_then_changes_nothing(
    stripe_server, localstripe_url, campaigns, client
):
    # Hold the webhook back (localstripe delivers to a closed port), so the buyer's return
    # comes first whatever the machine's load; then deliver the event late, signed.
    register_webhook(localstripe_url, "http://127.0.0.1:9/nowhere/")
    order = make_order(campaigns["beis-rivkah"], 2)
    payment, _ = payment_start_card(order_id=order.pk)
    pay_with(stripe_server, payment.reference, "pm_card_visa")
    page = client.get(f"/orders/{order.token}/?payment_intent={payment.reference}&redirect_status=succeeded")
    assert page.status_code == 200
    assert page.content.decode().count('class="letter-row"') == 2
    positions = sorted(Letter.objects.filter(name__order=order).values_list("position", flat=True))
    assert positions == [1, 2]

    intent = stripe_server.v1.payment_intents.retrieve(payment.reference).to_dict()
    late = json.dumps({"id": "evt_late", "type": "payment_intent.succeeded", "data": {"object": intent}}).encode()
    response = client.post(
        "/payments/stripe/webhook/", late, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(late)
    )
    assert response.status_code == 200
    assert sorted(Letter.objects.filter(name__order=order).values_list("position", flat=True)) == positions
    assert Letter.objects.count() == 2
    assert Payment.objects.get(pk=payment.pk).flagged_reason == ""


def fail_authentication(localstripe_url, intent_id, client_secret):
    """The buyer fails 3-D Secure: the intent is left open for another try, with its error."""
    body = urllib.parse.urlencode({"client_secret": client_secret, "success": "false"}).encode()
    request = urllib.request.Request(
        f"{localstripe_url}/v1/payment_intents/{intent_id}/_authenticate",
        data=body,
        headers={"Authorization": "Bearer sk_test_unitysefer"},
    )
    urllib.request.urlopen(request).close()


def test_a_failed_attempt_that_succeeds_on_the_same_intent_is_paid_on_the_return_page_without_its_webhook(
    stripe_server, localstripe_url, campaigns, client
):
    # pay.js lets the buyer try again on the same PaymentIntent after a failure. localstripe
    # cannot charge an intent again after a declined charge, so the failure here is a failed
    # 3-D Secure authentication, which Stripe reports the same way (payment_intent.payment_failed,
    # the intent back to requires_payment_method with a last_payment_error).
    register_webhook(localstripe_url, "http://127.0.0.1:9/nowhere/")  # no webhook unless we post it
    order = make_order(campaigns["beis-rivkah"], 2)
    payment, client_secret = payment_start_card(order_id=order.pk)
    card = stripe_server.v1.payment_methods.create(
        params={"type": "card", "card": {"number": "4000002760003184", "exp_month": 12, "exp_year": 2030, "cvc": "123"}}
    )
    assert pay_with(stripe_server, payment.reference, card.id).status == "requires_action"
    fail_authentication(localstripe_url, payment.reference, client_secret)
    intent = stripe_server.v1.payment_intents.retrieve(payment.reference).to_dict()
    assert intent["status"] == "requires_payment_method" and intent["last_payment_error"]
    failed = json.dumps(
        {"id": "evt_3ds_failed", "type": "payment_intent.payment_failed", "data": {"object": intent}}
    ).encode()
    response = client.post(
        "/payments/stripe/webhook/", failed, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(failed)
    )
    assert response.content == f"payment {payment.pk} failed".encode()
    payment.refresh_from_db()
    order.refresh_from_db()
    assert (payment.status, order.status) == ("failed", "pending")

    # The same intent then succeeds at Stripe, and its webhook does not come.
    assert pay_with(stripe_server, payment.reference, "pm_card_visa").status == "succeeded"
    # Another order's page naming this intent does not touch it.
    stranger = make_order(campaigns["idf"], 1)
    client.get(f"/orders/{stranger.token}/?payment_intent={payment.reference}&redirect_status=succeeded")
    order_sync_card_payments(order_id=stranger.pk, payment_intent=payment.reference)
    assert Payment.objects.get(pk=payment.pk).status == "failed"

    return_url = f"/orders/{order.token}/?payment_intent={payment.reference}&redirect_status=succeeded"
    page = client.get(return_url)
    assert page.status_code == 200
    assert page.content.decode().count('class="letter-row"') == 2
    order.refresh_from_db()
    payment.refresh_from_db()
    assert (order.status, payment.status, payment.flagged_reason) == ("paid", "succeeded", "")
    positions = sorted(Letter.objects.filter(name__order=order).values_list("position", flat=True))
    assert len(positions) == 2
    assert not StripeEvent.objects.filter(type="payment_intent.succeeded").exists()  # no webhook helped

    # Coming back again, and the success delivered late, change nothing more.
    assert client.get(return_url).content.decode().count('class="letter-row"') == 2
    intent = stripe_server.v1.payment_intents.retrieve(payment.reference).to_dict()
    late = json.dumps({"id": "evt_late_retry", "type": "payment_intent.succeeded", "data": {"object": intent}}).encode()
    response = client.post(
        "/payments/stripe/webhook/", late, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(late)
    )
    assert response.status_code == 200
    assert sorted(Letter.objects.filter(name__order=order).values_list("position", flat=True)) == positions
    assert Letter.objects.count() == 2 and Payment.objects.filter(order=order).count() == 1
    assert Payment.objects.get(pk=payment.pk).flagged_reason == ""
    assert Order.objects.get(pk=stranger.pk).status == "pending"


def test_webhook_before_the_return_page_then_the_page_changes_nothing(stripe_server, campaigns, client):
    order = make_order(campaigns["beis-rivkah"], 1)
    payment, _ = payment_start_card(order_id=order.pk)
    pay_with(stripe_server, payment.reference, "pm_card_visa")
    assert wait_until(event_processed(payment.reference))
    page = client.get(f"/orders/{order.token}/")
    assert "letter 1 of 304,805" in page.content.decode()
    assert Letter.objects.count() == 1


def test_forged_or_stale_signatures_are_refused_and_change_nothing(stripe_server, campaigns, client):
    order = make_order(campaigns["idf"], 1)
    payment, _ = payment_start_card(order_id=order.pk)
    intent = stripe_server.v1.payment_intents.retrieve(payment.reference).to_dict()
    intent.update(status="succeeded", amount_received=intent["amount"])
    payload = json.dumps({"id": "evt_forged", "type": "payment_intent.succeeded", "data": {"object": intent}}).encode()
    for signature in (
        sign(payload, secret="whsec_attacker"),
        sign(payload, timestamp=1_600_000_000),
        "",
        "t=1,v1=deadbeef",
    ):
        response = client.post(
            "/payments/stripe/webhook/", payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
        )
        assert response.status_code == 400
    assert not StripeEvent.objects.filter(event_id="evt_forged").exists()
    order.refresh_from_db()
    assert order.status == "pending" and not Letter.objects.exists()


def test_a_mismatched_amount_is_flagged_for_staff_and_allocates_nothing(stripe_server, campaigns):
    order = make_order(campaigns["idf"], 2)
    payment, _ = payment_start_card(order_id=order.pk)
    stripe_server.v1.payment_intents.update(payment.reference, params={"amount": 100})
    pay_with(stripe_server, payment.reference, "pm_card_visa")
    assert wait_until(event_processed(payment.reference))
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == "succeeded" and "100" in payment.flagged_reason
    assert order.status == "pending" and not Letter.objects.exists()


def test_anonymous_api_order_by_card_returns_a_client_secret_and_letters_once_paid(stripe_server, campaigns):
    payload = {
        "campaign": "tomchei-temimim",
        "buyer": {"name": "Dovid", "email": "dovid@example.org"},
        "names": [{"hebrew_name": "דוד", "parent_hebrew_name": "שרה", "gender": "m"}],
        "payment": {"method": "stripe"},
        "consent": True,
    }
    response = APIClient().post("/api/v1/orders/", payload, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "pending" and body["names"][0]["letter"] is None
    assert body["payment"]["client_secret"].startswith("pi_")
    order = Order.objects.get(pk=body["id"])
    pay_with(stripe_server, order.payments.get().reference, "pm_card_visa")
    assert wait_until(lambda: Letter.objects.filter(name__order=order).exists())


def test_staff_refund_goes_through_stripe_and_keeps_the_letters(stripe_server, campaigns):
    order = make_order(campaigns["idf"], 1)
    payment, _ = payment_start_card(order_id=order.pk)
    pay_with(stripe_server, payment.reference, "pm_card_visa")
    assert wait_until(lambda: Order.objects.get(pk=order.pk).allocated_at is not None)  # paid, then allocated
    staff = User.objects.create_user("refunder", is_staff=True)
    payment_refund(payment_id=payment.pk, refunded_by=staff)
    refunds = stripe_server.v1.refunds.list(params={"payment_intent": payment.reference})
    assert len(refunds.data) == 1 and refunds.data[0].amount == 1800
    order.refresh_from_db()
    assert order.status == "refunded"
    assert Letter.objects.filter(name__order=order).count() == 1


def test_pay_page_mounts_the_payment_element_with_the_intents_client_secret(stripe_server, campaigns, client, settings):
    settings.STRIPE_JS_URL = "https://js.stripe.com/v3/"
    order = make_order(campaigns["idf"], 1)
    page = client.get(f"/orders/{order.token}/pay/").content.decode()
    payment = Payment.objects.get(order=order)
    intent = stripe_server.v1.payment_intents.retrieve(payment.reference)
    assert f'data-client-secret="{intent.client_secret}"' in page
    assert 'data-publishable-key="pk_test_unitysefer"' in page
    assert '<script src="https://js.stripe.com/v3/"></script>' in page
    assert f"/orders/{order.token}/" in page  # where Stripe returns the buyer
    # Opening the page again resumes the same attempt instead of creating another.
    client.get(f"/orders/{order.token}/pay/")
    assert Payment.objects.filter(order=order).count() == 1
