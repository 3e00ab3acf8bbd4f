"""Orders and the allocation of their letters.

Lock order, everywhere: the order row, then the campaign row, then its scrolls. The campaign row
is the point where allocations of one campaign queue up; locking it (rather than only the open
scroll) means a waiter that wakes after a scroll filled finds the scroll opened in its place.
"""

import datetime
import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history

from accounts.selectors import order_language
from scrolls.models import Campaign, Scroll, ScrollState
from scrolls.services import scroll_mark_full_and_open_next

from .lottery import lottery_order
from .models import Gender, Letter, Name, Order, OrderChannel, OrderStatus, Reservation
from .selectors import scroll_reserved_positions
from .validators import has_invisible_characters, normalize_hebrew_name, validate_hebrew_name

logger = logging.getLogger(__name__)

LETTER_BATCH_SIZE = 5000
GENDERS = frozenset(Gender.values)  # Gender.values builds a list on every call
_COUNTRY_CODE = re.compile("[A-Z]{2}")
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


class OrderNamesInvalid(ValidationError):
    """Some names of an order are refused; `errors_by_row` maps each refused row's index (from
    0) to its errors by field. `message_dict` has the shape of the API's serializer errors,
    {"names": {"3": {"date_of_birth": ["..."]}}}, so every path reports a row the same way."""

    def __init__(self, errors_by_row: dict[int, dict[str, list[str]]]):
        self.errors_by_row = errors_by_row
        # Flat messages for code that reads error_dict / messages, each naming its row.
        super().__init__(
            {
                "names": [
                    _("Name %(number)d: %(message)s") % {"number": index + 1, "message": message}
                    for index, fields in errors_by_row.items()
                    for messages in fields.values()
                    for message in messages
                ]
            }
        )

    @property
    def message_dict(self):
        return {"names": {str(index): fields for index, fields in self.errors_by_row.items()}}


def campaign_today(*, campaign: Campaign) -> datetime.date:
    """Today in the campaign's time zone: the day of purchase for age limits."""
    return timezone.localdate(timezone=ZoneInfo(campaign.time_zone))


