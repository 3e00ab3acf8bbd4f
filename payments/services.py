"""Payments: offline records, card attempts, and their confirmation exactly once.

Every path that learns of a card payment's outcome (the webhook, the buyer's return page, the
demo page) goes through payment_confirm, which locks the payment row, so duplicate, replayed
and out-of-order news changes nothing more.
"""

import logging
from decimal import Decimal

import stripe
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.services import profile_for
from allocation.models import Order, OrderStatus
from allocation.services import order_allocate_or_enqueue, order_mark_paid, order_refund_record

from .models import Payment, PaymentProvider, PaymentStatus, StripeEvent
from .providers import (
    ProviderStatus,
    StripeProvider,
    card_provider,
    provider_for,
    to_minor_units,
)

logger = logging.getLogger(__name__)

OFFLINE_PERMISSION = "payments.record_offline_payment"


def offline_payment_check(*, user, amount: Decimal, currency: str = "") -> None:
    """Refuse (ValidationError) an offline payment of `amount` for one order by `user`: without
    the permission to record offline payments, or above the user's limit per order (the limit
    is in the order's currency; none for staff, and none when the profile has no limit)."""
    if not user.has_perm(OFFLINE_PERMISSION):
        raise ValidationError(_("You may not record offline payments."), code="offline_not_permitted")
    if user.is_staff:
        return
    limit = profile_for(user=user).offline_payment_limit
    if limit is not None and amount > limit:
        raise ValidationError(
            _(
                "This order comes to %(amount)s %(currency)s, above your limit for offline payments "
                "(%(limit)s %(currency)s per order). Ask the office to record it."
            )
            % {"amount": amount, "limit": limit, "currency": currency},
            code="offline_over_limit",
        )


def payment_record_offline(*, order: Order, reference: str, recorded_by) -> Payment:
    """Record cash, a cheque or a transfer taken by a permitted user, then fulfil the order."""
    if not recorded_by.has_perm(OFFLINE_PERMISSION):
        raise PermissionDenied(_("You may not record offline payments."))
    reference = (reference or "").strip()
    if not reference:
        raise ValidationError({"reference": [_("Give the receipt or transfer reference.")]})
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.status not in (OrderStatus.PENDING, OrderStatus.CANCELLED):
            raise ValidationError({"order": [_("This order is already paid.")]})
        payment = Payment(
            order=order,
            provider=PaymentProvider.OFFLINE,
            status=PaymentStatus.SUCCEEDED,
            amount=order.amount,
            currency=order.currency,
            reference=reference,
            recorded_by=recorded_by,
        )
        payment._history_user = recorded_by  # the audit names the person, in a request or not
        payment.save(force_insert=True)
        order_mark_paid(order_id=order.pk, by=recorded_by)
    order_allocate_or_enqueue(order_id=order.pk)
    return payment


def payment_start_card(*, order_id: int) -> tuple[Payment, str]:
    """Start a card payment attempt for a pending order, or resume the open one.

    Returns the attempt and the client secret the page needs (empty for the demo provider).
    """
    provider = card_provider()
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status == OrderStatus.CANCELLED:
            raise ValidationError(_("This order has expired: start again from it to pay."), code="order_cancelled")
        if order.status != OrderStatus.PENDING:
            raise ValidationError(_("This order is already paid."), code="order_paid")
        payment = (
            order.payments.filter(provider=provider.name, status=PaymentStatus.CREATED, amount=order.amount)
            .order_by("-id")
            .first()
        )
        if payment is None:
            payment = Payment.objects.create(
                order=order, provider=provider.name, amount=order.amount, currency=order.currency
            )
    if payment.reference and isinstance(provider, StripeProvider):
        intent = provider.client.v1.payment_intents.retrieve(payment.reference)
        return payment, intent.client_secret
    # The provider call happens outside our transaction; its idempotency key makes a retry
    # after a crash return the same PaymentIntent.
    started = provider.start(payment=payment)
    Payment.objects.filter(pk=payment.pk).update(reference=started["reference"])
    payment.reference = started["reference"]
    return payment, started["client_secret"]


