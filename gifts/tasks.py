from celery import shared_task

from core.tasks import enqueue

from . import services


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=600, max_retries=8)
def deliver_order_gifts(order_id):
    """The gifts of an order whose day has come (or with no day), once its letters are
    allocated. Safe to run twice: each gift is delivered under its row lock, once."""
    for gift_id in services.gifts_deliver_due(order_id=order_id):
        enqueue(tell_buyer_gift_delivered, gift_id)


@shared_task(acks_late=True)
def deliver_due_gifts():
    """Periodic (hourly): every gift whose day has come in its campaign's time zone, and any an
    order's task missed (the broker was down, a worker died); buyers not yet told are told."""
    services.gifts_deliver_due()
    services.gifts_buyers_tell()


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=600, max_retries=8)
def tell_buyer_gift_delivered(gift_id):
    services.gift_buyer_tell(gift_id=gift_id)