def _age_on(day: datetime.date, *, born: datetime.date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _date_of_birth_parse(value) -> datetime.date | None:
    """A date of birth as the API (a date), a form (a date) or a spreadsheet (text) gives it;
    ValueError when it is not a real day."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if not isinstance(value, str):
        raise ValueError(value)
    parsed = parse_date(value.strip())  # ValueError for a well-formed non-day (2020-02-30)
    if parsed is None:
        raise ValueError(value)
    return parsed


def _eligibility_errors(*, cleaned: dict, campaign: Campaign, today: datetime.date) -> dict:
    """The campaign's own rules for a name (who it is for), by field."""
    if not campaign.requires_date_of_birth:
        return {}
    born = cleaned["date_of_birth"]
    if born is None:
        return {"date_of_birth": [_("Give the child's date of birth: this campaign is for children.")]}
    limit = campaign.boys_under_age if cleaned["gender"] == Gender.MALE else campaign.girls_under_age
    if limit is not None and _age_on(today, born=born) >= limit:
        if cleaned["gender"] == Gender.MALE:
            message = _("This campaign is for boys under %(age)d on the day of purchase.")
        else:
            message = _("This campaign is for girls under %(age)d on the day of purchase.")
        return {"date_of_birth": [message % {"age": limit}]}
    return {}


def _field_max_length(field: str) -> int:
    return Name._meta.get_field(field).max_length


def name_clean(*, data: dict, campaign: Campaign, today: datetime.date | None = None) -> dict:
    """Normalise and validate one name for a campaign, including who the campaign is for
    (age limits, the departed); raise ValidationError keyed by field. `today` is the day of
    purchase (default: today in the campaign's time zone). Whatever comes in (a spreadsheet
    cell of 10,000 characters, a NUL byte, a date that is no day) ends as a message, never as
    a database error."""
    cleaned = {field: data.get(field) for field in NAME_FIELDS}
    errors = {}
    for field in ("hebrew_name", "parent_hebrew_name"):
        cleaned[field] = normalize_hebrew_name(cleaned[field])
        try:
            validate_hebrew_name(cleaned[field])
        except ValidationError as error:
            errors[field] = error.messages
    if cleaned["gender"] not in GENDERS:
        errors["gender"] = [_("Choose male (ben) or female (bas).")]
    for field in ("family_name", "english_name", "city"):
        cleaned[field] = str(cleaned[field] or "").strip()
        if has_invisible_characters(cleaned[field]):
            errors[field] = [_("This contains invisible or control characters; please retype it.")]
    cleaned["country"] = str(cleaned["country"] or "").strip().upper()
    if cleaned["country"] and not _COUNTRY_CODE.fullmatch(cleaned["country"]):
        errors["country"] = [_("Give the country as its two-letter code, e.g. US or IL.")]
    for field in ("hebrew_name", "parent_hebrew_name", "family_name", "english_name", "city"):
        limit = _field_max_length(field)
        if field not in errors and len(cleaned[field]) > limit:
            errors[field] = [_("At most %(limit)d characters.") % {"limit": limit}]
    # A campaign for the departed writes every name in memory, whatever the form said.
    cleaned["deceased"] = True if campaign.for_the_departed else bool(cleaned["deceased"])
    try:
        cleaned["date_of_birth"] = _date_of_birth_parse(cleaned["date_of_birth"])
    except ValueError:
        errors["date_of_birth"] = [_("Give the date of birth as YYYY-MM-DD.")]
    else:
        today = today or campaign_today(campaign=campaign)
        if cleaned["date_of_birth"] and cleaned["date_of_birth"] > today:
            errors["date_of_birth"] = [_("The date of birth cannot be in the future.")]
    if "gender" not in errors and "date_of_birth" not in errors:
        errors.update(_eligibility_errors(cleaned=cleaned, campaign=campaign, today=today))
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
    referred_by=None,
    language: str = "",
) -> Order:
    """Create a pending order with its names. Nothing is saved unless every name is valid.
    `referred_by` is the shliach whose referral link brought the buyer; `language` the one the
    buyer ordered in, which their emails are written in."""
    if not campaign.active:
        raise ValidationError({"campaign": [_("This campaign is not taking names now.")]})
    if not names:
        raise ValidationError({"names": [_("Add at least one name.")]})
    cleaned_names = []
    errors = {}
    today = campaign_today(campaign=campaign)
    for index, data in enumerate(names):
        try:
            cleaned_names.append(name_clean(data=data, campaign=campaign, today=today))
        except ValidationError as error:
            errors[index] = error.message_dict
    if errors:
        raise OrderNamesInvalid(errors)
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
        order = Order(
            campaign=campaign,
            buyer_name=buyer.name,
            buyer_email=buyer.email,
            buyer_phone=buyer.phone,
            created_by=created_by,
            referred_by=referred_by,
            channel=channel,
            amount=amount,
            currency=campaign.currency,
            language=language if language in dict(settings.LANGUAGES) else "",
        )
        if created_by is not None:  # the audit names the person, in a request or not
            order._history_user = created_by
        order.save(force_insert=True)
        Name.objects.bulk_create([Name(order=order, **data) for data in cleaned_names], batch_size=LETTER_BATCH_SIZE)
    return order


def _position_at(scroll: Scroll):
    """The position given out at each step of a scroll's allocation order: 1, 2, 3... for a
    sequential scroll, its fixed permutation of 1..N for a lottery scroll (so positions never
    repeat and the scroll still fills)."""
    if not scroll.is_lottery:
        return lambda step: step
    return lottery_order(seed=scroll.lottery_seed, size=scroll.total_letters).position_at


def _walk(*, scroll: Scroll, count: int, reserved: frozenset[int]) -> tuple[list[int], list[int]]:
    """Walk the scroll's allocation order from step `steps_walked + 1`: up to `count` free
    positions, stepping over reserved ones (a step that gives no letter), then on over any
    reserved steps that follow, so a scroll whose remaining positions are all reserved is walked
    to its end and closes now. Returns (free positions, reserved positions stepped on) and moves
    `scroll.steps_walked`; fewer positions than asked when the scroll fills first.

    The caller holds the campaign lock, so neither the walk nor the reservations move under us.
    """
    start, total = scroll.steps_walked, scroll.total_letters
    if not reserved and not scroll.is_lottery:  # the common case, without a step-by-step loop
        end = min(total, start + count)
        scroll.steps_walked = end
        return list(range(start + 1, end + 1)), []
    position_at = _position_at(scroll)
    positions, passed, step = [], [], start
    while step < total:
        position = position_at(step + 1)
        if position in reserved:
            passed.append(position)
        elif len(positions) < count:
            positions.append(position)
        else:
            break
        step += 1
    scroll.steps_walked = step
    return positions, passed


