"""Giving paid orders their letters.

Lock order, everywhere: the order row, then the campaign row, then its scrolls. The campaign row
is the point where allocations of one campaign queue up; locking it (rather than only the open
scroll) means a waiter that wakes after a scroll filled finds the scroll opened in its place.
"""

import logging
from datetime import timedelta

from django.contrib.postgres.expressions import ArraySubquery
from django.db import transaction
from django.db.models import OuterRef
from django.utils import timezone

from core.signals import announce_on_commit
from scrolls.models import Campaign, Scroll, ScrollState
from scrolls.services import campaign_progress_changed, scroll_mark_full_and_open_next

from ..lottery import lottery_order
from ..models import Letter, Order, OrderStatus, Reservation
from ..selectors import scroll_reserved_positions
from ..signals import allocation_failed, letters_allocated, paid_orders_swept
from .lifecycle import order_mark_paid

logger = logging.getLogger(__name__)

LETTER_BATCH_SIZE = 5000


def _position_at(scroll: Scroll):
    """The position given out at each step of a scroll's allocation order: 1, 2, 3... for a
    sequential scroll, its fixed permutation of 1..N for a lottery scroll (so positions never
    repeat and the scroll still fills)."""
    if not scroll.is_lottery:
        return lambda step: step
    return lottery_order(seed=scroll.lottery_seed, size=scroll.total_letters).position_at


def scroll_walk(*, scroll: Scroll, count: int, reserved: frozenset[int]) -> tuple[list[int], list[int]]:
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


def reservations_reached(*, scroll: Scroll, positions: list[int], now) -> None:
    """The walk passed these reserved positions: from now they may be given."""
    if positions:
        Reservation.objects.filter(scroll=scroll, position__in=positions, reached_at__isnull=True).update(
            reached_at=now
        )


def scroll_walk_save(*, scroll: Scroll) -> Scroll:
    """Save the walk's counters (without an audit record: they move with every order) and, when
    the walk has reached the end, close the scroll and return the next one, opened at once."""
    scroll.save_without_historical_record(update_fields=["steps_walked", "letters_allocated"])
    if scroll.steps_walked == scroll.total_letters:
        return scroll_mark_full_and_open_next(scroll=scroll)
    return scroll


def _letters_write(*, scroll: Scroll, positions: list[int], name_ids: list[int], now, order: Order | None) -> None:
    """Insert letters, one INSERT from two arrays per batch: an order of 200,000 names is the
    normal case for a shliach, and building model instances for each would cost more than the
    insert itself. The unique constraint and the guard trigger check every row either way.

    The last batch goes in one statement with the scroll's walk counters (saved without an audit
    record: they move with every order) and, with `order`, the order's mark (`allocated_at`, the
    machine's, without a history record either: docs, Audit). Statements run under the campaign's
    lock are what every order of the campaign queues for, so they are as few as can be."""
    insert = (
        f"INSERT INTO {Letter._meta.db_table} (scroll_id, position, name_id, allocated_at)"
        " SELECT %s, position, name_id, %s FROM unnest(%s::integer[], %s::bigint[]) AS batch(position, name_id)"
    )
    with transaction.get_connection().cursor() as cursor:
        start = 0
        while True:
            end = start + LETTER_BATCH_SIZE
            params = [scroll.pk, now, positions[start:end], name_ids[start:end]]
            if end < len(name_ids):
                cursor.execute(insert, params)
                start = end
                continue
            sql = f"WITH letters AS ({insert})"
            if order is not None:
                sql += f", order_mark AS (UPDATE {Order._meta.db_table} SET allocated_at = %s WHERE id = %s)"
                params += [now, order.pk]
            sql += f" UPDATE {Scroll._meta.db_table} SET steps_walked = %s, letters_allocated = %s WHERE id = %s"
            cursor.execute(sql, [*params, scroll.steps_walked, scroll.letters_allocated, scroll.pk])
            return


def _order_allocated_at_set(*, order: Order, now) -> None:
    # The machine's mark, as the walk's counters: saved without a history record (docs, Audit).
    order.allocated_at = now
    Order.objects.filter(pk=order.pk).update(allocated_at=now)


