"""A gift's recipient as a person of their own (core.privacy): an address that was given a
letter can ask what is held about it, and have it erased, as a buyer can. The gifts of the
address's own orders are the orders' shredder's (privacy), which erases them with the order."""

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from allocation.models import Gift
from core.privacy import Shredder, Subject


def _when(value):
    return value.isoformat() if value else None


def _received(subject: Subject):
    """The gifts given to the address, but not in its own orders."""
    if not subject.email:  # a retention by age: the orders' shredder erases their gifts
        return Gift.objects.none()
    return Gift.objects.filter(recipient_email__iexact=subject.email).exclude(Q(name__order_id__in=subject.order_ids))


class GiftsReceivedShredder(Shredder):
    """Gifts given to the address: the recipient's name and address and the message to them.
    Erased by deleting the gift (its letter, the giver's, stays in its scroll): a gift has no
    recipient without them, and one not yet delivered is delivered to nobody."""

    identifier = "gifts_received"
    verbose_name = _("Gifts received")
    position = 45  # before the orders' shredder, which sees only the address's own orders

    def export(self, *, subject: Subject):
        gifts = _received(subject).select_related("name__order__campaign").order_by("pk")
        return [
            {
                "recipient_name": gift.recipient_name,
                "recipient_email": gift.recipient_email,
                "giver_name": gift.giver_name,
                "message": gift.message,
                "language": gift.language,
                "campaign": gift.name.order.campaign.slug,
                "name": gift.name.display_name,
                "state": gift.state,
                "deliver_on": _when(gift.deliver_on),
                "delivered_at": _when(gift.delivered_at),
            }
            for gift in gifts
        ]

    def erase(self, *, subject: Subject, now) -> int:
        deleted, _ = _received(subject).delete()
        return deleted


def gifts_shredders(sender, **kwargs) -> list[Shredder]:
    """gifts' answer to core.privacy.shredders_register (GiftsConfig.ready)."""
    return [GiftsReceivedShredder()]