def _reservations_reached(*, scroll: Scroll, positions: list[int], now) -> None:
    """The walk passed these reserved positions: from now they may be given."""
    if positions:
        Reservation.objects.filter(scroll=scroll, position__in=positions, reached_at__isnull=True).update(
            reached_at=now
        )


def _scroll_walk_save(*, scroll: Scroll) -> Scroll:
    """Save the walk's counters (without an audit record: they move with every order) and, when
    the walk has reached the end, close the scroll and return the next one, opened at once."""
    scroll.save_without_historical_record(update_fields=["steps_walked", "letters_allocated"])
    if scroll.steps_walked == scroll.total_letters:
        return scroll_mark_full_and_open_next(scroll=scroll)
    return scroll


def _letters_insert(*, scroll: Scroll, positions: list[int], name_ids: list[int], now) -> None:
    """Insert letters. On PostgreSQL one INSERT from two arrays per batch: an order of 200,000
    names is the normal case for a shliach, and building model instances for each would
    cost more than the insert itself. The unique constraint and the guard trigger check
    every row either way."""
    connection = transaction.get_connection()
    for start in range(0, len(name_ids), LETTER_BATCH_SIZE):
        batch_positions = positions[start : start + LETTER_BATCH_SIZE]
        batch_names = name_ids[start : start + LETTER_BATCH_SIZE]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO allocation_letter (scroll_id, position, name_id, allocated_at)"
                    " SELECT %s, position, name_id, %s FROM unnest(%s::integer[], %s::bigint[])"
                    " AS batch(position, name_id)",
                    [scroll.pk, now, batch_positions, batch_names],
                )
        else:
            Letter.objects.bulk_create(
                [
                    Letter(scroll=scroll, position=position, name_id=name_id, allocated_at=now)
                    for position, name_id in zip(batch_positions, batch_names)
                ]
            )


def order_allocate(*, order_id: int) -> list[tuple[int, int]]:
    """Give every name of a paid order a letter: consecutive steps along the scroll's allocation
    order (consecutive positions in a sequential scroll), spilling into the next scroll when
    this one fills. Safe to call any number of times: names that already hold a
    letter are skipped, and an order that is not paid gets nothing. Returns the
    (scroll id, position) of each letter given now."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status != OrderStatus.PAID:
            logger.info("Order %s is %s; no letters allocated", order_id, order.status)
            return []
        waiting = list(order.names.filter(letter__isnull=True).order_by("id").values_list("id", flat=True))
        now = timezone.now()
        if not waiting:
            if order.allocated_at is None:
                order.allocated_at = now
                order.save(update_fields=["allocated_at"])
            return []

        # What the order records of itself comes first: its row is locked already, and it commits
        # or rolls back with the letters. The campaign's lock, which every order of the campaign
        # queues for, is then held only for the walk (under load the queue is the bottleneck).
        order.allocated_at = now
        order.save(update_fields=["allocated_at"])
        from .tasks import order_letters_allocated_enqueue

        order_letters_allocated_enqueue(order_id=order_id)
        # The cached progress (pages, widget, GET /api/v1/campaigns/) is refreshed on commit.
        from scrolls.services import campaign_progress_changed

        campaign_progress_changed(campaign_id=order.campaign_id)

        Campaign.objects.select_for_update().only("id").get(pk=order.campaign_id)
        scroll = Scroll.objects.select_for_update().get(campaign_id=order.campaign_id, state=ScrollState.OPEN)
        given = []
        while waiting:
            # Read once per scroll: skipping a reserved position then costs a set lookup.
            reserved = scroll_reserved_positions(scroll_id=scroll.pk)
            walked_from = scroll.steps_walked
            positions, passed = _walk(scroll=scroll, count=len(waiting), reserved=reserved)
            batch = waiting[: len(positions)]
            _letters_insert(scroll=scroll, positions=positions, name_ids=batch, now=now)
            _reservations_reached(scroll=scroll, positions=passed, now=now)
            given.extend((scroll.pk, position) for position in positions)
            waiting = waiting[len(batch) :]
            scroll.letters_allocated += len(batch)
            if scroll.steps_walked != walked_from or scroll.steps_walked == scroll.total_letters:
                scroll = _scroll_walk_save(scroll=scroll)
    logger.info("Order %s: %d letters allocated", order_id, len(given))
    return given


def order_mark_paid(*, order_id: int, by=None) -> Order:
    """Record that an order is paid. Idempotent: a paid or refunded order stays as it is.
    `by` is the person who says so (an offline payment), named in the order's history."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status in (OrderStatus.PENDING, OrderStatus.CANCELLED):
            # Money that arrives for an abandoned order is honoured, never turned away.
            order.status = OrderStatus.PAID
            order.paid_at = timezone.now()
            if by is not None:  # else the request's user, if any (HistoryRequestMiddleware)
                order._history_user = by
            order.save(update_fields=["status", "paid_at"])
    return order


