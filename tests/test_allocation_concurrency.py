"""Principle 1 under concurrency, on PostgreSQL: many orders paid at the same moment from
separate connections never share a position, leave no gap, and lose no name."""

import random
import threading
from collections import defaultdict

import pytest
from django.contrib.auth.models import User
from django.db import connection

from allocation.models import Letter, Name, Order
from allocation.services import order_allocate, order_mark_paid
from payments.services import payment_record_offline
from scrolls.models import Scroll, ScrollState

from .conftest import make_user
from .factories import make_order, shrink_open_scroll

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def run_at_the_same_moment(jobs):
    """Run each job in its own thread and database connection, all released by one barrier."""
    barrier = threading.Barrier(len(jobs))
    errors = []

    def worker(job):
        try:
            connection.ensure_connection()  # connect first, so the barrier releases real work
            barrier.wait(timeout=60)
            job()
        except Exception as error:  # collected and re-raised in the main thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a payment thread hung"
    assert errors == []


def assert_scrolls_are_whole(campaign):
    """Every full scroll holds each position exactly once; the open one is filled 1..n."""
    scrolls = list(Scroll.objects.filter(campaign=campaign).order_by("number"))
    assert [scroll.number for scroll in scrolls] == list(range(1, len(scrolls) + 1))
    assert [scroll.state for scroll in scrolls].count(ScrollState.OPEN) == 1
    assert scrolls[-1].state == ScrollState.OPEN
    for scroll in scrolls:
        positions = sorted(scroll.letters.values_list("position", flat=True))
        expected_count = scroll.total_letters if scroll.state == ScrollState.FULL else len(positions)
        assert positions == list(range(1, expected_count + 1)), f"scroll {scroll} has gaps or repeats"
        assert scroll.letters_allocated == len(positions) == scroll.steps_walked
    return scrolls


def assert_each_order_is_consecutive(campaign, scrolls):
    offsets, running = {}, 0
    for scroll in scrolls:
        offsets[scroll.pk] = running
        running += scroll.total_letters
    by_order = defaultdict(list)
    for order_id, scroll_id, position in Letter.objects.filter(scroll__campaign=campaign).values_list(
        "name__order_id", "scroll_id", "position"
    ):
        by_order[order_id].append(offsets[scroll_id] + position)
    for order_id, indexes in by_order.items():
        indexes.sort()
        assert indexes == list(range(indexes[0], indexes[0] + len(indexes))), f"order {order_id} is split"


def test_fifty_orders_paid_at_once_across_two_campaigns(campaigns):
    rng = random.Random(5742)
    tomchei, idf = campaigns["tomchei-temimim"], campaigns["idf"]
    # Small scrolls, so the concurrent orders overflow them several times.
    shrink_open_scroll(tomchei, 97)
    shrink_open_scroll(idf, 61)
    cashier = make_user("cashier", permissions=["payments.record_offline_payment"])
    orders = [make_order(tomchei if i % 2 else idf, rng.randint(1, 20)) for i in range(60)]

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
    assert Letter.objects.count() == Name.objects.count() == sum(o.names.count() for o in orders)
    for campaign in (tomchei, idf):
        scrolls = assert_scrolls_are_whole(campaign)
        assert len(scrolls) >= 3, "the test should overflow the small scroll more than once"
        assert_each_order_is_consecutive(campaign, scrolls)
    assert Order.objects.filter(status="paid", allocated_at__isnull=False).count() == 60


def test_the_same_order_allocated_from_many_connections_at_once(campaigns):
    campaign = campaigns["sefardi"]
    shrink_open_scroll(campaign, 7)
    order = make_order(campaign, 12)
    order_mark_paid(order_id=order.pk)

    run_at_the_same_moment([lambda: order_allocate(order_id=order.pk)] * 10)

    assert Letter.objects.filter(name__order=order).count() == 12
    scrolls = assert_scrolls_are_whole(campaign)
    assert [scroll.letters_allocated for scroll in scrolls] == [7, 5]


def test_the_same_file_imported_by_two_workers_at_once_is_imported_once(campaigns):
    """Each import looks for the names this shliach registered before; two imports of one file
    running at the same moment must not each miss the other's (the shliach's row is locked)."""
    from registrations.models import ImportPayment, ImportStatus, NameImport
    from registrations.services import name_import_check, name_import_create, name_import_run

    from .test_imports import HEADER, csv_bytes, rows

    shliach = make_user("twice", permissions=["accounts.register_names", "payments.record_offline_payment"])
    content = csv_bytes(HEADER, rows(3000))
    imports = []
    for _ in range(2):
        name_import = name_import_create(user=shliach, campaign=campaigns["idf"], source_name="n.csv", content=content)
        checked = name_import_check(import_id=name_import.pk)
        assert checked.status == ImportStatus.READY, checked.problems[:3]
        imports.append(name_import)
    # Confirmed as name_import_confirm does, without its task running the import there and then
    # (on commit, eagerly, in these tests): the two runs below are the two workers.
    NameImport.objects.filter(pk__in=[i.pk for i in imports]).update(
        status=ImportStatus.IMPORTING, payment_method=ImportPayment.OFFLINE, payment_reference="r"
    )
    results = {}
    run_at_the_same_moment(
        [lambda pk=name_import.pk: results.update({pk: name_import_run(import_id=pk)}) for name_import in imports]
    )
    assert sorted(result.status for result in results.values()) == [ImportStatus.IMPORTED, ImportStatus.REFUSED]
    assert Name.objects.count() == 3000 and Letter.objects.count() == 3000
