import logging

from celery import shared_task

from . import services

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=8)
def allocate_order(order_id):
    services.order_allocate(order_id=order_id)


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=8)
def send_order_confirmation(order_id):
    services.order_confirmation_send(order_id=order_id)


@shared_task
def allocate_paid_orders():
    """Periodic sweeper: paid orders whose allocation was interrupted get their letters, and
    allocated orders whose confirmation email was lost get it."""
    count = services.orders_allocate_pending()
    if count:
        logger.warning("Sweeper allocated letters for %d paid orders", count)
    for order_id in services.orders_confirmation_pending():
        send_order_confirmation.delay(order_id)


@shared_task
def expire_pending_orders():
    """Periodic: cancel the orders nobody paid within PENDING_ORDER_TTL_MINUTES."""
    services.orders_expire_pending()
