"""What gifts does when allocation announces (connected in GiftsConfig.ready)."""

from django.dispatch import receiver

from allocation.signals import letters_allocated
from core.tasks import enqueue

from .tasks import deliver_order_gifts


@receiver(letters_allocated, dispatch_uid="gifts-deliver")
def gifts_deliver_enqueue(sender, order_id, gives_gifts, **kwargs):
    # Sent once the allocation committed (announce_on_commit): the task reads committed letters.
    # Most orders give no gift, and the order says so (Order.gives_gifts): no task, no query.
    if gives_gifts:
        enqueue(deliver_order_gifts, order_id)
