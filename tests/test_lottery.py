"""Lottery scrolls (the children's Torah): a fixed pseudo-random permutation of 1..N per scroll,
walked by the same locking allocation as sequential scrolls."""

import random
import time

import pytest
from django.contrib.auth.models import User

from allocation.lottery import LotteryOrder, lottery_order
from allocation.models import Letter, Name, Order
from allocation.services import order_fulfil
from payments.services import payment_record_offline
from scrolls.models import AllocationMode, Scroll, ScrollState
from scrolls.services import scroll_open_refresh

from .conftest import make_user
from .factories import child_name_data, make_order, shrink_open_scroll
from .test_allocation_concurrency import run_at_the_same_moment

MAM_TOTAL = 304_801


# --- The permutation (pure Python) --------------------------------------------------------------


def walk(order):
    return [order.position_at(step) for step in range(1, order.size + 1)]


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 10, 99, 100, 101, 500, 1009])
def test_small_permutations_are_bijections(size):
    for seed in (0, 1, 5742, 2**62 + 12345):
        assert sorted(walk(LotteryOrder(seed=seed, size=size))) == list(range(1, size + 1))


def test_a_real_size_walk_is_a_bijection_of_every_position_and_quick():
    started = time.perf_counter()
    positions = walk(LotteryOrder(seed=770, size=MAM_TOTAL))
    elapsed = time.perf_counter() - started
    assert len(positions) == MAM_TOTAL
    assert len(set(positions)) == MAM_TOTAL and min(positions) == 1 and max(positions) == MAM_TOTAL
    # About 1.5 s here (5 µs a step); a generous bound that still catches an O(N) step.
    assert elapsed < 15, f"walking the permutation took {elapsed:.1f} s"


def test_any_single_step_is_cheap():
    order = LotteryOrder(seed=99, size=MAM_TOTAL)
    started = time.perf_counter()
    for step in range(MAM_TOTAL - 2000, MAM_TOTAL + 1):
        order.position_at(step)
    assert time.perf_counter() - started < 1


def test_the_order_is_reproducible_per_seed_and_differs_between_seeds():
    first = [LotteryOrder(seed=1, size=MAM_TOTAL).position_at(step) for step in range(1, 200)]
    again = [lottery_order(seed=1, size=MAM_TOTAL).position_at(step) for step in range(1, 200)]
    other = [LotteryOrder(seed=2, size=MAM_TOTAL).position_at(step) for step in range(1, 200)]
    assert first == again
    assert first != other and len(set(first) & set(other)) < 5


