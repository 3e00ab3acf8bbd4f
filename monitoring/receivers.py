"""What the other apps announce, counted in Redis (monitoring.counters) for /metrics."""

from django.dispatch import receiver

from allocation.signals import paid_orders_swept
from certificates.signals import certificates_queued_again
from payments.signals import webhook_failed
from receipts.signals import receipts_queued_again
from registrations.signals import import_refused

from .counters import counter_add


@receiver(paid_orders_swept, dispatch_uid="monitoring.paid_orders_swept")
def paid_orders_swept_count(sender, count, **kwargs):
    counter_add(counter="sweeper_catches", label="paid_orders_without_letters", amount=count)


@receiver(certificates_queued_again, dispatch_uid="monitoring.certificates_queued_again")
def certificates_queued_again_count(sender, count, **kwargs):
    counter_add(counter="sweeper_catches", label="certificates_queued_again", amount=count)


@receiver(receipts_queued_again, dispatch_uid="monitoring.receipts_queued_again")
def receipts_queued_again_count(sender, count, **kwargs):
    counter_add(counter="sweeper_catches", label="receipts_queued_again", amount=count)


@receiver(webhook_failed, dispatch_uid="monitoring.webhook_failed")
def webhook_failed_count(sender, reason, **kwargs):
    counter_add(counter="stripe_webhook_failures", label=reason)


@receiver(import_refused, dispatch_uid="monitoring.import_refused")
def import_refused_count(sender, step, **kwargs):
    counter_add(counter="imports_refused", label=step)
