import logging

from celery import shared_task
from django.core.cache import cache

from . import services
from .signals import receipts_queued_again

logger = logging.getLogger(__name__)

# The sweeper queues a receipt again only after this long: its task may be waiting its turn
# behind a large order's certificates on the same queue.
SWEEP_REQUEUE_SECONDS = 1800


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=600, max_retries=8)
def deliver_receipt(receipt_id):
    services.receipt_deliver(receipt_id=receipt_id)


@shared_task
def deliver_missing_receipts():
    """Periodic sweeper: receipts issued a few minutes ago and still not drawn or emailed (a
    worker died, or the broker was down) are queued again."""
    queued = 0
    for receipt_id in services.receipts_undelivered():
        if cache.add(f"receipts:swept:{receipt_id}", 1, timeout=SWEEP_REQUEUE_SECONDS):
            deliver_receipt.delay(receipt_id)
            queued += 1
    if queued:
        logger.warning("Sweeper queued %d receipts", queued)
        receipts_queued_again.send_robust(sender=deliver_missing_receipts, count=queued)


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def send_statement(email, year, language=""):
    services.statement_send(email=email, year=year, language=language)
