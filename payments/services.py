"""Payments: offline records, card attempts, and their confirmation exactly once.

Every path that learns of a card payment's outcome (the webhook, the buyer's return page, the
demo page) goes through payment_confirm, which locks the payment row, so duplicate, replayed
and out-of-order news changes nothing more.
"""

import hashlib
import logging
import re
from datetime import UTC, datetime
from decimal import Decimal

import stripe
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.services import profile_for
from allocation.models import Order, OrderStatus
from allocation.services import order_allocate_or_enqueue, order_mark_paid, order_refund_record
from core.currencies import CURRENCIES, currency_quantize
from core.tasks import enqueue_on_commit

from .models import Payment, PaymentProvider, PaymentStatus, StripeEvent, StripePayout
from .providers import (
    ProviderStatus,
    ProviderUnavailable,
    StripeProvider,
    card_provider,
    from_minor_units,
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


def payment_record_offline(
    *, order: Order, reference: str, recorded_by, placed_in_this_transaction: bool = False
) -> Payment:
    """Record cash, a cheque or a transfer taken by a permitted user, then fulfil the order.
    `placed_in_this_transaction`: the caller placed `order` in its transaction, still open, so no
    other transaction can see the row, let alone change it: it is not read again under a lock."""
    if not recorded_by.has_perm(OFFLINE_PERMISSION):
        raise PermissionDenied(_("You may not record offline payments."))
    reference = (reference or "").strip()
    if not reference:
        raise ValidationError({"reference": [_("Give the receipt or transfer reference.")]})
    # No savepoint of its own: the refusal is raised once the block is left, nothing written.
    held = placed_in_this_transaction and transaction.get_connection().in_atomic_block
    with transaction.atomic(savepoint=False):
        order = order if held else Order.objects.select_for_update().get(pk=order.pk)
        already_paid = order.status not in (OrderStatus.PENDING, OrderStatus.CANCELLED)
        if not already_paid:
            payment = _payment_offline_write(order=order, reference=reference, recorded_by=recorded_by)
    if already_paid:
        raise ValidationError({"order": [_("This order is already paid.")]})
    # An order placed in this transaction: its names as written, all waiting for letters.
    placed = getattr(order, "names_placed", None) if held else None
    order_allocate_or_enqueue(
        order_id=order.pk, locked=order, waiting_name_ids=None if placed is None else [name.pk for name in placed]
    )
    return payment


def _payment_offline_write(*, order: Order, reference: str, recorded_by) -> Payment:
    """The payment and the order marked paid, under the order's row lock (held by the caller)."""
    payment = Payment(
        order=order,
        provider=PaymentProvider.OFFLINE,
        status=PaymentStatus.SUCCEEDED,
        amount=order.amount,
        currency=order.currency,
        reference=reference,
        recorded_by=recorded_by,
        succeeded_at=timezone.now(),
    )
    payment._history_user = recorded_by  # the audit names the person, in a request or not
    payment.save(force_insert=True)
    order_mark_paid(order_id=order.pk, by=recorded_by, locked=order)
    return payment


# --- Stripe, asked from the buyer's pages at most once per order per interval ------------------


def _cache_try(call, *args, default=None, **kwargs):
    try:
        return call(*args, **kwargs)
    except Exception:  # Redis unreachable: the buyer still pays (the cap is against abuse)
        logger.exception("The cache could not be reached")
        return default


def stripe_call_claim(*, order: Order) -> bool:
    """Whether the buyer's pages may ask Stripe about `order` now: once per
    STRIPE_SYNC_INTERVAL_SECONDS however often they are read, so that a script reading them
    cannot use up the account's rate limit that every buyer shares. The webhook brings news
    meanwhile. Counted in the cache (shared by every process); without it, allowed."""
    interval = settings.STRIPE_SYNC_INTERVAL_SECONDS
    if interval <= 0:
        return True
    # By the order's token, not its id: ids start again in a new database, the key would not.
    key = "payments:stripe-call:" + hashlib.sha256(order.token.encode()).hexdigest()[:32]
    return bool(_cache_try(cache.add, key, 1, timeout=interval, default=True))


def _client_secret_key(reference: str) -> str:
    return f"payments:client-secret:{reference}"


def _client_secret_keep(reference: str, client_secret: str) -> None:
    """The pay page shows it on every read: kept for as long as the order may be paid, so that
    reading the page does not ask Stripe. Only in the cache (Stripe asks that it not be stored)."""
    if client_secret:
        timeout = settings.PENDING_ORDER_TTL_MINUTES * 60
        _cache_try(cache.set, _client_secret_key(reference), client_secret, timeout=timeout)


def payment_start_card(*, order_id: int) -> tuple[Payment, str]:
    """Start a card payment attempt for a pending order, or resume the open one.

    Returns the attempt and the client secret the page needs (empty for the demo provider).
    ProviderUnavailable when Stripe cannot be reached, errs, or was asked about this order too
    recently (stripe_call_claim) and the open attempt's secret is not in the cache.
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
    try:
        if payment.reference and isinstance(provider, StripeProvider):
            client_secret = _cache_try(cache.get, _client_secret_key(payment.reference))
            if client_secret:
                return payment, client_secret
            if not stripe_call_claim(order=order):
                raise ProviderUnavailable(f"Stripe was asked about order {order.pk} moments ago")
            client_secret = provider.client.v1.payment_intents.retrieve(payment.reference).client_secret
            _client_secret_keep(payment.reference, client_secret)
            return payment, client_secret
        # A new attempt is not capped: there is one only after the last one failed at Stripe.
        # The provider call happens outside our transaction; its idempotency key makes a retry
        # after a crash return the same PaymentIntent.
        started = provider.start(payment=payment)
    except stripe.StripeError as error:
        raise ProviderUnavailable(str(error)) from error
    Payment.objects.filter(pk=payment.pk).update(reference=started["reference"])
    payment.reference = started["reference"]
    _client_secret_keep(started["reference"], started["client_secret"])
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
        payment.succeeded_at = timezone.now()
        # Read and locked with the payment above (FOR UPDATE of both rows): as it is now.
        order = payment.order
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
            # Under that lock; a listener's refusal fails the whole block, payment included.
            order_mark_paid(order_id=order.pk, locked=order)
        payment.save(update_fields=["status", "flagged_reason", "succeeded_at", "updated_at"])
    if not payment.flagged_reason:  # the order was marked paid above, with the payment
        order_allocate_or_enqueue(order_id=payment.order_id)
    return payment


# Attempts whose outcome can still change at the provider. A failed attempt is among them: after
# a declined card the buyer may try again on the same PaymentIntent (static/js/pay.js) and succeed,
# and payment_confirm accepts failed -> succeeded.
OPEN_STATUSES = (PaymentStatus.CREATED, PaymentStatus.FAILED)
# How many of an order's open attempts one run of the expiry cancels at the provider, oldest first.
RETURN_SYNC_MAX_ATTEMPTS = 10
# What a PaymentIntent id looks like; anything else in a return URL names none of ours (and a NUL
# would reach PostgreSQL, which refuses it).
INTENT_ID = re.compile(r"pi_[A-Za-z0-9_]{1,250}")


def payment_sync(*, payment_id: int) -> Payment:
    """Ask the provider about an attempt (the buyer's return page), then confirm as above. Never
    asks about a succeeded or refunded attempt: that news is final."""
    payment = Payment.objects.get(pk=payment_id)
    provider = provider_for(payment)
    if provider is None or not payment.reference or payment.status not in OPEN_STATUSES:
        return payment
    return payment_confirm(payment_id=payment.pk, outcome=provider.status(payment=payment))


def order_sync_card_payments(*, order_id: int, payment_intent: str = "") -> None:
    """The buyer came back from paying (or reads the order's page): ask Stripe about the order's
    card attempt that may still succeed, so a late webhook delays nothing.

    One attempt, once per STRIPE_SYNC_INTERVAL_SECONDS however often the page is read
    (stripe_call_claim): the one `payment_intent` names (from the return URL, untrusted: only if
    it is one of this order's own), else the newest open or failed one; the webhook tells of
    the others. Nothing for an order already paid; safe to run twice and alongside the webhook,
    since each outcome goes through payment_confirm. Stripe unreachable: logged, nothing changes."""
    order = Order.objects.filter(pk=order_id, status__in=(OrderStatus.PENDING, OrderStatus.CANCELLED)).first()
    if order is None:
        return
    attempts = Payment.objects.filter(
        order_id=order_id, provider=PaymentProvider.STRIPE, status__in=OPEN_STATUSES
    ).exclude(reference="")
    payment_id = None
    if payment_intent and INTENT_ID.fullmatch(payment_intent):
        payment_id = attempts.filter(reference=payment_intent).values_list("pk", flat=True).first()
    if payment_id is None:
        payment_id = attempts.order_by("-id").values_list("pk", flat=True).first()
    if payment_id is None or not stripe_call_claim(order=order):
        return
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


# Stripe's news of a dispute (chargeback) of a charge; data.object is the dispute.
DISPUTE_EVENTS = (
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
)


def _intent_id_of(obj: dict) -> str:
    """The PaymentIntent an event's object is, or belongs to (a charge, a dispute)."""
    if obj.get("object") == "payment_intent":
        return str(obj.get("id") or "")
    if obj.get("object") in ("charge", "dispute"):
        intent_id = obj.get("payment_intent")
        return intent_id if isinstance(intent_id, str) else ""
    return ""


def stripe_event_process(*, event: dict) -> str:
    """Handle one verified Stripe event, once per event id. Returns what was done."""
    intent = event.get("data", {}).get("object", {})
    intent_id = _intent_id_of(intent)
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
            if payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED):
                payment_charge_note(payment_id=payment.pk, charge=intent.get("latest_charge"))
    elif event.get("type") in CHARGE_EVENTS and intent_id:
        payment = Payment.objects.filter(provider=PaymentProvider.STRIPE, reference=intent_id).first()
        if payment is None:
            outcome = "unknown payment intent"
        else:
            asked = payment_charge_note(payment_id=payment.pk, charge=intent)
            outcome = f"payment {payment.pk} charge noted" + (", fee asked" if asked else "")
    elif event.get("type") in PAYOUT_EVENTS:
        outcome = stripe_payout_record(payout=intent, event_type=event["type"], at=_event_time(event))
    elif event.get("type") == "charge.refunded" or event.get("type") in DISPUTE_EVENTS:
        payment = (
            Payment.objects.filter(provider=PaymentProvider.STRIPE, reference=intent_id).first() if intent_id else None
        )
        if payment is None:
            outcome = "unknown payment intent"
            logger.warning("Stripe event %s names a charge that is not ours (%s)", event["id"], intent_id or "-")
        else:
            outcome = _money_news_apply(event=event, record=record, payment=payment, obj=intent)
    else:
        outcome = "ignored"
    record.processed_at = timezone.now()
    record.outcome = outcome[:255]
    record.save(update_fields=["processed_at", "outcome"])
    return outcome


def _money_news_apply(*, event: dict, record: StripeEvent, payment: Payment, obj: dict) -> str:
    """A refund or a dispute made outside the site (Stripe's dashboard, the card's bank): recorded
    on the payment, staff emailed once if it changed anything."""
    with transaction.atomic():
        if event["type"] == "charge.refunded":
            changed = payment_refund_record(
                payment_id=payment.pk,
                amount_refunded_minor=int(obj.get("amount_refunded") or 0),
                fully=bool(obj.get("refunded")),
            )
        else:
            changed = payment_dispute_record(payment_id=payment.pk, dispute=obj, at=_event_time(event))
        if changed:
            enqueue_on_commit(_alert_task(), record.pk)
    payment.refresh_from_db()
    outcome = f"payment {payment.pk} {payment.status}"
    if payment.dispute_status:
        outcome += f", dispute {payment.dispute_status}"
    return outcome if changed else outcome + " (no change)"


def _event_time(event: dict):
    """When Stripe made the event (now if it does not say)."""
    made = event.get("created")
    return datetime.fromtimestamp(made, UTC) if isinstance(made, int) else timezone.now()


def _alert_task():
    from .tasks import send_payment_alert  # here: payments.tasks imports this module

    return send_payment_alert


def _fee_task():
    from .tasks import fetch_stripe_fee  # here: payments.tasks imports this module

    return fetch_stripe_fee


def _payout_task():
    from .tasks import link_stripe_payout  # here: payments.tasks imports this module

    return link_stripe_payout


# --- Fees and payouts, as Stripe reports them ---------------------------------------------------

# Stripe's news of a charge that may name its balance transaction (the fee and the net).
CHARGE_EVENTS = ("charge.succeeded", "charge.updated")
# Stripe's news of a payout of the balance to the bank.
PAYOUT_EVENTS = (
    "payout.created",
    "payout.updated",
    "payout.paid",
    "payout.failed",
    "payout.canceled",
    "payout.reconciliation_completed",
)
# Listing a payout's balance transactions asks for at most this many pages of 100: beyond it the
# payout is marked listed in part (transactions_truncated) rather than asked about without end.
PAYOUT_TRANSACTIONS_MAX_PAGES = 20
PAYOUT_TRANSACTIONS_PAGE_SIZE = 100
STRIPE_ID = re.compile(r"[a-z]{2,4}_[A-Za-z0-9_]{1,250}")


def _stripe_id(value, prefixes: tuple[str, ...]) -> str:
    """A Stripe object's id (or the id of an expanded object), if it looks like one; else ""."""
    if isinstance(value, dict):
        value = value.get("id")
    if isinstance(value, str) and STRIPE_ID.fullmatch(value) and value.startswith(prefixes):
        return value
    return ""


def payment_charge_note(*, payment_id: int, charge) -> bool:
    """Stripe named the attempt's charge (an id, or the charge itself with its balance
    transaction): both are kept, and the balance transaction is asked about once, by a worker
    (fetch_stripe_fee), for its fee and net. Returns whether it was queued; never twice for one
    payment, whatever events repeat it."""
    charge_id = _stripe_id(charge, ("ch_", "py_"))
    transaction_id = _stripe_id(charge.get("balance_transaction"), ("txn_",)) if isinstance(charge, dict) else ""
    if charge_id:
        Payment.objects.filter(pk=payment_id, stripe_charge_id="").update(stripe_charge_id=charge_id)
    if not transaction_id:
        return False
    claimed = Payment.objects.filter(pk=payment_id, stripe_balance_transaction_id="", stripe_fee__isnull=True).update(
        stripe_balance_transaction_id=transaction_id
    )
    if claimed:
        enqueue_on_commit(_fee_task(), payment_id)
    return bool(claimed)


def _balance_figures(balance_transaction: dict) -> dict | None:
    """The fee and net of a balance transaction in our terms (None if its currency is unknown)."""
    currency = str(balance_transaction.get("currency") or "").upper()
    fee, net = balance_transaction.get("fee"), balance_transaction.get("net")
    if currency not in CURRENCIES or not isinstance(fee, int) or not isinstance(net, int):
        return None
    return {
        "stripe_fee": from_minor_units(fee, currency),
        "stripe_net": from_minor_units(net, currency),
        "stripe_balance_currency": currency,
    }


def payment_fee_fetch(*, payment_id: int) -> bool:
    """Ask Stripe for the balance transaction of the attempt's charge (one call) and record its
    fee and net. Nothing to ask once they are known. Returns whether they were recorded now."""
    payment = Payment.objects.get(pk=payment_id)
    if payment.provider != PaymentProvider.STRIPE or payment.stripe_fee is not None:
        return False
    if not payment.stripe_balance_transaction_id:
        return False
    found = StripeProvider().client.v1.balance_transactions.retrieve(payment.stripe_balance_transaction_id)
    figures = _balance_figures(found.to_dict())
    if figures is None:
        logger.warning("Balance transaction %s: no fee in a known currency", payment.stripe_balance_transaction_id)
        return False
    return bool(Payment.objects.filter(pk=payment_id, stripe_fee__isnull=True).update(**figures))


def stripe_payout_record(*, payout: dict, event_type: str, at) -> str:
    """A payout.* event: the payout's amount, currency, status and arrival date recorded (an
    older event delivered late changes nothing). Once paid, a worker lists the payments it
    carried (link_stripe_payout)."""
    payout_id = _stripe_id(payout, ("po_",))
    currency = str(payout.get("currency") or "").upper()
    amount = payout.get("amount")
    if not payout_id or currency not in CURRENCIES or not isinstance(amount, int):
        return "not a payout"
    arrival = payout.get("arrival_date")
    values = {
        "amount": from_minor_units(amount, currency),
        "currency": currency,
        "status": str(payout.get("status") or "")[:32],
        "arrival_date": datetime.fromtimestamp(arrival, UTC).date() if isinstance(arrival, int) else None,
        "stripe_updated_at": at,
    }
    with transaction.atomic():
        record, created = StripePayout.objects.select_for_update().get_or_create(payout_id=payout_id, defaults=values)
        if not created and record.stripe_updated_at is not None and at < record.stripe_updated_at:
            return f"payout {payout_id} (older news, no change)"
        if not created:
            for field, value in values.items():
                setattr(record, field, value)
            record.save(update_fields=list(values))
        if record.status == "paid" and record.transactions_listed_at is None:
            enqueue_on_commit(_payout_task(), record.pk)
    return f"payout {payout_id} {record.status}"


def stripe_payout_link(*, payout_pk: int) -> int:
    """List a paid payout's balance transactions at Stripe (PAYOUT_TRANSACTIONS_MAX_PAGES pages at
    most) and link the payments whose charges it carried, recording their fee and net where not
    yet known. Returns how many payments were linked. Safe to run twice."""
    record = StripePayout.objects.get(pk=payout_pk)
    if record.transactions_listed_at is not None:
        return 0
    client = StripeProvider().client
    params = {"payout": record.payout_id, "limit": PAYOUT_TRANSACTIONS_PAGE_SIZE}
    carried: dict[str, dict] = {}
    truncated = False
    for page_number in range(PAYOUT_TRANSACTIONS_MAX_PAGES + 1):
        if page_number == PAYOUT_TRANSACTIONS_MAX_PAGES:
            truncated = True
            break
        page = client.v1.balance_transactions.list(params=params).to_dict()
        rows = page.get("data") or []
        for row in rows:
            source = _stripe_id(row.get("source"), ("ch_", "py_"))
            if source:
                carried[source] = row
        if not page.get("has_more") or not rows:
            break
        params["starting_after"] = rows[-1]["id"]
    linked = 0
    with transaction.atomic():
        payments = Payment.objects.select_for_update().filter(
            provider=PaymentProvider.STRIPE, stripe_charge_id__in=list(carried)
        )
        for payment in payments:
            row = carried[payment.stripe_charge_id]
            payment.payout = record
            fields = ["payout"]
            figures = _balance_figures(row)
            if payment.stripe_fee is None and figures is not None:
                for field, value in figures.items():
                    setattr(payment, field, value)
                payment.stripe_balance_transaction_id = str(row.get("id") or "")[:255]
                fields += [*figures, "stripe_balance_transaction_id"]
            payment.save(update_fields=[*fields, "updated_at"])
            linked += 1
        StripePayout.objects.filter(pk=record.pk).update(
            transactions_listed_at=timezone.now(), transactions_truncated=truncated
        )
    return linked


def payment_refund_record(*, payment_id: int, amount_refunded_minor: int, fully: bool) -> bool:
    """Stripe says money of this attempt went back (`charge.refunded`: made in its dashboard, or
    our own refund told again). Returns whether anything changed.

    The amount refunded only grows (an older event delivered late changes nothing). Refunded in
    full, the attempt is refunded, and its order too when no other successful payment remains
    (allocation's lifecycle: order_refund_record). The letters stay written. An attempt refunded
    before its success was heard is refunded all the same, so that success, arriving late, pays
    nothing (payment_confirm leaves a refunded attempt as it is)."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        fields = []
        refunded = from_minor_units(amount_refunded_minor, payment.currency)
        if refunded > payment.amount_refunded:
            payment.amount_refunded = refunded
            fields.append("amount_refunded")
        if fully and payment.status != PaymentStatus.REFUNDED:
            payment.status = PaymentStatus.REFUNDED
            fields.append("status")
        if payment.amount_refunded > 0 and payment.succeeded_at is None:
            # Refunded before its success was heard: the money came in all the same.
            payment.succeeded_at = timezone.now()
            fields.append("succeeded_at")
        if not fields:
            return False
        payment.save(update_fields=[*fields, "updated_at"])
        if payment.status == PaymentStatus.REFUNDED:
            _order_refund_if_unpaid(order_id=payment.order_id)
    return True


def _order_refund_if_unpaid(*, order_id: int, by=None) -> None:
    """A paid order none of whose payments still holds money is refunded (its letters stay)."""
    order = Order.objects.select_for_update().get(pk=order_id)
    if order.status == OrderStatus.PAID and not order.payments.filter(status=PaymentStatus.SUCCEEDED).exists():
        order_refund_record(order_id=order.pk, by=by)


def payment_dispute_record(*, payment_id: int, dispute: dict, at) -> bool:
    """Stripe tells of a dispute (chargeback) of this attempt's charge: its id, status, reason and
    amount are recorded, as of `at` (when Stripe made the event: an older one arriving late
    changes nothing). The order stays paid and its letters written, whatever the outcome; staff
    answer the dispute in Stripe. Returns whether anything changed."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.dispute_updated_at is not None and at < payment.dispute_updated_at:
            return False
        amount = dispute.get("amount")
        values = {
            "dispute_id": str(dispute.get("id") or "")[:255],
            "dispute_status": str(dispute.get("status") or "")[:32],
            "dispute_reason": str(dispute.get("reason") or "")[:64],
            "dispute_amount": from_minor_units(amount, payment.currency) if isinstance(amount, int) else None,
        }
        changed = any(getattr(payment, field) != value for field, value in values.items())
        for field, value in values.items():
            setattr(payment, field, value)
        payment.dispute_updated_at = at
        payment.save(update_fields=[*values, "dispute_updated_at", "updated_at"])
    return changed


def payment_alert_recipients() -> list[str]:
    """PAYMENTS_ALERT_EMAILS, else every active staff user with an email address."""
    if settings.PAYMENTS_ALERT_EMAILS:
        return list(settings.PAYMENTS_ALERT_EMAILS)
    users = get_user_model().objects.filter(is_staff=True, is_active=True).exclude(email="")
    return sorted(set(users.values_list("email", flat=True)))


def stripe_event_alert_send(*, stripe_event_id: int) -> bool:
    """Email staff what a refund or dispute event recorded, once per event (the event row stays
    locked while it goes out: a crash before the commit may send it twice, never lose it).
    Returns whether it was sent now."""
    with transaction.atomic():
        record = StripeEvent.objects.select_for_update().get(pk=stripe_event_id)
        if record.alerted_at is not None:
            return False
        payment = (
            Payment.objects.select_related("order")
            .filter(provider=PaymentProvider.STRIPE, reference=record.payment_intent_id)
            .first()
        )
        recipients = payment_alert_recipients()
        if payment is None or not recipients:
            logger.warning("Stripe event %s: no payment or no one to tell", record.event_id)
            return False
        order = payment.order
        amounts = {"refunded_amount": payment.amount_refunded, "disputed_amount": payment.dispute_amount or Decimal(0)}
        context = {
            "event": record,
            "payment": payment,
            "order": order,
            **{name: currency_quantize(amount, payment.currency) for name, amount in amounts.items()},
            "disputed": record.type in DISPUTE_EVENTS,
            "order_url": settings.SITE_URL + reverse("admin:allocation_order_change", args=[order.pk]),
            "payment_url": settings.SITE_URL + reverse("admin:payments_payment_change", args=[payment.pk]),
        }
        with translation.override(settings.LANGUAGE_CODE):
            if context["disputed"]:
                subject = _("Stripe: a dispute of order %(order)s (%(status)s)") % {
                    "order": order.pk,
                    "status": payment.dispute_status,
                }
            else:
                subject = _("Stripe: a refund of order %(order)s") % {"order": order.pk}
            body = render_to_string("emails/payment_alert.txt", context)
        EmailMessage(subject=subject, body=body, to=recipients).send()
        record.alerted_at = timezone.now()
        record.save(update_fields=["alerted_at"])
    return True


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
            try:
                provider.refund(payment=payment)
            except stripe.StripeError as error:
                raise ProviderUnavailable(str(error)) from error
        payment.status = PaymentStatus.REFUNDED
        # All of it, as Stripe's charge.refunded will say: that news then changes nothing more.
        payment.amount_refunded = payment.amount
        payment.save(update_fields=["status", "amount_refunded", "updated_at"])
        _order_refund_if_unpaid(order_id=payment.order_id, by=refunded_by)
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