def order_allocate(
    *, order_id: int, locked: Order | None = None, waiting_name_ids: list[int] | None = None
) -> list[tuple[int, int]]:
    """Give every name of a paid order a letter: consecutive steps along the scroll's allocation
    order (consecutive positions in a sequential scroll), spilling into the next scroll when
    this one fills. Safe to call any number of times: names that already hold a
    letter are skipped, and an order that is not paid gets nothing. Returns the
    (scroll id, position) of each letter given now. `locked`: the order, when the caller's
    transaction (still open) holds its row lock already; `waiting_name_ids`, with `locked`: its
    names in id order, when that transaction placed them (none can hold a letter yet)."""
    # The row lock taken by the caller's transaction, still open: not taken again.
    held = locked if locked is not None and transaction.get_connection().in_atomic_block else None
    with transaction.atomic():
        order = held if held is not None else Order.objects.select_for_update().get(pk=order_id)
        if order.status != OrderStatus.PAID:
            logger.info("Order %s is %s; no letters allocated", order_id, order.status)
            return []
        if held is not None and waiting_name_ids is not None:
            waiting = list(waiting_name_ids)
        else:
            waiting = list(order.names.filter(letter__isnull=True).order_by("id").values_list("id", flat=True))
        now = timezone.now()
        if not waiting:
            if order.allocated_at is None:
                _order_allocated_at_set(order=order, now=now)
            return []

        announce_on_commit(
            letters_allocated,
            sender=Order,
            order_id=order_id,
            campaign_id=order.campaign_id,
            gives_gifts=order.gives_gifts,
        )
        # The cached progress (pages, widget, GET /api/v1/campaigns/) is refreshed on commit.
        campaign_progress_changed(campaign_id=order.campaign_id)

        Campaign.objects.select_for_update().only("id").get(pk=order.campaign_id)
        # The open scroll with its reserved positions, in one statement (reservations are made
        # under the campaign's lock too, so they hold still).
        scroll = (
            Scroll.objects.select_for_update(of=("self",))
            .annotate(
                reserved_positions=ArraySubquery(Reservation.objects.filter(scroll=OuterRef("pk")).values("position"))
            )
            .get(campaign_id=order.campaign_id, state=ScrollState.OPEN)
        )
        given = []
        mark = order  # its allocated_at is written with the first scroll's letters
        while waiting:
            # Read once per scroll: skipping a reserved position then costs a set lookup. The next
            # scroll, opened when this one fills, is read on its own.
            read_with_scroll = getattr(scroll, "reserved_positions", None)
            reserved = (
                frozenset(read_with_scroll)
                if read_with_scroll is not None
                else scroll_reserved_positions(scroll_id=scroll.pk)
            )
            positions, passed = scroll_walk(scroll=scroll, count=len(waiting), reserved=reserved)
            batch = waiting[: len(positions)]
            scroll.letters_allocated += len(batch)
            _letters_write(scroll=scroll, positions=positions, name_ids=batch, now=now, order=mark)
            mark = None
            reservations_reached(scroll=scroll, positions=passed, now=now)
            given.extend((scroll.pk, position) for position in positions)
            waiting = waiting[len(batch) :]
            if scroll.steps_walked == scroll.total_letters:
                scroll = scroll_mark_full_and_open_next(scroll=scroll)
        order.allocated_at = now
    logger.info("Order %s: %d letters allocated", order_id, len(given))
    return given


def order_fulfil(*, order_id: int) -> None:
    """Mark paid, then allocate. The two steps commit separately: if allocation fails, the
    payment is still recorded and the sweeper (allocation.tasks) allocates later."""
    order_mark_paid(order_id=order_id)
    order_allocate_or_enqueue(order_id=order_id)


def order_allocate_or_enqueue(
    *, order_id: int, locked: Order | None = None, waiting_name_ids: list[int] | None = None
) -> None:
    """Allocate an order just marked paid; if that fails, leave it to the task and the sweeper.
    The allocation is its own transaction (or savepoint), so the payment recorded before stands.
    `locked` and `waiting_name_ids` as for order_allocate."""
    try:
        order_allocate(order_id=order_id, locked=locked, waiting_name_ids=waiting_name_ids)
    except Exception:
        logger.exception("Allocation of order %s failed; the sweeper will retry", order_id)
        announce_on_commit(allocation_failed, sender=Order, order_id=order_id)


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
    if order_ids:
        announce_on_commit(paid_orders_swept, sender=Order, count=len(order_ids))
    return len(order_ids)
