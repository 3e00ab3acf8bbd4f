"""What receipts does when an order moves (connected in ReceiptsConfig.ready)."""

from django.conf import settings
from django.dispatch import receiver

from allocation.models import OrderStatus
from allocation.signals import order_status_changing
from core.tasks import enqueue_on_commit

from .services import receipt_cancel, receipt_issue
from .tasks import deliver_receipt


@receiver(order_status_changing, dispatch_uid="receipts-number")
def receipt_number_with_the_money(sender, order, old, new, **kwargs):
    """Inside the transaction that records the payment (or the refund): the number commits or
    rolls back with it, and once it committed a worker draws and emails it (the receipt known
    here: nothing is read again for it)."""
    if new == OrderStatus.PAID:
        issued = receipt_issue(order=order)
    elif new == OrderStatus.REFUNDED:
        issued = receipt_cancel(order=order)
    else:
        return
    if (
        issued is not None
        and settings.RECEIPTS_DELIVER_WHEN_ISSUED
        and (issued.drawn_at is None or issued.emailed_at is None)
    ):
        enqueue_on_commit(deliver_receipt, issued.pk)
