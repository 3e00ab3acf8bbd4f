"""What gifts does when allocation announces (connected in GiftsConfig.ready)."""

from django.dispatch import receiver

from allocation.models import Gift
from allocation.signals import letters_allocated
from core.tasks import enqueue

from .tasks import deliver_order_gifts


@receiver(letters_allocated, dispatch_uid="gifts-deliver")
def gifts_deliver_enqueue(sender, order_id, **kwargs):
    # Sent once the allocation committed (announce_on_commit): the task reads committed letters.
    # Most orders give no gift: one indexed look rather than a task queued and run for each.
    if Gift.objects.filter(name__order_id=order_id).exists():
        enqueue(deliver_order_gifts, order_id)