def order_fulfil(*, order_id: int) -> None:
    """Mark paid, then allocate. The two steps commit separately: if allocation fails, the
    payment is still recorded and the sweeper (allocation.tasks) allocates later."""
    order_mark_paid(order_id=order_id)
    order_allocate_or_enqueue(order_id=order_id)


def order_allocate_or_enqueue(*, order_id: int) -> None:
    """Allocate an order just marked paid; if that fails, leave it to the task and the sweeper.
    The allocation is its own transaction (or savepoint), so the payment recorded before stands."""
    try:
        order_allocate(order_id=order_id)
    except Exception:
        logger.exception("Allocation of order %s failed; the sweeper will retry", order_id)
        from .tasks import order_allocate_enqueue

        order_allocate_enqueue(order_id=order_id)


def orders_allocate_pending(*, older_than_seconds: int = 60) -> int:
    """The sweeper: allocate every paid order still waiting for letters. Returns how many."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    order_ids = list(
        Order.objects.filter(status=OrderStatus.PAID, allocated_at__isnull=True, paid_at__lte=cutoff).values_list(
            "id", flat=True
        )
    )
    for order_id in order_ids:
        order_allocate(order_id=order_id)
    return len(order_ids)


def order_confirmation_send(*, order_id: int) -> bool:
    """Email the buyer the link to their letters, once. Returns whether it was sent now.

    The order row stays locked while the message goes out, so two workers never both send;
    a crash after sending and before the commit can repeat it (at least once, never lost).
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().select_related("campaign").get(pk=order_id)
        if order.confirmation_sent_at or not order.allocated_at or not order.buyer_email:
            return False
        from .selectors import order_letters_describe

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
        order.confirmation_sent_at = timezone.now()
        order.save(update_fields=["confirmation_sent_at"])
    return True


def orders_confirmation_pending(*, older_than_seconds: int = 300) -> list[int]:
    """Allocated orders whose confirmation email has not gone out (the sweeper resends)."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    return list(
        Order.objects.filter(allocated_at__lte=cutoff, confirmation_sent_at__isnull=True)
        .exclude(buyer_email="")
        .values_list("id", flat=True)
    )


# --- Honour letters ------------------------------------------------------------------------
# Staff reserve positions for honourees; the walk steps over them; staff give each to its
# honouree (the last ones at the siyum), as an order of the honour channel, paid, with a letter
# written at the reserved position and a certificate like any other. Lock order as allocation:
# the campaign row, then the scroll.


def scroll_honours_default_positions(*, campaign: Campaign, total_letters: int) -> list[int]:
    """The positions a new scroll of the campaign keeps for honourees: its first and last
    letters. None in a scroll too small to hold them and a letter besides (tests, trials)."""
    first, last = campaign.honour_letters_first, campaign.honour_letters_last
    if first + last >= total_letters:
        return []
    return [*range(1, first + 1), *range(total_letters - last + 1, total_letters + 1)]


def scroll_honours_default_create(*, scroll: Scroll) -> list[Reservation]:
    """Reserve a new scroll's default honour letters (called as the scroll opens)."""
    positions = scroll_honours_default_positions(campaign=scroll.campaign, total_letters=scroll.total_letters)
    # With their audit records, as a reservation made by staff has (bulk_create alone writes none).
    return bulk_create_with_history(
        [Reservation(scroll=scroll, position=position, is_default=True) for position in positions], Reservation
    )


