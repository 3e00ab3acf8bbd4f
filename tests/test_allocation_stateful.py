"""Allocation under random sequences of what happens to orders: created, paid (offline or by the
demo card), declined, cancelled, refunded, paid with the allocation interrupted and swept up
later, allocated again; honour letters reserved, released and given; the siyum of full scrolls.
Three campaigns (two sequential, one lottery) have scrolls of five or six letters, so roll-overs
happen all the time. After every step the invariants are read back from the database with SQL.

Each example runs inside a savepoint of the test's transaction and is rolled back at the end,
so the next example starts again from the seeded campaigns."""

import datetime
import itertools
import types
from collections import defaultdict
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

import scrolls.services
from allocation.lottery import lottery_order
from allocation.models import ORDER_TRANSITIONS, Letter, Order, OrderCancellation, OrderStatus, Reservation
from allocation.services import (
    order_allocate,
    order_cancel,
    order_mark_paid,
    orders_allocate_pending,
    orders_expire_pending,
    reservation_cancel,
    reservation_create,
    reservation_give,
)
from payments.models import Payment, PaymentStatus
from payments.providers import ProviderStatus
from payments.services import (
    payment_confirm,
    payment_demo_complete,
    payment_record_offline,
    payment_refund,
    payment_start_card,
)
from scrolls.models import Campaign, Scroll, ScrollState
from scrolls.seed import DEFAULT_CAMPAIGNS
from scrolls.services import campaigns_seed
from siyum.services import scroll_siyum_hold

from .conftest import make_user
from .factories import make_order, name_data, shrink_open_scroll

pytestmark = pytest.mark.django_db

# Two sequential campaigns, one with a default honour letter at each end of every scroll, one
# without, and a lottery one; all with scrolls of a handful of letters.
# slug: (honours first, honours last, letters, lottery)
CAMPAIGNS = {"idf": (1, 1, 6, False), "sefardi": (0, 0, 5, False), "beis-rivkah": (1, 0, 5, True)}
SLUGS = sorted(CAMPAIGNS)


def walked_positions(seed, total, walked):
    """The positions of a scroll's first `walked` steps: 1, 2, 3... or the lottery's order."""
    if seed is None:
        return list(range(1, walked + 1))
    order = lottery_order(seed=seed, size=total)
    return [order.position_at(step) for step in range(1, walked + 1)]


