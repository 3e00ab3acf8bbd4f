"""What receipts does when an order moves (connected in ReceiptsConfig.ready)."""

from django.conf import settings
from django.dispatch import receiver

from allocation.models import OrderStatus
from allocation.signals import order_status_changed, order_status_changing
from core.tasks import enqueue

from .services import order_receipts_to_deliver, receipt_cancel, receipt_issue
from .tasks import deliver_receipt


@receiver(order_status_changing, dispatch_uid="receipts-number")
def receipt_number_with_the_money(sender, order, old, new, **kwargs):
    """Inside the transaction that records the payment (or the refund): the number commits or
    rolls back with it."""
    if new == OrderStatus.PAID:
        receipt_issue(order=order)
    elif new == OrderStatus.REFUNDED:
        receipt_cancel(order=order)


@receiver(order_status_changed, dispatch_uid="receipts-deliver")
def receipt_deliver_enqueue(sender, order_id, new, **kwargs):
    """Once committed: the PDF is drawn and emailed by a worker."""
    if new in (OrderStatus.PAID, OrderStatus.REFUNDED) and settings.RECEIPTS_DELIVER_WHEN_ISSUED:
        for receipt_id in order_receipts_to_deliver(order_id=order_id):
            enqueue(deliver_receipt, receipt_id)
