from celery import shared_task

from . import services


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def cancel_order_card_payments(order_id):
    services.order_card_payments_cancel(order_id=order_id)


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def send_payment_alert(stripe_event_id):
    services.stripe_event_alert_send(stripe_event_id=stripe_event_id)


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def fetch_stripe_fee(payment_id):
    services.payment_fee_fetch(payment_id=payment_id)


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def link_stripe_payout(payout_pk):
    services.stripe_payout_link(payout_pk=payout_pk)
