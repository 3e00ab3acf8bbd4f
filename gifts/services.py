"""Delivering gifts: the recipient's e-card, exactly once, and the buyer told.

Exactly once (docs/architecture.md, "Gifts"): a gift is delivered inside one transaction that
holds its row lock (SELECT ... FOR UPDATE), checks it is still waiting, hands the e-card to the
mail server and marks it delivered. Two workers never both send it: the second waits for the
lock and finds it delivered. A worker killed before the mail server accepted the e-card leaves
the gift waiting (its transaction rolls back with its connection): it is sent again, once. The
one window left is a kill between the server's acceptance and the COMMIT (milliseconds): that
e-card is sent twice (at least once, never lost)."""

import datetime
import logging
import smtplib
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from allocation.models import DEDICATION_HEBREW, Gift, GiftState, OrderStatus
from allocation.selectors import names_letters_describe

logger = logging.getLogger(__name__)

# The mail server's refusals that say this address will never take it: shown to the buyer.
PERMANENT_REFUSALS = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError)


def _campaign_today(campaign) -> datetime.date:
    return timezone.localdate(timezone=ZoneInfo(campaign.time_zone))


def _due(gift: Gift) -> bool:
    order = gift.name.order
    return (
        gift.state == GiftState.WAITING
        and order.status == OrderStatus.PAID
        and hasattr(gift.name, "letter")
        and (gift.deliver_on is None or gift.deliver_on <= _campaign_today(order.campaign))
    )


def gifts_deliver_due(*, order_id: int | None = None) -> list[int]:
    """Deliver every waiting gift whose day has come (of one order, or of all); returns the ids
    delivered. Gifts are few: the waiting ones are read, each checked against its campaign's day."""
    # The latest day anywhere (UTC+14): a day not come anywhere is not looked at.
    latest = (timezone.now() + datetime.timedelta(hours=14)).date()
    waiting = Gift.objects.filter(state=GiftState.WAITING, name__letter__isnull=False, name__order__status="paid")
    if order_id is not None:
        waiting = waiting.filter(name__order_id=order_id)
    candidates = waiting.exclude(deliver_on__gt=latest).order_by("id").values_list("id", flat=True)
    return [gift_id for gift_id in list(candidates) if gift_deliver(gift_id=gift_id)]


def gift_deliver(*, gift_id: int) -> bool:
    """Send one gift's e-card if it is due and still waiting, and record it; True if sent now.
    A permanent refusal by the mail server marks it failed, with the reason, for the buyer to
    correct; a server that cannot be reached raises (the task retries, the gift stays waiting)."""
    with transaction.atomic():
        gift = (
            Gift.objects.select_for_update(of=("self",))
            .select_related("name__order__campaign", "name__letter__scroll")
            .get(pk=gift_id)
        )
        if not _due(gift):
            return False
        gift.attempts += 1
        try:
            gift_ecard_message(gift=gift).send()
        except PERMANENT_REFUSALS as error:
            gift.state, gift.failure = GiftState.FAILED, _refusal_text(error)[:500]
            gift.save(update_fields=["state", "failure", "attempts"])
            logger.warning("Gift %s refused by the mail server: %s", gift_id, gift.failure)
            return False
        gift.state, gift.delivered_at, gift.failure = GiftState.DELIVERED, timezone.now(), ""
        gift.save(update_fields=["state", "delivered_at", "failure", "attempts"])
    logger.info("Gift %s delivered", gift_id)
    return True


def _refusal_text(error) -> str:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{code} {message.decode(errors='replace') if isinstance(message, bytes) else message}"
            for code, message in error.recipients.values()
        )
    code, message = getattr(error, "smtp_code", ""), getattr(error, "smtp_error", b"")
    return f"{code} {message.decode(errors='replace') if isinstance(message, bytes) else message}"


def gift_describe(*, gift: Gift) -> dict:
    """What the e-card and the recipient's page show: the letter (as the public sees it), the
    name, the dedication, the giver's name as written and the message. Nothing of the buyer."""
    name = gift.name
    [described] = names_letters_describe(names=[name], campaign=name.order.campaign, viewer=None)
    return {
        "gift": gift,
        "name": name,
        "campaign": name.order.campaign,
        "letter": described["letter"],
        "dedication_hebrew": DEDICATION_HEBREW.get(name.dedication_kind, ""),
        "page_url": f"{settings.SITE_URL}{reverse('gift-page', kwargs={'token': gift.token})}",
    }


def gift_ecard_message(*, gift: Gift, connection=None) -> EmailMultiAlternatives:
    context = gift_describe(gift=gift)
    with translation.override(gift.language):
        subject = _("A letter in a Sefer Torah, given to you")
        message = EmailMultiAlternatives(
            subject=subject,
            body=render_to_string("emails/gift_ecard.txt", context),
            to=[gift.recipient_email],
            connection=connection,
        )
        message.attach_alternative(render_to_string("emails/gift_ecard.html", context), "text/html")
    return message


def _buyer_address(order) -> str:
    return order.buyer_email or (order.created_by.email if order.created_by_id else "")


def gift_buyer_tell(*, gift_id: int) -> bool:
    """Tell the buyer, once, in the order's language, that a gift was delivered; True if told
    now. The same lock and mark as the e-card's (an order without an address is marked told)."""
    with transaction.atomic():
        gift = (
            Gift.objects.select_for_update(of=("self",))
            .select_related("name__order__campaign", "name__order__created_by")
            .get(pk=gift_id)
        )
        if gift.state != GiftState.DELIVERED or gift.buyer_told_at is not None:
            return False
        order = gift.name.order
        address = _buyer_address(order)
        if address:
            path = reverse("order-done", kwargs={"token": order.token})
            context = {"gift": gift, "name": gift.name, "order_url": f"{settings.SITE_URL}{path}"}
            with translation.override(order.language or settings.LANGUAGE_CODE):
                EmailMultiAlternatives(
                    subject=_("Your gift was delivered to %(recipient)s") % {"recipient": gift.recipient_name},
                    body=render_to_string("emails/gift_delivered.txt", context),
                    to=[address],
                ).send()
        gift.buyer_told_at = timezone.now()
        gift.save(update_fields=["buyer_told_at"])
    return bool(address)


def gifts_buyers_tell() -> int:
    """Every buyer not yet told of a delivered gift (the task that should have was lost)."""
    ids = Gift.objects.filter(state=GiftState.DELIVERED, buyer_told_at__isnull=True).values_list("id", flat=True)
    return sum(gift_buyer_tell(gift_id=gift_id) for gift_id in list(ids))


def gift_resend(*, order_token: str, gift_id: int, recipient_email: str) -> Gift:
    """The buyer corrects a gift's address (one that failed, or still waits) and it is sent
    again at its day. Only by the order's own token (PermissionDenied otherwise); a delivered
    gift is not sent again (ValidationError, nothing changed)."""
    recipient_email = str(recipient_email or "").strip()
    try:
        validate_email(recipient_email)
    except ValidationError as error:
        raise ValidationError({"recipient_email": [_("Give the recipient's email address.")]}) from error
    with transaction.atomic():
        gift = Gift.objects.select_for_update(of=("self",)).select_related("name__order").filter(pk=gift_id).first()
        if gift is None or gift.name.order.token != order_token:
            raise PermissionDenied
        if gift.state == GiftState.DELIVERED:
            raise ValidationError(_("This gift was delivered already."))
        gift.recipient_email, gift.state, gift.failure = recipient_email, GiftState.WAITING, ""
        gift.save(update_fields=["recipient_email", "state", "failure"])
    return gift