def scroll_honours_before_resize(*, scroll: Scroll, total_letters: int) -> None:
    """A scroll without letters is about to take another size (another text edition): drop its
    default honour letters (make them again with scroll_honours_default_create once it is
    saved); refuse if one that staff reserved would fall outside the new size."""
    outside = list(
        scroll.reservations.filter(is_default=False, position__gt=total_letters).values_list("position", flat=True)
    )
    if outside:
        raise ValidationError(
            _("Letters %(positions)s of this scroll are reserved for honourees and would be outside the new text.")
            % {"positions": ", ".join(map(str, outside))}
        )
    scroll.reservations.filter(is_default=True, reached_at__isnull=True, name__isnull=True).delete()


def scroll_lock(*, scroll_id: int) -> Scroll:
    """Lock the scroll's campaign, then the scroll (allocation's order), and return the scroll.
    Inside a transaction."""
    campaign_id = Scroll.objects.values_list("campaign_id", flat=True).get(pk=scroll_id)
    Campaign.objects.select_for_update().only("id").get(pk=campaign_id)
    return Scroll.objects.select_for_update().select_related("campaign").get(pk=scroll_id)


def _scroll_walk_reserved(*, scroll: Scroll, now) -> None:
    """Walk an open scroll on over the reserved steps directly ahead (they give no letter), so
    that they are reached, and the scroll closes if nothing else is left. Under the locks."""
    if scroll.state != ScrollState.OPEN:
        return
    walked_from = scroll.steps_walked
    _positions, passed = _walk(scroll=scroll, count=0, reserved=scroll_reserved_positions(scroll_id=scroll.pk))
    _reservations_reached(scroll=scroll, positions=passed, now=now)
    if scroll.steps_walked != walked_from:
        _scroll_walk_save(scroll=scroll)


def _staff_only(user) -> None:
    if not getattr(user, "is_staff", False):
        raise PermissionDenied(_("Only staff may reserve and give honour letters."))


def reservation_create(*, scroll_id: int, position: int, honouree: str, note: str = "", created_by) -> Reservation:
    """Keep a position of a scroll for an honouree. Refused for a position already written,
    already reserved or already passed by the walk, and in a completed scroll."""
    _staff_only(created_by)
    honouree, note = (honouree or "").strip(), (note or "").strip()
    if not honouree:
        raise ValidationError({"honouree": [_("Say who the letter is kept for.")]})
    with transaction.atomic():
        scroll = scroll_lock(scroll_id=scroll_id)
        if scroll.state == ScrollState.COMPLETED:
            raise ValidationError(_("The siyum of this scroll has been held: every letter is written."))
        if not 1 <= position <= scroll.total_letters:
            raise ValidationError(
                {"position": [_("Choose a letter from 1 to %(total)d.") % {"total": scroll.total_letters}]}
            )
        taken = Letter.objects.filter(scroll=scroll, position=position).select_related("name").first()
        if taken is not None:
            raise ValidationError(
                {"position": [_("Letter %(position)d of this scroll is already written for %(name)s.")
                              % {"position": position, "name": taken.name.display_name}]}
            )  # fmt: skip
        existing = Reservation.objects.filter(scroll=scroll, position=position).first()
        if existing is not None:
            raise ValidationError(
                {"position": [_("Letter %(position)d of this scroll is already reserved (%(honouree)s).")
                              % {"position": position, "honouree": existing.honouree or _("honour letter")}]}
            )  # fmt: skip
        if not scroll.is_lottery and position <= scroll.steps_walked:  # cannot happen: it would hold a letter
            raise ValidationError({"position": [_("The scroll's letters have already passed this one.")]})
        reservation = Reservation(scroll=scroll, position=position, honouree=honouree, note=note, created_by=created_by)
        reservation._history_user = created_by  # the audit names the person, in a request or not
        reservation.save()
        if scroll.steps_walked:  # the walk may stand just before it (an empty scroll keeps its text free)
            _scroll_walk_reserved(scroll=scroll, now=timezone.now())
    logger.info("Scroll %s: letter %d reserved for %s by %s", scroll, position, honouree, created_by)
    return reservation


