import logging

from celery import shared_task
from django.db import transaction

from . import services

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=8)
def allocate_order(order_id):
    services.order_allocate(order_id=order_id)


@shared_task
def allocate_paid_orders():
    """Periodic sweeper: paid orders whose allocation was interrupted get their letters."""
    count = services.orders_allocate_pending()
    if count:
        logger.warning("Sweeper allocated letters for %d paid orders", count)


def order_allocate_enqueue(*, order_id):
    """Queue an allocation once the current transaction commits. If the broker is down the
    sweeper still finds the order, so a failure to enqueue is logged, not raised."""

    def send():
        try:
            allocate_order.delay(order_id)
        except Exception:
            logger.exception("Could not enqueue allocation of order %s", order_id)

    transaction.on_commit(send)
