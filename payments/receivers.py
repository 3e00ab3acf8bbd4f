"""What payments does when allocation announces a change of an order (connected in
PaymentsConfig.ready)."""

from django.dispatch import receiver

from allocation.models import OrderStatus
from allocation.signals import order_status_changed
from core.tasks import enqueue

from .tasks import cancel_order_card_payments


@receiver(order_status_changed, dispatch_uid="payments-cancel-card-attempts")
def card_payments_cancel_enqueue(sender, order_id, new, **kwargs):
    if new == OrderStatus.CANCELLED:
        enqueue(cancel_order_card_payments, order_id)
