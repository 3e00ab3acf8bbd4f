"""Refunds made in Stripe's dashboard and disputes (chargebacks) opened by the card's bank reach us
as `charge.refunded` and `charge.dispute.*` events: recorded on the payment (a full refund also
on the order, through allocation's lifecycle), the letters kept, staff emailed once per event.

localstripe makes the charges and the refunds (its charge objects carry amount_refunded and
refunded) but sends neither event, and knows no disputes: the events are delivered signed, with
localstripe's own charge, as Stripe would send them."""

import json
import time

import pytest
from django.core import mail

from allocation.models import Letter, Order
from payments.models import Payment, PaymentProvider, StripeEvent
from payments.services import payment_start_card

from .conftest import make_user
from .factories import make_order
from .stripe_helpers import localstripe_url, register_webhook, sign, stripe_server, wait_until  # noqa: F401
from .test_payments_stripe import pay_with

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def deliver(client, event_id, event_type, obj, *, created=None):
    event = {"id": event_id, "type": event_type, "data": {"object": obj}, "created": created or int(time.time())}
    payload = json.dumps(event).encode()
    return client.post(
        "/payments/stripe/webhook/", payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(payload)
    )


def paid_by_card(stripe_server, campaign, names=1):
    order = make_order(campaign, names)
    payment, _ = payment_start_card(order_id=order.pk)
    pay_with(stripe_server, payment.reference, "pm_card_visa")
    assert wait_until(lambda: Order.objects.get(pk=order.pk).allocated_at is not None)
    return order, payment


def charge_of(stripe_server, payment=None, *, intent_id=""):
    intent = stripe_server.v1.payment_intents.retrieve(intent_id or payment.reference)
    charge = intent.latest_charge
    return stripe_server.v1.charges.retrieve(charge if isinstance(charge, str) else charge.id).to_dict()


def alerts():
    """What staff were emailed (the buyer's own emails come and go alongside, in their own time)."""
    return [message for message in mail.outbox if message.subject.startswith("Stripe:")]


def letters_of(order):
    return sorted(Letter.objects.filter(name__order=order).values_list("position", flat=True))


@pytest.fixture
def staff(db):
    return make_user("office", is_staff=True)


def test_a_full_refund_in_stripes_dashboard_refunds_the_order_keeps_its_letters_and_tells_staff_once(
    stripe_server, campaigns, client, staff
):
    order, payment = paid_by_card(stripe_server, campaigns["idf"], names=2)
    letters = letters_of(order)
    stripe_server.v1.refunds.create(params={"payment_intent": payment.reference})  # in the dashboard
    charge = charge_of(stripe_server, payment)
    assert charge["refunded"] and charge["amount_refunded"] == 3600

    response = deliver(client, "evt_refund_full", "charge.refunded", charge)
    assert response.status_code == 200 and response.content == f"payment {payment.pk} refunded".encode()
    order.refresh_from_db()
    payment.refresh_from_db()
    assert (order.status, payment.status, str(payment.amount_refunded)) == ("refunded", "refunded", "36.000")
    assert letters_of(order) == letters  # a letter is forever
    assert order.history.filter(status="refunded").count() == 1  # through the lifecycle
    assert len(alerts()) == 1 and alerts()[0].to == ["office@example.org"]
    assert f"order {order.pk}" in alerts()[0].subject and "36.00 ILS" in alerts()[0].body
    assert f"/admin/allocation/order/{order.pk}/change/" in alerts()[0].body
    event = StripeEvent.objects.get(event_id="evt_refund_full")
    assert event.payment_intent_id == payment.reference and event.alerted_at is not None

    # The same event again, and the same news under another id: nothing more, no second email.
    assert deliver(client, "evt_refund_full", "charge.refunded", charge).content == b"duplicate"
    again = deliver(client, "evt_refund_full_again", "charge.refunded", charge)
    assert again.status_code == 200 and again.content.endswith(b"(no change)")
    assert len(alerts()) == 1 and Order.objects.get(pk=order.pk).status == "refunded"