def payment_confirm(*, payment_id: int, outcome: ProviderStatus) -> Payment:
    """Apply what the provider says of an attempt. Idempotent and order-independent: a success
    is final, a failure after a success is ignored, and a success whose amount or currency does
    not match the order is flagged for staff and allocates nothing."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().select_related("order").get(pk=payment_id)
        if payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED):
            return payment
        if outcome.status == "failed":
            if payment.status == PaymentStatus.FAILED:  # already known: nothing to write
                return payment
            payment.status = PaymentStatus.FAILED
            payment.save(update_fields=["status", "updated_at"])
            return payment
        if outcome.status != "succeeded":
            return payment

        payment.status = PaymentStatus.SUCCEEDED
        order = Order.objects.select_for_update().get(pk=payment.order_id)
        # Against the order as it is now, not the attempt: an attempt started before its order's
        # amount was changed pays the old amount, which staff must see and settle.
        expected = to_minor_units(order.amount, order.currency)
        if outcome.amount_minor is not None and (
            outcome.amount_minor != expected or (outcome.currency and outcome.currency != order.currency)
        ):
            payment.flagged_reason = _(
                "Received %(amount)s %(currency)s (minor units) but the order expects %(expected)s %(order_currency)s."
            ) % {
                "amount": outcome.amount_minor,
                "currency": outcome.currency,
                "expected": expected,
                "order_currency": order.currency,
            }
            logger.error("Payment %s flagged: %s", payment.pk, payment.flagged_reason)
        elif order.status in (OrderStatus.PAID, OrderStatus.REFUNDED):
            payment.flagged_reason = _("The order was already paid by another attempt: refund this one.")
            logger.error("Payment %s flagged: order %s paid twice", payment.pk, order.pk)
        else:
            order_mark_paid(order_id=order.pk)
        payment.save(update_fields=["status", "flagged_reason", "updated_at"])
    if not payment.flagged_reason:  # the order was marked paid above, with the payment
        order_allocate_or_enqueue(order_id=payment.order_id)
    return payment


# Attempts whose outcome can still change at the provider. A failed attempt is among them: after
# a declined card the buyer may try again on the same PaymentIntent (static/js/pay.js) and succeed,
# and payment_confirm accepts failed -> succeeded.
OPEN_STATUSES = (PaymentStatus.CREATED, PaymentStatus.FAILED)
# How many of an order's attempts one return to the site asks the provider about, newest first.
RETURN_SYNC_MAX_ATTEMPTS = 10


def payment_sync(*, payment_id: int) -> Payment:
    """Ask the provider about an attempt (the buyer's return page), then confirm as above. Never
    asks about a succeeded or refunded attempt: that news is final."""
    payment = Payment.objects.get(pk=payment_id)
    provider = provider_for(payment)
    if provider is None or not payment.reference or payment.status not in OPEN_STATUSES:
        return payment
    return payment_confirm(payment_id=payment.pk, outcome=provider.status(payment=payment))


def order_sync_card_payments(*, order_id: int, payment_intent: str = "") -> None:
    """The buyer came back from paying: ask Stripe about the order's card attempts that may still
    succeed (open or failed, newest first), so a late webhook delays nothing.

    `payment_intent` (from the return URL, untrusted) only puts that attempt first, and only if
    it is one of this order's own. Stops once the order is paid; safe to run twice
    and alongside the webhook, since each outcome goes through payment_confirm."""
    attempts = Payment.objects.filter(
        order_id=order_id, provider=PaymentProvider.STRIPE, status__in=OPEN_STATUSES
    ).exclude(reference="")
    ids = list(attempts.order_by("-id").values_list("pk", flat=True)[:RETURN_SYNC_MAX_ATTEMPTS])
    if payment_intent:
        named = attempts.filter(reference=payment_intent).values_list("pk", flat=True).first()
        if named is not None:
            ids = [named] + [pk for pk in ids if pk != named]
    for payment_id in ids:
        if not Order.objects.filter(pk=order_id, status__in=(OrderStatus.PENDING, OrderStatus.CANCELLED)).exists():
            break
        try:
            payment_sync(payment_id=payment_id)
        except (stripe.StripeError, ValidationError):
            logger.exception("Could not check payment %s with Stripe", payment_id)


def payment_demo_complete(*, payment_id: int, succeeded: bool) -> Payment:
    payment = Payment.objects.get(pk=payment_id, provider=PaymentProvider.DEMO)
    provider_for(payment)  # refuses when DEBUG is off
    outcome = ProviderStatus(
        status="succeeded" if succeeded else "failed",
        amount_minor=to_minor_units(payment.amount, payment.currency),
        currency=payment.currency,
    )
    return payment_confirm(payment_id=payment.pk, outcome=outcome)


def _payment_for_intent(intent: dict) -> Payment | None:
    payment = Payment.objects.filter(provider=PaymentProvider.STRIPE, reference=intent["id"]).first()
    if payment is not None:
        return payment
    # The webhook can outrun our own save of the reference: fall back on the metadata.
    payment_id = (intent.get("metadata") or {}).get("payment_id")
    if payment_id and str(payment_id).isdigit():
        updated = Payment.objects.filter(pk=int(payment_id), provider=PaymentProvider.STRIPE, reference="").update(
            reference=intent["id"]
        )
        if updated:
            return Payment.objects.get(pk=int(payment_id))
    return None


def stripe_event_process(*, event: dict) -> str:
    """Handle one verified Stripe event, once per event id. Returns what was done."""
    intent = event.get("data", {}).get("object", {})
    intent_id = intent.get("id", "") if intent.get("object") == "payment_intent" else ""
    try:
        with transaction.atomic():
            record, created = StripeEvent.objects.get_or_create(
                event_id=event["id"], defaults={"type": event.get("type", ""), "payment_intent_id": intent_id}
            )
    except IntegrityError:  # the same event delivered twice at the same moment
        return "duplicate"
    if not created and record.processed_at:
        return "duplicate"

    if event.get("type") in ("payment_intent.succeeded", "payment_intent.payment_failed") and intent_id:
        payment = _payment_for_intent(intent)
        if payment is None:
            outcome = "unknown payment intent"
            logger.warning("Stripe event %s names unknown PaymentIntent %s", event["id"], intent_id)
        else:
            payment = payment_confirm(payment_id=payment.pk, outcome=StripeProvider.status_of_intent(intent))
            outcome = f"payment {payment.pk} {payment.status}"
            if payment.flagged_reason:
                outcome += " (flagged)"
    else:
        outcome = "ignored"
    record.processed_at = timezone.now()
    record.outcome = outcome[:255]
    record.save(update_fields=["processed_at", "outcome"])
    return outcome


def payment_refund(*, payment_id: int, refunded_by) -> Payment:
    """Refund a successful payment through its provider. The order keeps its letters, marked
    refunded: a letter once written is not erased."""
    if not refunded_by.is_staff:
        raise PermissionDenied(_("Only staff may refund."))
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status != PaymentStatus.SUCCEEDED:
            raise ValidationError(_("Only a successful payment can be refunded."))
        provider = provider_for(payment)
        if provider is not None:
            provider.refund(payment=payment)
        payment.status = PaymentStatus.REFUNDED
        payment.save(update_fields=["status", "updated_at"])
        order = Order.objects.select_for_update().get(pk=payment.order_id)
        if order.status == OrderStatus.PAID and not order.payments.filter(status=PaymentStatus.SUCCEEDED).exists():
            order_refund_record(order_id=order.pk, by=refunded_by)
    return payment


def order_card_payments_cancel(*, order_id: int) -> int:
    """An order was cancelled (it expired): cancel its card attempts that could still be paid,
    at the provider too, so the buyer is not charged for an order they gave up. An attempt the
    provider will not cancel (it succeeded, or is processing) is asked about instead: money that
    arrived still pays the order (payment_confirm honours a cancelled order). Returns how many
    were cancelled. Safe to run twice."""
    cancelled = 0
    open_attempts = Payment.objects.filter(order_id=order_id, status__in=OPEN_STATUSES).order_by("id")
    for payment_id in open_attempts.values_list("pk", flat=True)[:RETURN_SYNC_MAX_ATTEMPTS]:
        payment = Payment.objects.get(pk=payment_id)
        try:
            provider = provider_for(payment)
        except ImproperlyConfigured:  # a demo attempt once demo payments are off: nothing to tell
            provider = None
        if provider is not None and payment.reference:
            try:
                provider.cancel(payment=payment)
            except stripe.StripeError as error:
                logger.warning("Payment %s could not be cancelled at the provider (%s); asking it", payment.pk, error)
                payment_sync(payment_id=payment.pk)
                continue
        with transaction.atomic():
            locked = Payment.objects.select_for_update().get(pk=payment_id)
            if locked.status in OPEN_STATUSES:
                locked.status = PaymentStatus.CANCELLED
                locked.save(update_fields=["status", "updated_at"])
                cancelled += 1
    return cancelled
