"""Allocation's own follow-up work, queued when allocation announces it (connected in
AllocationConfig.ready): services announce, and never import the tasks that run them."""

from django.dispatch import receiver

from core.tasks import enqueue

from .signals import allocation_failed, letters_allocated
from .tasks import allocate_order, send_order_confirmation


@receiver(letters_allocated, dispatch_uid="allocation-confirmation")
def confirmation_enqueue(sender, order_id, **kwargs):
    enqueue(send_order_confirmation, order_id)


@receiver(allocation_failed, dispatch_uid="allocation-retry")
def allocation_retry_enqueue(sender, order_id, **kwargs):
    enqueue(allocate_order, order_id)
