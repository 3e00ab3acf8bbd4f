import logging

from celery import shared_task
from django.conf import settings
from django.db import transaction

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


def order_letters_allocated_enqueue(*, order_id):
    """What follows an allocation, queued once the allocating transaction commits."""
    from certificates.tasks import issue_order_certificates  # certificates builds on allocation

    enqueue_on_commit(send_order_confirmation, order_id)
    if settings.CERTIFICATES_ISSUE_WHEN_ALLOCATED:
        enqueue_on_commit(issue_order_certificates, order_id)


def order_allocate_enqueue(*, order_id):
    enqueue_on_commit(allocate_order, order_id)


def enqueue_on_commit(task, *args):
    """Queue a task once the current transaction commits. If the broker is down the sweeper
    still finds the work, so a failure to enqueue is logged, not raised."""

    def send():
        try:
            task.delay(*args)
        except Exception:
            logger.exception("Could not enqueue %s%s", task.name, args)

    transaction.on_commit(send)