def test_the_order_looks_random():
    positions = walk(LotteryOrder(seed=18, size=500))
    assert positions != sorted(positions)
    # Consecutive steps land far apart and all over the scroll: no long runs, every fifth used.
    rising_runs = sum(1 for a, b in zip(positions, positions[1:]) if b == a + 1)
    assert rising_runs < 10
    first_hundred = positions[:100]
    assert {(p - 1) // 100 for p in first_hundred} == {0, 1, 2, 3, 4}


def test_steps_outside_the_scroll_are_refused():
    order = LotteryOrder(seed=1, size=10)
    for step in (0, 11):
        with pytest.raises(ValueError):
            order.position_at(step)
    with pytest.raises(ValueError):
        LotteryOrder(seed=1, size=0)


# --- Allocation --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_lottery_scroll_gives_letters_along_its_permutation(campaigns):
    scroll = shrink_open_scroll(campaigns["children"], 500)
    assert scroll.is_lottery
    # A fixed seed: with a random one, five steps come out in rising order once in 120 runs.
    Scroll.objects.filter(pk=scroll.pk).update(lottery_seed=2)
    scroll.refresh_from_db()
    first = make_order(campaigns["children"], names=[child_name_data(i) for i in range(3)])
    second = make_order(campaigns["children"], names=[child_name_data(i) for i in range(2)])
    order_fulfil(order_id=first.pk)
    order_fulfil(order_id=second.pk)

    expected = [lottery_order(seed=scroll.lottery_seed, size=500).position_at(step) for step in range(1, 6)]
    given = list(Letter.objects.filter(scroll=scroll).order_by("name_id").values_list("position", flat=True))
    assert given == expected and given != sorted(given)
    scroll.refresh_from_db()
    assert (scroll.steps_walked, scroll.letters_allocated) == (5, 5)


@pytest.mark.django_db
def test_each_lottery_scroll_has_its_own_seed(campaigns):
    shrink_open_scroll(campaigns["children"], 3)
    order_fulfil(order_id=make_order(campaigns["children"], names=[child_name_data(i) for i in range(5)]).pk)
    first, second = Scroll.objects.filter(campaign=campaigns["children"]).order_by("number")
    assert first.state == ScrollState.FULL and second.state == ScrollState.OPEN
    assert first.is_lottery and second.is_lottery and first.lottery_seed != second.lottery_seed
    assert sorted(first.letters.values_list("position", flat=True)) == [1, 2, 3]


@pytest.mark.django_db
def test_switching_the_mode_applies_only_to_a_scroll_without_letters(campaigns):
    idf = campaigns["idf"]
    idf.allocation_mode = AllocationMode.LOTTERY
    idf.save()
    assert scroll_open_refresh(campaign=idf)
    assert idf.scrolls.get(state="open").is_lottery

    sefardi = campaigns["sefardi"]
    order_fulfil(order_id=make_order(sefardi, 2).pk)
    sefardi.allocation_mode = AllocationMode.LOTTERY
    sefardi.save()
    assert not scroll_open_refresh(campaign=sefardi)
    assert not sefardi.scrolls.get(state="open").is_lottery  # its letters went out in sequence


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_lottery_scroll_filled_by_concurrent_orders_holds_every_position_once(campaigns):
    rng = random.Random(1981)
    children = campaigns["children"]
    scroll = shrink_open_scroll(children, 500)
    cashier = make_user("cashier", permissions=["payments.record_offline_payment"])
    sizes = [rng.randint(5, 25) for _ in range(40)]
    assert sum(sizes) > 500, "the orders should overflow the scroll"
    orders = [make_order(children, names=[child_name_data(i) for i in range(size)]) for size in sizes]

    def pay(order_id):
        def job():
            payment_record_offline(
                order=Order.objects.get(pk=order_id),
                reference=f"receipt {order_id}",
                recorded_by=User.objects.get(pk=cashier.pk),
            )

        return job

    run_at_the_same_moment([pay(order.pk) for order in orders])

    assert not Name.objects.filter(letter__isnull=True).exists()
    scroll.refresh_from_db()
    assert scroll.state == ScrollState.FULL
    assert scroll.letters_allocated == scroll.steps_walked == 500
    # Walk order is the order the letters were written (ids); it is the scroll's permutation.
    walked = list(scroll.letters.order_by("id").values_list("position", flat=True))
    assert sorted(walked) == list(range(1, 501)), "every position exactly once"
    assert walked == [lottery_order(seed=scroll.lottery_seed, size=500).position_at(k) for k in range(1, 501)]
    assert walked != sorted(walked)

    following = Scroll.objects.get(campaign=children, number=2)
    assert following.state == ScrollState.OPEN and following.is_lottery
    assert following.letters_allocated == following.steps_walked == sum(sizes) - 500
    assert len(set(following.letters.values_list("position", flat=True))) == following.letters_allocated
    # One order's names still take consecutive steps of the walk, spilling into the next scroll.
    steps = {}
    for each in (scroll, following):
        order = lottery_order(seed=each.lottery_seed, size=each.total_letters)
        steps[each.pk] = {order.position_at(k): k for k in range(1, each.steps_walked + 1)}
    offsets = {scroll.pk: 0, following.pk: 500}
    for order in orders:
        indexes = sorted(
            offsets[letter.scroll_id] + steps[letter.scroll_id][letter.position]
            for letter in Letter.objects.filter(name__order=order)
        )
        assert indexes == list(range(indexes[0], indexes[0] + len(indexes))), f"order {order.pk} is split"
