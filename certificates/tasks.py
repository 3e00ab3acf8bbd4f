import logging

from celery import shared_task
from django.core.cache import cache

from . import services
from .signals import certificates_queued_again

logger = logging.getLogger(__name__)

# The sweeper queues an order again only after this long: the task may simply be waiting its
# turn behind a large order on the certificates queue.
SWEEP_REQUEUE_SECONDS = 1800


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=600, max_retries=8)
def issue_order_certificates(order_id):
    services.order_certificates_issue(order_id=order_id)


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=600, max_retries=8)
def build_order_booklet(order_id):
    services.order_booklet_build(order_id=order_id)


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=600, max_retries=8)
def redraw_certificate(name_id):
    services.certificate_redraw(name_id=name_id)


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def send_letters_lookup(email, language=""):
    services.letters_lookup_send(email=email, language=language)


@shared_task
def issue_missing_certificates():
    """Periodic sweeper: allocated orders whose certificates were not all issued and emailed
    a few minutes on (a worker died mid-task, or the broker was down) are queued again."""
    queued = 0
    for order_id in services.orders_certificates_pending():
        if cache.add(f"certificates:swept:{order_id}", 1, timeout=SWEEP_REQUEUE_SECONDS):
            issue_order_certificates.delay(order_id)
            queued += 1
    if queued:
        logger.warning("Sweeper queued the certificates of %d orders", queued)
        certificates_queued_again.send_robust(sender=issue_missing_certificates, count=queued)
