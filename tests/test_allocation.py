import pytest
from django.db import IntegrityError, transaction

from allocation.models import Letter, Name
from allocation.services import (
    order_allocate,
    order_cancel,
    order_fulfil,
    order_mark_paid,
    orders_allocate_pending,
)
from scrolls.models import Scroll, ScrollState
from scrolls.signals import scroll_filled

from .factories import make_order, shrink_open_scroll

pytestmark = pytest.mark.django_db


def positions_of(order):
    return [
        (letter.scroll.number, letter.position)
        for letter in Letter.objects.filter(name__order=order).select_related("scroll").order_by("name_id")
    ]


def test_paid_order_gets_consecutive_positions_in_name_order(campaigns):
    campaign = campaigns["idf"]
    first = make_order(campaign, 3)
    second = make_order(campaign, 2)
    order_fulfil(order_id=first.pk)
    order_fulfil(order_id=second.pk)

    assert positions_of(first) == [(1, 1), (1, 2), (1, 3)]
    assert positions_of(second) == [(1, 4), (1, 5)]
    scroll = Scroll.objects.get(campaign=campaign, number=1)
    assert (scroll.letters_allocated, scroll.steps_walked, scroll.state) == (5, 5, ScrollState.OPEN)


def test_unpaid_and_cancelled_orders_get_nothing(campaigns):
    pending = make_order(campaigns["idf"], 2)
    assert order_allocate(order_id=pending.pk) == []
    order_cancel(order_id=pending.pk)
    assert order_allocate(order_id=pending.pk) == []
    assert not Letter.objects.exists()


def test_allocating_twice_allocates_nothing_more(campaigns):
    order = make_order(campaigns["sefardi"], 4)
    order_mark_paid(order_id=order.pk)
    assert len(order_allocate(order_id=order.pk)) == 4
    assert order_allocate(order_id=order.pk) == []
    order_fulfil(order_id=order.pk)
    assert Letter.objects.count() == 4
    order.refresh_from_db()
    assert order.allocated_at is not None


def test_order_spills_into_the_next_scroll_which_opens_at_once(campaigns):
    campaign = campaigns["beis-rivkah"]
    shrink_open_scroll(campaign, 5)
    before = make_order(campaign, 3)
    spilling = make_order(campaign, 4)
    order_fulfil(order_id=before.pk)
    order_fulfil(order_id=spilling.pk)

    assert positions_of(spilling) == [(1, 4), (1, 5), (2, 1), (2, 2)]
    first, second = Scroll.objects.filter(campaign=campaign).order_by("number")
    assert first.state == ScrollState.FULL and first.filled_at is not None
    assert first.letters_allocated == 5
    assert second.state == ScrollState.OPEN and second.letters_allocated == 2
    assert second.total_letters == 5


def test_order_larger_than_a_whole_scroll_fills_several(campaigns):
    campaign = campaigns["russian-jewry"]
    shrink_open_scroll(campaign, 3)
    order = make_order(campaign, 8)
    order_fulfil(order_id=order.pk)
    assert positions_of(order) == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3), (3, 1), (3, 2)]
    assert list(Scroll.objects.filter(campaign=campaign).values_list("state", flat=True)) == ["full", "full", "open"]


def test_sweeper_allocates_paid_orders_left_behind(campaigns):
    order = make_order(campaigns["idf"], 2)
    order_mark_paid(order_id=order.pk)  # as if the worker died before allocating
    assert orders_allocate_pending(older_than_seconds=0) == 1
    assert Name.objects.filter(order=order, letter__isnull=False).count() == 2
    assert orders_allocate_pending(older_than_seconds=0) == 0


def test_database_refuses_a_second_name_at_a_position(campaigns):
    order = make_order(campaigns["idf"], 2)
    order_fulfil(order_id=order.pk)
    letter = Letter.objects.first()
    other = make_order(campaigns["idf"], 1).names.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        Letter.objects.create(scroll=letter.scroll, position=letter.position, name=other)


def test_database_refuses_changing_or_deleting_a_letter(campaigns):
    order = make_order(campaigns["idf"], 2)
    order_fulfil(order_id=order.pk)
    letter = Letter.objects.order_by("position").first()
    with pytest.raises(IntegrityError), transaction.atomic():
        Letter.objects.filter(pk=letter.pk).update(position=99)
    with pytest.raises(IntegrityError), transaction.atomic():
        Letter.objects.filter(pk=letter.pk).delete()
    assert Letter.objects.get(pk=letter.pk).position == 1


def test_database_refuses_a_position_outside_the_scroll(campaigns):
    scroll = shrink_open_scroll(campaigns["idf"], 10)
    name = make_order(campaigns["idf"], 1).names.get()
    for position in (0, 11):
        with pytest.raises(IntegrityError), transaction.atomic():
            Letter.objects.create(scroll=scroll, position=position, name=name)


def test_database_refuses_two_open_scrolls_in_a_campaign(campaigns):
    with pytest.raises(IntegrityError), transaction.atomic():
        Scroll.objects.create(campaign=campaigns["idf"], number=2, state=ScrollState.OPEN)


def test_a_scroll_that_fills_is_announced_once_it_commits(campaigns, django_capture_on_commit_callbacks):
    heard = []

    def listener(sender, **kwargs):
        heard.append(kwargs)

    campaign = campaigns["idf"]
    full = shrink_open_scroll(campaign, 2)
    scroll_filled.connect(listener, dispatch_uid="test-scroll-filled")
    try:
        order = make_order(campaign, 3)
        order_mark_paid(order_id=order.pk)
        with django_capture_on_commit_callbacks(execute=True):
            with transaction.atomic():
                order_allocate(order_id=order.pk)
                assert heard == []
        following = Scroll.objects.get(campaign=campaign, number=full.number + 1)
        assert [(h["scroll_id"], h["campaign_id"], h["next_scroll_id"]) for h in heard] == [
            (full.pk, campaign.pk, following.pk)
        ]
    finally:
        scroll_filled.disconnect(dispatch_uid="test-scroll-filled")