def test_a_partial_refund_is_recorded_on_the_payment_and_the_order_stays_paid(stripe_server, campaigns, client, staff):
    order, payment = paid_by_card(stripe_server, campaigns["idf"], names=2)
    stripe_server.v1.refunds.create(params={"payment_intent": payment.reference, "amount": 600})
    partial = charge_of(stripe_server, payment)
    assert not partial["refunded"]

    assert deliver(client, "evt_refund_part", "charge.refunded", partial).status_code == 200
    payment.refresh_from_db()
    assert (payment.status, payment.amount_refunded) == ("succeeded", 6)
    assert Order.objects.get(pk=order.pk).status == "paid" and len(letters_of(order)) == 2
    assert len(alerts()) == 1 and "6.00 ILS" in alerts()[0].body

    # The rest refunded later: the payment and the order are refunded. An older event delivered
    # after it (the partial one again, under its own id) takes nothing back.
    stripe_server.v1.refunds.create(params={"payment_intent": payment.reference, "amount": 3000})
    assert deliver(client, "evt_refund_rest", "charge.refunded", charge_of(stripe_server, payment)).status_code == 200
    assert deliver(client, "evt_refund_part_late", "charge.refunded", partial).content.endswith(b"(no change)")
    payment.refresh_from_db()
    assert (payment.status, payment.amount_refunded) == ("refunded", 36)
    assert Order.objects.get(pk=order.pk).status == "refunded" and len(letters_of(order)) == 2
    assert len(alerts()) == 2


def test_a_refund_of_a_second_payment_leaves_the_order_paid_by_the_first(stripe_server, campaigns, client, staff):
    order, first = paid_by_card(stripe_server, campaigns["idf"])
    # A second attempt succeeded too (another tab): flagged for a refund, which staff make in Stripe.
    second = Payment.objects.create(
        order=order, provider=PaymentProvider.STRIPE, amount=order.amount, currency=order.currency
    )
    intent = stripe_server.v1.payment_intents.create(
        params={"amount": 1800, "currency": "ils", "metadata": {"payment_id": str(second.pk)}}
    )
    Payment.objects.filter(pk=second.pk).update(reference=intent.id)
    pay_with(stripe_server, intent.id, "pm_card_visa")
    assert wait_until(lambda: Payment.objects.get(pk=second.pk).flagged_reason != "")
    second.refresh_from_db()
    stripe_server.v1.refunds.create(params={"payment_intent": second.reference})

    assert deliver(client, "evt_refund_second", "charge.refunded", charge_of(stripe_server, second)).status_code == 200
    assert Payment.objects.get(pk=second.pk).status == "refunded"
    assert Payment.objects.get(pk=first.pk).status == "succeeded"
    assert Order.objects.get(pk=order.pk).status == "paid" and len(letters_of(order)) == 1


def test_a_refund_heard_before_the_payment_itself_pays_nothing_afterwards(
    stripe_server, localstripe_url, campaigns, client, staff
):
    register_webhook(localstripe_url, "http://127.0.0.1:9/nowhere/")  # its success is not heard
    order = make_order(campaigns["idf"], 1)
    payment, _ = payment_start_card(order_id=order.pk)
    pay_with(stripe_server, payment.reference, "pm_card_visa")
    stripe_server.v1.refunds.create(params={"payment_intent": payment.reference})

    assert deliver(client, "evt_refund_first", "charge.refunded", charge_of(stripe_server, payment)).status_code == 200
    assert Payment.objects.get(pk=payment.pk).status == "refunded"
    assert Order.objects.get(pk=order.pk).status == "pending"

    intent = stripe_server.v1.payment_intents.retrieve(payment.reference).to_dict()
    assert deliver(client, "evt_success_late", "payment_intent.succeeded", intent).status_code == 200
    assert Order.objects.get(pk=order.pk).status == "pending" and not Letter.objects.exists()


