"""The buyer's confirmation email: the link to their letters, once per order."""

from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.selectors import order_language

from ..models import Order
from ..selectors import order_letters_describe


def order_confirmation_send(*, order_id: int) -> bool:
    """Email the buyer the link to their letters, once. Returns whether it was sent now.

    The order row stays locked while the message goes out, so two workers never both send;
    a crash after sending and before the commit can repeat it (at least once, never lost).
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().select_related("campaign").get(pk=order_id)
        if order.confirmation_sent_at or not order.allocated_at or not order.buyer_email:
            return False
        context = {
            "order": order,
            "names": order_letters_describe(order=order, viewer=None),
            "done_url": f"{settings.SITE_URL}{reverse('order-done', kwargs={'token': order.token})}",
        }
        with translation.override(order_language(order=order)):
            subject = _("Your letters in the %(campaign)s") % {"campaign": order.campaign.name}
            message = EmailMultiAlternatives(
                subject=subject,
                body=render_to_string("emails/order_confirmation.txt", context),
                to=[order.buyer_email],
            )
            message.attach_alternative(render_to_string("emails/order_confirmation.html", context), "text/html")
        message.send()
        # The machine's mark: saved without a history record (docs, Audit).
        order.confirmation_sent_at = timezone.now()
        Order.objects.filter(pk=order.pk).update(confirmation_sent_at=order.confirmation_sent_at)
    return True


def orders_confirmation_pending(*, older_than_seconds: int = 300) -> list[int]:
    """Allocated orders whose confirmation email has not gone out (the sweeper resends)."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    return list(
        Order.objects.filter(allocated_at__lte=cutoff, confirmation_sent_at__isnull=True)
        .exclude(buyer_email="")
        .values_list("id", flat=True)
    )