def rows(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


class Allocation(RuleBasedStateMachine):
    # Set by the test before the machine runs (a staff user, the shliach recording cash).
    staff = None
    cashier = None
    running = None  # the machine of the example under way

    def __init__(self):
        super().__init__()
        Allocation.running = self
        self.savepoint = transaction.savepoint()
        # Lottery scrolls opened by a roll-over get seeds 1, 2, 3... so Hypothesis can replay.
        self.seeds = itertools.count(1)
        for slug, (_first, _last, total, _lottery) in CAMPAIGNS.items():
            shrink_open_scroll(Campaign.objects.get(slug=slug), total)
        self.letters = {}  # letter id -> (scroll id, position, name id), as first seen
        self.interrupted = set()  # orders paid whose allocation "crashed": the sweeper's work

    def teardown(self):
        transaction.savepoint_rollback(self.savepoint)

    # --- helpers ---------------------------------------------------------------------------

    def orders(self, *statuses):
        orders = Order.objects.filter(status__in=statuses, channel="online").order_by("pk")
        return list(orders.values_list("pk", flat=True))

    def pick(self, data, choices):
        if not choices:
            return None
        return data.draw(st.sampled_from(choices))

    def open_scroll(self, slug):
        return Scroll.objects.get(campaign__slug=slug, state=ScrollState.OPEN)

    # --- orders and payments ---------------------------------------------------------------

    @rule(slug=st.sampled_from(SLUGS), count=st.integers(1, 4))
    def create_order(self, slug, count):
        make_order(Campaign.objects.get(slug=slug), count)

    @rule(slug=st.sampled_from(SLUGS), count=st.integers(1, 4), by_card=st.booleans())
    def buy(self, slug, count, by_card):
        """An order paid at once, as most are."""
        order = make_order(Campaign.objects.get(slug=slug), count)
        if by_card:
            payment, _secret = payment_start_card(order_id=order.pk)
            payment_demo_complete(payment_id=payment.pk, succeeded=True)
        else:
            payment_record_offline(order=order, reference="receipt 2", recorded_by=self.cashier)
        assert Letter.objects.filter(name__order=order).count() == count

    @precondition(lambda self: self.orders(OrderStatus.PENDING, OrderStatus.CANCELLED))
    @rule(data=st.data())
    def pay_offline(self, data):
        order_id = self.pick(data, self.orders(OrderStatus.PENDING, OrderStatus.CANCELLED))
        if order_id is None:
            return
        payment_record_offline(order=Order.objects.get(pk=order_id), reference="receipt 1", recorded_by=self.cashier)
        assert Order.objects.get(pk=order_id).status == OrderStatus.PAID

    @precondition(lambda self: self.orders(OrderStatus.PENDING))
    @rule(data=st.data(), succeeded=st.booleans())
    def pay_by_card(self, data, succeeded):
        order_id = self.pick(data, self.orders(OrderStatus.PENDING))
        if order_id is None:
            return
        payment, _secret = payment_start_card(order_id=order_id)
        payment = payment_demo_complete(payment_id=payment.pk, succeeded=succeeded)
        status = Order.objects.get(pk=order_id).status
        if succeeded:
            assert (payment.status, status) == (PaymentStatus.SUCCEEDED, OrderStatus.PAID)
        else:  # declined: the order waits for another attempt
            assert (payment.status, status) == (PaymentStatus.FAILED, OrderStatus.PENDING)

    @precondition(lambda self: self.orders(OrderStatus.PAID, OrderStatus.REFUNDED))
    @rule(data=st.data())
    def late_news_changes_nothing(self, data):
        """A failure after a success, or a success after a refund, arriving late."""
        payments = list(
            Payment.objects.filter(status__in=[PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED], provider="demo")
            .order_by("pk").values_list("pk", flat=True)
        )  # fmt: skip
        payment_id = self.pick(data, payments)
        if payment_id is None:
            return
        before = Payment.objects.select_related("order").get(pk=payment_id)
        outcome = data.draw(st.sampled_from(["failed", "succeeded"]))
        payment_confirm(payment_id=payment_id, outcome=ProviderStatus(status=outcome))
        after = Payment.objects.select_related("order").get(pk=payment_id)
        assert (after.status, after.order.status) == (before.status, before.order.status)

    @precondition(lambda self: self.orders(OrderStatus.PENDING))
    @rule(data=st.data())
    def cancel(self, data):
        # Staff cancel an abandoned order (the admin's action), or it expires: the lifecycle's service.
        order_id = self.pick(data, self.orders(OrderStatus.PENDING))
        if order_id is not None:
            order_cancel(order_id=order_id, cancellation=data.draw(st.sampled_from(OrderCancellation.values)))

    @precondition(lambda self: self.orders(OrderStatus.PENDING))
    @rule()
    def expire(self):
        """A day passes: every pending order expires, and payments cancels its card attempts."""
        pending = set(self.orders(OrderStatus.PENDING))
        orders_expire_pending(now=timezone.now() + timedelta(minutes=settings.PENDING_ORDER_TTL_MINUTES + 1))
        assert not self.orders(OrderStatus.PENDING)
        assert not Payment.objects.filter(order_id__in=pending, status=PaymentStatus.CREATED).exists()

    @precondition(lambda self: Payment.objects.filter(order__status=OrderStatus.CANCELLED, provider="demo").exists())
    @rule(data=st.data())
    def card_money_arrives_after_expiry(self, data):
        """The buyer paid just before the order expired; the news comes after: it pays the order."""
        payments = list(
            Payment.objects.filter(order__status=OrderStatus.CANCELLED, provider="demo")
            .order_by("pk").values_list("pk", flat=True)
        )  # fmt: skip
        payment_id = self.pick(data, payments)
        if payment_id is None:
            return
        payment = payment_demo_complete(payment_id=payment_id, succeeded=True)
        assert (payment.status, Order.objects.get(pk=payment.order_id).status) == (
            PaymentStatus.SUCCEEDED,
            OrderStatus.PAID,
        )

    @precondition(lambda self: Payment.objects.filter(status=PaymentStatus.SUCCEEDED).exists())
    @rule(data=st.data())
    def refund(self, data):
        payments = list(
            Payment.objects.filter(status=PaymentStatus.SUCCEEDED).order_by("pk").values_list("pk", flat=True)
        )
        payment_id = self.pick(data, payments)
        if payment_id is None:
            return
        payment_refund(payment_id=payment_id, refunded_by=self.staff)
        assert Payment.objects.get(pk=payment_id).status == PaymentStatus.REFUNDED
        with pytest.raises(ValidationError):  # a second refund of the same payment is refused
            payment_refund(payment_id=payment_id, refunded_by=self.staff)

    @precondition(lambda self: self.orders(OrderStatus.PENDING))
    @rule(data=st.data())
    def pay_and_crash_before_allocating(self, data):
        """The payment is recorded; the allocation after it never ran (a crash, a lost task)."""
        order_id = self.pick(data, self.orders(OrderStatus.PENDING))
        if order_id is None:
            return
        order_mark_paid(order_id=order_id)
        self.interrupted.add(order_id)

    @precondition(lambda self: self.orders(OrderStatus.PAID, OrderStatus.REFUNDED))
    @rule(data=st.data())
    def allocate_again(self, data):
        order_id = self.pick(data, list(Order.objects.order_by("pk").values_list("pk", flat=True)))
        if order_id is None:
            return
        given = order_allocate(order_id=order_id)
        if order_id in self.interrupted:
            self.interrupted.discard(order_id)
        else:
            assert given == [], "an order allocated once gets nothing more"

    @precondition(lambda self: self.interrupted)
    @rule()
    def sweep(self):
        orders_allocate_pending(older_than_seconds=0)
        self.interrupted.clear()

    # --- honour letters and the siyum ------------------------------------------------------

    @rule(slug=st.sampled_from(SLUGS), data=st.data())
    def reserve(self, slug, data):
        scroll = self.open_scroll(slug)
        reserved = set(scroll.reservations.values_list("position", flat=True))
        walked = set(walked_positions(scroll.lottery_seed, scroll.total_letters, scroll.steps_walked))
        free = [p for p in range(1, scroll.total_letters + 1) if p not in reserved and p not in walked]
        position = self.pick(data, free)
        if position is None:
            return
        reservation_create(scroll_id=scroll.pk, position=position, honouree="Rabbi", created_by=self.staff)

    @precondition(lambda self: Reservation.objects.filter(reached_at__isnull=True, name__isnull=True).exists())
    @rule(data=st.data())
    def release(self, data):
        waiting = Reservation.objects.filter(reached_at__isnull=True, name__isnull=True).order_by("pk")
        waiting = list(waiting.values_list("pk", flat=True))
        reservation_id = self.pick(data, waiting)
        if reservation_id is not None:
            reservation_cancel(reservation_id=reservation_id, cancelled_by=self.staff)

    @precondition(lambda self: Reservation.objects.filter(name__isnull=True).exists())
    @rule(data=st.data())
    def give(self, data):
        waiting = list(Reservation.objects.filter(name__isnull=True).order_by("pk").values_list("pk", flat=True))
        reservation_id = self.pick(data, waiting)
        if reservation_id is None:
            return
        try:
            reservation_give(reservation_id=reservation_id, name=name_data(3), given_by=self.staff)
        except ValidationError:  # the walk has not reached it: refused, and nothing written
            reservation = Reservation.objects.get(pk=reservation_id)
            assert reservation.reached_at is None and reservation.name_id is None
        else:
            assert Letter.objects.filter(name__reservation__pk=reservation_id).count() == 1

    @precondition(lambda self: Scroll.objects.filter(state=ScrollState.FULL).exists())
    @rule(data=st.data())
    def siyum(self, data):
        full = list(Scroll.objects.filter(state=ScrollState.FULL).order_by("pk").values_list("pk", flat=True))
        scroll_id = self.pick(data, full)
        if scroll_id is None:
            return
        waiting = Reservation.objects.filter(scroll_id=scroll_id, name__isnull=True).values_list("position", flat=True)
        scroll_siyum_hold(
            scroll_id=scroll_id,
            held_on=datetime.date.today() - datetime.timedelta(days=1),
            place="770",
            honours={position: {"name": name_data(position)} for position in waiting},
            held_by=self.staff,
        )
        assert Scroll.objects.get(pk=scroll_id).state == ScrollState.COMPLETED

    # --- invariants ------------------------------------------------------------------------

    @invariant()
    def each_position_once_and_within_its_scroll(self):
        assert rows("SELECT scroll_id, position FROM allocation_letter GROUP BY 1, 2 HAVING count(*) > 1") == []
        assert (
            rows(
                "SELECT l.id FROM allocation_letter l JOIN scrolls_scroll s ON s.id = l.scroll_id"
                " WHERE l.position < 1 OR l.position > s.total_letters"
            )
            == []
        )

    @invariant()
    def scrolls_fill_along_their_order_with_holes_only_at_honour_letters(self):
        for scroll_id, total, walked, allocated, state, seed in rows(
            "SELECT id, total_letters, steps_walked, letters_allocated, state, lottery_seed FROM scrolls_scroll"
        ):
            written = {p for (p,) in rows("SELECT position FROM allocation_letter WHERE scroll_id = %s", [scroll_id])}
            reserved = {
                p: given
                for p, given in rows(
                    "SELECT position, name_id IS NOT NULL FROM allocation_reservation WHERE scroll_id = %s", [scroll_id]
                )
            }
            if written and seed is None:
                holes = set(range(1, max(written) + 1)) - written
                assert holes <= {p for p, given in reserved.items() if not given}, (scroll_id, holes)
            # The walk has given every step up to where it stands, and nothing beyond it.
            steps = walked_positions(seed, total, walked)
            assert len(set(steps)) == walked
            assert set(steps) <= written | set(reserved)
            assert written <= set(steps)
            assert allocated == len(written)
            if state != ScrollState.OPEN:
                assert walked == total
            if state == ScrollState.COMPLETED:
                assert written == set(range(1, total + 1))

    @invariant()
    def one_open_scroll_per_campaign(self):
        assert (
            rows(
                "SELECT c.slug, count(s.id) FROM scrolls_campaign c"
                " LEFT JOIN scrolls_scroll s ON s.campaign_id = c.id AND s.state = 'open' GROUP BY c.slug"
                " HAVING count(s.id) <> 1"
            )
            == []
        )

    @invariant()
    def every_paid_or_refunded_order_has_one_letter_per_name_and_no_other_has_any(self):
        counts = rows(
            "SELECT o.id, o.status, count(n.id), count(l.id), count(DISTINCT l.id)"
            " FROM allocation_order o JOIN allocation_name n ON n.order_id = o.id"
            " LEFT JOIN allocation_letter l ON l.name_id = n.id GROUP BY o.id, o.status"
        )
        for order_id, status, names, letters, distinct in counts:
            assert letters == distinct
            if status in (OrderStatus.PAID, OrderStatus.REFUNDED) and order_id not in self.interrupted:
                assert letters == names, (order_id, status, names, letters)
            elif status in (OrderStatus.PENDING, OrderStatus.CANCELLED) or order_id in self.interrupted:
                assert letters == 0, (order_id, status, letters)

    @invariant()
    def every_order_moved_only_along_its_lifecycle(self):
        history = defaultdict(list)
        for order_id, status in rows(
            "SELECT id, status FROM allocation_historicalorder ORDER BY id, history_date, history_id"
        ):
            if not history[order_id] or history[order_id][-1] != status:
                history[order_id].append(status)
        for order_id, statuses in history.items():
            assert statuses[0] == OrderStatus.PENDING, (order_id, statuses)
            for old, new in itertools.pairwise(statuses):
                assert new in ORDER_TRANSITIONS[old], (order_id, statuses)

    @invariant()
    def a_letter_once_written_never_changes(self):
        now = {pk: (scroll, position, name) for pk, scroll, position, name in rows(
            "SELECT id, scroll_id, position, name_id FROM allocation_letter"
        )}  # fmt: skip
        for pk, seen in self.letters.items():
            assert now.get(pk) == seen, f"letter {pk} was {seen}, now {now.get(pk)}"
        self.letters = now


def test_allocation_keeps_its_invariants_whatever_happens(campaigns_small, settings, monkeypatch):
    settings.DEMO_PAYMENTS = True  # the demo card provider
    settings.STRIPE_SECRET_KEY = ""
    # A new lottery scroll's seed is random; the running machine's counter makes a run repeatable.
    seeds = types.SimpleNamespace(randbits=lambda bits: next(Allocation.running.seeds))
    monkeypatch.setattr(scrolls.services, "secrets", seeds)
    Allocation.staff = make_user("staff", is_staff=True)
    Allocation.cashier = make_user("cashier", permissions=["payments.record_offline_payment"])
    run_state_machine_as_test(
        Allocation,
        settings=hypothesis_settings(
            max_examples=30,
            stateful_step_count=30,
            deadline=None,
            database=None,  # no .hypothesis folder in the tree
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


@pytest.fixture
def campaigns_small(db):
    """The two campaigns of the machine, with their honour letters; the others as seeded."""
    campaigns_seed(
        campaigns=[
            {
                **data,
                "honour_letters_first": CAMPAIGNS[slug][0],
                "honour_letters_last": CAMPAIGNS[slug][1],
                "allocation_mode": "lottery" if CAMPAIGNS[slug][3] else "sequential",
            }
            for data in DEFAULT_CAMPAIGNS
            if (slug := data["slug"]) in CAMPAIGNS
        ]
    )