def test_news_of_a_charge_that_is_not_ours_is_answered_and_ignored(stripe_server, campaigns, client, staff):
    intent = stripe_server.v1.payment_intents.create(params={"amount": 1800, "currency": "ils"})
    pay_with(stripe_server, intent.id, "pm_card_visa")
    stripe_server.v1.refunds.create(params={"payment_intent": intent.id})
    charge = charge_of(stripe_server, intent_id=intent.id)
    dispute = {"id": "dp_stranger", "object": "dispute", "payment_intent": intent.id, "charge": charge["id"]}

    for event_id, kind, obj in (
        ("evt_stranger_refund", "charge.refunded", charge),
        ("evt_stranger_dispute", "charge.dispute.created", dispute),
        ("evt_no_intent", "charge.refunded", {**charge, "payment_intent": None}),
    ):
        response = deliver(client, event_id, kind, obj)
        assert response.status_code == 200 and response.content == b"unknown payment intent"
    assert not Payment.objects.exists() and alerts() == []


def dispute_of(charge, *, status, reason="fraudulent", amount=1800):
    return {
        "id": "dp_1Unitysefer",
        "object": "dispute",
        "amount": amount,
        "currency": charge["currency"],
        "charge": charge["id"],
        "payment_intent": charge["payment_intent"],
        "reason": reason,
        "status": status,
    }


def test_a_dispute_is_recorded_on_the_payment_shown_to_staff_and_the_order_stays_paid(
    stripe_server, campaigns, client, staff
):
    order, payment = paid_by_card(stripe_server, campaigns["idf"])
    letters = letters_of(order)
    charge = charge_of(stripe_server, payment)
    opened = int(time.time()) - 60

    response = deliver(
        client, "evt_dispute_1", "charge.dispute.created", dispute_of(charge, status="needs_response"), created=opened
    )
    assert response.content == f"payment {payment.pk} succeeded, dispute needs_response".encode()
    payment.refresh_from_db()
    assert (payment.dispute_id, payment.dispute_status, payment.dispute_reason) == (
        "dp_1Unitysefer",
        "needs_response",
        "fraudulent",
    )
    assert payment.dispute_amount == 18 and payment.status == "succeeded"
    assert Order.objects.get(pk=order.pk).status == "paid" and letters_of(order) == letters
    assert len(alerts()) == 1 and "needs_response" in alerts()[0].subject and "dp_1Unitysefer" in alerts()[0].body

    # Lost: the money went back to the card's owner; the order stays paid and its letters written.
    for event_id, kind in (
        ("evt_dispute_2", "charge.dispute.funds_withdrawn"),
        ("evt_dispute_3", "charge.dispute.closed"),
    ):
        status = "lost" if kind.endswith("closed") else "under_review"
        assert (
            deliver(client, event_id, kind, dispute_of(charge, status=status), created=opened + 30).status_code == 200
        )
    # An update Stripe made before those, delivered late, changes nothing.
    late = deliver(
        client,
        "evt_dispute_0",
        "charge.dispute.updated",
        dispute_of(charge, status="under_review"),
        created=opened + 10,
    )
    assert late.content.endswith(b"(no change)")
    payment.refresh_from_db()
    assert payment.dispute_status == "lost" and payment.status == "succeeded"
    assert Order.objects.get(pk=order.pk).status == "paid" and letters_of(order) == letters
    assert len(alerts()) == 3  # created, funds withdrawn, closed: once each

    client.force_login(staff)
    for page in (f"/admin/allocation/order/{order.pk}/change/", f"/admin/payments/payment/{payment.pk}/change/"):
        html = client.get(page).content.decode()
        assert "dp_1Unitysefer" in html and "lost" in html and "fraudulent" in html, page


def test_the_alerts_go_to_the_addresses_configured(stripe_server, campaigns, client, staff, settings):
    settings.PAYMENTS_ALERT_EMAILS = ["accounts@example.org", "rabbi@example.org"]
    order, payment = paid_by_card(stripe_server, campaigns["idf"])
    charge = charge_of(stripe_server, payment)
    deliver(
        client, "evt_dispute_configured", "charge.dispute.created", dispute_of(charge, status="warning_needs_response")
    )
    assert [message.to for message in alerts()] == [["accounts@example.org", "rabbi@example.org"]]