def reservation_update(*, reservation_id: int, honouree: str, note: str, updated_by) -> Reservation:
    """Say who an honour letter not yet given is for (a default one is made unnamed), with a
    note. Under the campaign lock, as reserving and giving, so a gift of the same letter running
    meanwhile is either seen (and refused here) or sees the new name."""
    _staff_only(updated_by)
    honouree, note = (honouree or "").strip(), (note or "").strip()
    if not honouree:
        raise ValidationError({"honouree": [_("Say who the letter is kept for.")]})
    with transaction.atomic():
        scroll_id = Reservation.objects.values_list("scroll_id", flat=True).get(pk=reservation_id)
        scroll_lock(scroll_id=scroll_id)
        reservation = Reservation.objects.select_for_update().get(pk=reservation_id)
        if reservation.is_given:
            raise ValidationError(_("This honour letter has been given; it stays as it was written."))
        reservation.honouree, reservation.note = honouree, note
        reservation._history_user = updated_by
        reservation.save(update_fields=["honouree", "note"])
    return reservation


def reservation_cancel(*, reservation_id: int, cancelled_by) -> None:
    """Release a reserved position the walk has not reached: it goes to a buyer like any other."""
    _staff_only(cancelled_by)
    with transaction.atomic():
        reservation = Reservation.objects.select_related("scroll").get(pk=reservation_id)
        scroll_lock(scroll_id=reservation.scroll_id)
        reservation = Reservation.objects.select_for_update().get(pk=reservation_id)
        if reservation.reached_at is not None or reservation.is_given:
            raise ValidationError(_("The scroll's letters have reached this honour letter: it can only be given now."))
        reservation._history_user = cancelled_by
        reservation.delete()


def reservation_give(*, reservation_id: int, name: dict, email: str = "", given_by) -> Order:
    """Give an honour letter to its honouree: an order of the honour channel, paid (staff), with
    the honouree's name written at the reserved position, directly rather than by the walk; the
    confirmation and the certificate follow as for any order. Refused until the walk has reached
    the position (the letters before it are taken), and once given."""
    _staff_only(given_by)
    reservation = Reservation.objects.select_related("scroll__campaign").get(pk=reservation_id)
    campaign = reservation.scroll.campaign
    cleaned = name_clean(data=name, campaign=campaign)
    email = (email or "").strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise ValidationError({"email": [_("Enter a valid email address.")]}) from None
    with transaction.atomic():
        scroll = scroll_lock(scroll_id=reservation.scroll_id)
        reservation = Reservation.objects.select_for_update().get(pk=reservation_id)
        if reservation.is_given:
            raise ValidationError(_("Letter %(position)d has already been given.") % {"position": reservation.position})
        now = timezone.now()
        if reservation.reached_at is None:
            _scroll_walk_reserved(scroll=scroll, now=now)
            reservation.refresh_from_db(fields=["reached_at"])
        if reservation.reached_at is None:
            raise ValidationError(
                _("The scroll's letters have not reached letter %(position)d yet: it can be given once the "
                  "letters before it are taken.") % {"position": reservation.position}
            )  # fmt: skip
        order = Order(
            campaign=campaign,
            buyer_name=reservation.honouree[:200],
            buyer_email=email,
            created_by=given_by,
            channel=OrderChannel.HONOUR,
            amount=Decimal("0"),
            currency=campaign.currency,
            status=OrderStatus.PAID,
            paid_at=now,
            allocated_at=now,
        )
        order._history_user = given_by
        order.save()
        honoured = Name.objects.create(order=order, **cleaned)
        reservation.name, reservation.given_at, reservation.given_by = honoured, now, given_by
        reservation._history_user = given_by
        reservation.save(update_fields=["name", "given_at", "given_by"])
        # The letter guard lets only the reservation's name be written here.
        Letter.objects.create(scroll=scroll, position=reservation.position, name=honoured, allocated_at=now)
        Scroll.objects.filter(pk=scroll.pk).update(letters_allocated=F("letters_allocated") + 1)
        from scrolls.services import campaign_progress_changed

        from .tasks import order_letters_allocated_enqueue

        order_letters_allocated_enqueue(order_id=order.pk)
        campaign_progress_changed(campaign_id=campaign.pk)
    logger.info("Scroll %s: honour letter %d given to %s", scroll, reservation.position, honoured.display_name)
    return order
