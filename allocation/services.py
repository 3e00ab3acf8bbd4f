"""Orders and the allocation of their letters.

Lock order, everywhere: the order row, then the campaign row, then its scrolls. The campaign row
is the point where allocations of one campaign queue up; locking it (rather than only the open
scroll) means a waiter that wakes after a scroll filled finds the scroll opened in its place.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from scrolls.models import Campaign, Scroll, ScrollState
from scrolls.services import scroll_mark_full_and_open_next

from .models import Gender, Letter, Name, Order, OrderChannel, OrderStatus
from .validators import normalize_hebrew_name, validate_hebrew_name

logger = logging.getLogger(__name__)

LETTER_BATCH_SIZE = 5000
NAME_FIELDS = (
    "hebrew_name",
    "parent_hebrew_name",
    "gender",
    "family_name",
    "english_name",
    "deceased",
    "date_of_birth",
    "city",
    "country",
)


@dataclass(frozen=True)
class Buyer:
    name: str = ""
    email: str = ""
    phone: str = ""


def name_clean(*, data: dict) -> dict:
    """Normalise and validate one name; raise ValidationError keyed by field."""
    cleaned = {field: data.get(field) for field in NAME_FIELDS}
    errors = {}
    for field in ("hebrew_name", "parent_hebrew_name"):
        cleaned[field] = normalize_hebrew_name(cleaned[field])
        try:
            validate_hebrew_name(cleaned[field])
        except ValidationError as error:
            errors[field] = error.messages
    if cleaned["gender"] not in Gender.values:
        errors["gender"] = [_("Choose male (ben) or female (bas).")]
    for field in ("family_name", "english_name", "city"):
        cleaned[field] = (cleaned[field] or "").strip()
    cleaned["country"] = (cleaned["country"] or "").strip().upper()
    cleaned["deceased"] = bool(cleaned["deceased"])
    if errors:
        raise ValidationError(errors)
    return cleaned


def order_amount_suggested(*, campaign: Campaign, name_count: int) -> Decimal:
    return campaign.price * name_count


def order_create(
    *,
    campaign: Campaign,
    names: list[dict],
    buyer: Buyer = Buyer(),
    created_by=None,
    channel: str = OrderChannel.ONLINE,
    amount: Decimal | None = None,
    allow_custom_price: bool = False,
) -> Order:
    """Create a pending order with its names. Nothing is saved unless every name is valid."""
    if not campaign.active:
        raise ValidationError({"campaign": [_("This campaign is not taking names now.")]})
    if not names:
        raise ValidationError({"names": [_("Add at least one name.")]})
    cleaned_names = []
    errors = {}
    for index, data in enumerate(names):
        try:
            cleaned_names.append(name_clean(data=data))
        except ValidationError as error:
            errors[index] = error.message_dict
    if errors:
        raise ValidationError({"names": [errors]})
    if not buyer.email and created_by is None:
        raise ValidationError({"buyer": [_("Give the buyer's email address.")]})

    suggested = order_amount_suggested(campaign=campaign, name_count=len(cleaned_names))
    if amount is None:
        amount = suggested
    elif amount < suggested and not allow_custom_price:
        raise ValidationError(
            {"amount": [_("The amount cannot be less than %(suggested)s.") % {"suggested": suggested}]}
        )

    with transaction.atomic():
        order = Order.objects.create(
            campaign=campaign,
            buyer_name=buyer.name,
            buyer_email=buyer.email,
            buyer_phone=buyer.phone,
            created_by=created_by,
            channel=channel,
            amount=amount,
            currency=campaign.currency,
        )
        Name.objects.bulk_create(
            [Name(order=order, **data) for data in cleaned_names], batch_size=LETTER_BATCH_SIZE
        )
    return order


def _next_positions(*, scroll: Scroll, count: int) -> list[int]:
    """The next `count` free positions of a scroll in the order they are given out.

    The caller holds the campaign lock, so `last_position` cannot move under us.
    """
    first = scroll.last_position + 1
    last = min(scroll.total_letters, scroll.last_position + count)
    return list(range(first, last + 1))


def order_allocate(*, order_id: int) -> list[Letter]:
    """Give every name of a paid order a letter; consecutive positions, spilling into the next
    scroll when this one fills. Safe to call any number of times: names that already hold a
    letter are skipped, and an order that is not paid gets nothing."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status != OrderStatus.PAID:
            logger.info("Order %s is %s; no letters allocated", order_id, order.status)
            return []
        waiting = list(order.names.filter(letter__isnull=True).order_by("id").only("id"))
        now = timezone.now()
        if not waiting:
            if order.allocated_at is None:
                order.allocated_at = now
                order.save(update_fields=["allocated_at"])
            return []

        Campaign.objects.select_for_update().only("id").get(pk=order.campaign_id)
        scroll = Scroll.objects.select_for_update().get(
            campaign_id=order.campaign_id, state=ScrollState.OPEN
        )
        letters = []
        while waiting:
            positions = _next_positions(scroll=scroll, count=len(waiting))
            batch = [
                Letter(scroll=scroll, position=position, name=name, allocated_at=now)
                for position, name in zip(positions, waiting)
            ]
            Letter.objects.bulk_create(batch, batch_size=LETTER_BATCH_SIZE)
            letters.extend(batch)
            waiting = waiting[len(batch) :]
            if batch:
                scroll.last_position = positions[-1]
                scroll.letters_allocated += len(batch)
                scroll.save(update_fields=["last_position", "letters_allocated"])
            if scroll.last_position == scroll.total_letters:
                scroll = scroll_mark_full_and_open_next(scroll=scroll)

        order.allocated_at = now
        order.save(update_fields=["allocated_at"])
    logger.info("Order %s: %d letters allocated", order_id, len(letters))
    return letters


def order_mark_paid(*, order_id: int) -> Order:
    """Record that an order is paid. Idempotent: a paid or refunded order stays as it is."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status in (OrderStatus.PENDING, OrderStatus.CANCELLED):
            # Money that arrives for an abandoned order is honoured, never turned away.
            order.status = OrderStatus.PAID
            order.paid_at = timezone.now()
            order.save(update_fields=["status", "paid_at"])
    return order


def order_fulfil(*, order_id: int) -> Order:
    """Mark paid, then allocate. The two steps commit separately: if allocation fails, the
    payment is still recorded and the sweeper (allocation.tasks) allocates later."""
    order_mark_paid(order_id=order_id)
    try:
        order_allocate(order_id=order_id)
    except Exception:
        logger.exception("Allocation of order %s failed; the sweeper will retry", order_id)
        from .tasks import order_allocate_enqueue

        order_allocate_enqueue(order_id=order_id)
    return Order.objects.get(pk=order_id)


def orders_allocate_pending(*, older_than_seconds: int = 60) -> int:
    """The sweeper: allocate every paid order still waiting for letters. Returns how many."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    order_ids = list(
        Order.objects.filter(
            status=OrderStatus.PAID, allocated_at__isnull=True, paid_at__lte=cutoff
        ).values_list("id", flat=True)
    )
    for order_id in order_ids:
        order_allocate(order_id=order_id)
    return len(order_ids)
