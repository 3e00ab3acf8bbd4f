"""Honour letters.

Staff reserve positions for honourees; the walk steps over them; staff give each to its
honouree (the last ones at the siyum), as an order of the honour channel, paid, with a letter
written at the reserved position and a certificate like any other. Lock order as allocation:
the campaign row, then the scroll.
"""

import logging
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history

from core.signals import announce_on_commit
from scrolls.models import Campaign, Scroll, ScrollState
from scrolls.services import campaign_progress_changed
from scrolls.signals import scroll_opened, scroll_resized, scroll_resizing

from ..models import Letter, Order, OrderChannel, OrderStatus, Reservation
from ..selectors import scroll_reserved_positions
from ..signals import letters_allocated
from .letters import reservations_reached, scroll_walk, scroll_walk_save
from .lifecycle import order_transition
from .names import name_clean
from .placement import Buyer, order_place

logger = logging.getLogger(__name__)


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
    _positions, passed = scroll_walk(scroll=scroll, count=0, reserved=scroll_reserved_positions(scroll_id=scroll.pk))
    reservations_reached(scroll=scroll, positions=passed, now=now)
    if scroll.steps_walked != walked_from:
        scroll_walk_save(scroll=scroll)


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
        order = order_place(
            campaign=campaign,
            names=[cleaned],
            names_cleaned=True,
            buyer=Buyer(name=reservation.honouree[:200], email=email),
            created_by=given_by,
            channel=OrderChannel.HONOUR,
            amount=Decimal("0"),
            allow_custom_price=True,
        )
        order = order_transition(order_id=order.pk, to=OrderStatus.PAID, by=given_by, now=now)
        order.allocated_at = now
        order.save_without_historical_record(update_fields=["allocated_at"])
        honoured = order.names.get()
        reservation.name, reservation.given_at, reservation.given_by = honoured, now, given_by
        reservation._history_user = given_by
        reservation.save(update_fields=["name", "given_at", "given_by"])
        # The letter guard lets only the reservation's name be written here.
        Letter.objects.create(scroll=scroll, position=reservation.position, name=honoured, allocated_at=now)
        Scroll.objects.filter(pk=scroll.pk).update(letters_allocated=F("letters_allocated") + 1)
        announce_on_commit(
            letters_allocated, sender=Order, order_id=order.pk, campaign_id=campaign.pk, gives_gifts=order.gives_gifts
        )
        campaign_progress_changed(campaign_id=campaign.pk)
    logger.info("Scroll %s: honour letter %d given to %s", scroll, reservation.position, honoured.display_name)
    return order


# --- What scrolls announce ------------------------------------------------------------------


@receiver(scroll_opened, sender=Scroll, dispatch_uid="allocation-honours-scroll-opened")
@receiver(scroll_resized, sender=Scroll, dispatch_uid="allocation-honours-scroll-resized")
def _scroll_honours_reserve(sender, scroll, **kwargs):
    scroll_honours_default_create(scroll=scroll)


@receiver(scroll_resizing, sender=Scroll, dispatch_uid="allocation-honours-scroll-resizing")
def _scroll_honours_resize(sender, scroll, total_letters, **kwargs):
    scroll_honours_before_resize(scroll=scroll, total_letters=total_letters)
