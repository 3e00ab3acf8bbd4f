"""The order's lifecycle: the one place an order's status changes.

Every move is checked against ORDER_TRANSITIONS (allocation.models) under the order's row lock,
recorded in the order's history with the person who made it, and announced once it commits
(`allocation.signals.order_status_changed`). PostgreSQL refuses any other move, and any change
of a paid order's settled fields, with a trigger (allocation/migrations/0012).
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.signals import announce_on_commit

from ..models import ORDER_TRANSITIONS, Order, OrderCancellation, OrderStatus
from ..signals import order_status_changed, order_status_changing

logger = logging.getLogger(__name__)

# How many stale orders one run of the expiry cancels; the next run (a minute later) goes on.
EXPIRE_BATCH = 500


class OrderTransitionRefused(ValidationError):
    """The order cannot move from its status to the one asked."""


def _refusal(order: Order, to: str) -> OrderTransitionRefused:
    if to == OrderStatus.PAID and order.status == OrderStatus.REFUNDED:
        message = _("This order was refunded; it cannot be paid again.")
    elif order.status in (OrderStatus.PAID, OrderStatus.REFUNDED) and to == OrderStatus.CANCELLED:
        message = _("This order is paid: it cannot be cancelled (refund its payment instead).")
    else:
        message = _("Order %(order)s cannot go from %(old)s to %(new)s.") % {
            "order": order.pk,
            "old": order.get_status_display(),
            "new": OrderStatus(to).label,
        }
    return OrderTransitionRefused(message, code="order_transition_refused")


def order_transition(
    *,
    order_id: int,
    to: str,
    by=None,
    cancellation: str = "",
    now=None,
    locked: Order | None = None,
    savepoint: bool = True,
) -> Order:
    """Move an order to status `to`, under its row lock (inside the caller's transaction if
    any). Raises OrderTransitionRefused for a move not in ORDER_TRANSITIONS. `by` is the person
    who made it, named in the order's history (else the request's user, if any); a cancellation
    says why (OrderCancellation). Announces order_status_changed once committed. `locked` is the
    order when the caller's transaction holds its row lock already (select_for_update): not read
    again.

    A savepoint of its own: a listener of order_status_changing may refuse the move (raise), and
    the move is undone while a caller that catches that carries on in its transaction.
    `savepoint=False` where the caller's whole transaction fails with such a refusal (it lets the
    exception through): two statements less."""
    now = now or timezone.now()
    with transaction.atomic(savepoint=savepoint):
        order = locked if locked is not None else Order.objects.select_for_update().get(pk=order_id)
        old = order.status
        refusal = _refusal(order, to) if to not in ORDER_TRANSITIONS[old] else None
        if refusal is None:
            _order_move(order=order, to=to, by=by, cancellation=cancellation, now=now)
    if refusal is not None:
        raise refusal
    logger.info("Order %s: %s -> %s", order_id, old, to)
    return order


def _order_move(*, order: Order, to: str, by, cancellation: str, now) -> None:
    old = order.status
    order.status = to
    fields = ["status"]
    if to == OrderStatus.PAID:
        order.paid_at = now
        fields.append("paid_at")
    elif to == OrderStatus.CANCELLED:
        order.cancelled_at, order.cancellation = now, cancellation or OrderCancellation.STAFF
        fields += ["cancelled_at", "cancellation"]
    if by is not None:
        order._history_user = by
    order.save(update_fields=fields)
    order_status_changing.send(sender=Order, order=order, old=old, new=to)
    announce_on_commit(
        order_status_changed,
        sender=Order,
        order_id=order.pk,
        campaign_id=order.campaign_id,
        team_id=order.team_id,
        old=old,
        new=to,
        cancellation=order.cancellation if to == OrderStatus.CANCELLED else "",
    )


def order_mark_paid(*, order_id: int, by=None, locked: Order | None = None) -> Order:
    """Record that an order is paid. Idempotent: a paid or refunded order stays as it is. A
    cancelled (expired) one is paid all the same: money that arrives is honoured. `by` is the
    person who says so (an offline payment), named in the order's history; `locked` as for
    order_transition, given by a caller whose transaction fails whole if the move is refused (no
    savepoint for it)."""
    with transaction.atomic(savepoint=False):
        order = locked if locked is not None else Order.objects.select_for_update().get(pk=order_id)
        if order.status in (OrderStatus.PAID, OrderStatus.REFUNDED):
            return order
        return order_transition(order_id=order_id, to=OrderStatus.PAID, by=by, locked=order, savepoint=locked is None)


def order_cancel(*, order_id: int, by=None, cancellation: str = OrderCancellation.STAFF) -> Order:
    """Cancel an unpaid order. Its open card payments are cancelled at the provider by payments,
    which listens; a payment that succeeds after all still pays it."""
    return order_transition(order_id=order_id, to=OrderStatus.CANCELLED, by=by, cancellation=cancellation)


def order_refund_record(*, order_id: int, by=None) -> Order:
    """Record that a paid order's money went back (payments decides when). Its letters stay."""
    return order_transition(order_id=order_id, to=OrderStatus.REFUNDED, by=by)


def order_expires_at(*, order: Order):
    """When a pending order is cancelled if still unpaid."""
    return order.created_at + timedelta(minutes=settings.PENDING_ORDER_TTL_MINUTES)


def orders_expire_pending(*, now=None, limit: int = EXPIRE_BATCH) -> int:
    """Cancel the orders still pending PENDING_ORDER_TTL_MINUTES after they were made (at most
    `limit` a run, oldest first). Each is its own transaction, so one that a payment is marking
    paid meanwhile is skipped (it is no longer pending once its lock is ours). Returns how many."""
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=settings.PENDING_ORDER_TTL_MINUTES)
    stale = list(
        Order.objects.filter(status=OrderStatus.PENDING, created_at__lte=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    expired = 0
    for order_id in stale:
        with transaction.atomic():
            order = Order.objects.select_for_update().filter(pk=order_id, status=OrderStatus.PENDING).first()
            if order is None:
                continue
            order_transition(
                order_id=order_id, to=OrderStatus.CANCELLED, cancellation=OrderCancellation.EXPIRED, now=now
            )
            expired += 1
    if expired:
        logger.info("%d pending orders expired", expired)
    return expired
