"""The order's lifecycle: one table of transitions, one service that moves an order along it,
and no other code that writes an order's status."""

import ast
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.db import transaction

from allocation.models import ORDER_TRANSITIONS, Order, OrderCancellation, OrderStatus
from allocation.services import (
    OrderTransitionRefused,
    order_cancel,
    order_mark_paid,
    order_refund_record,
    order_transition,
)
from allocation.signals import order_status_changed, order_status_changing

from .factories import make_order

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
LIFECYCLE = ROOT / "allocation" / "services" / "lifecycle.py"
ORDER_STATUSES = frozenset(OrderStatus.values)


def order_in(campaign, status):
    """An order brought to `status` by the lifecycle's own moves."""
    order = make_order(campaign, 1)
    path = {
        OrderStatus.PENDING: [],
        OrderStatus.PAID: [OrderStatus.PAID],
        OrderStatus.CANCELLED: [OrderStatus.CANCELLED],
        OrderStatus.REFUNDED: [OrderStatus.PAID, OrderStatus.REFUNDED],
    }[status]
    for step in path:
        order_transition(order_id=order.pk, to=step)
    return Order.objects.get(pk=order.pk)


def test_the_table_says_pending_paid_cancelled_refunded_and_nothing_else():
    assert ORDER_TRANSITIONS == {
        OrderStatus.PENDING: {OrderStatus.PAID, OrderStatus.CANCELLED},
        OrderStatus.CANCELLED: {OrderStatus.PAID},
        OrderStatus.PAID: {OrderStatus.REFUNDED},
        OrderStatus.REFUNDED: set(),
    }


@pytest.mark.parametrize("old", OrderStatus.values)
@pytest.mark.parametrize("new", OrderStatus.values)
def test_every_move_in_the_table_is_made_and_every_other_is_refused(campaigns, old, new):
    order = order_in(campaigns["idf"], old)
    if new in ORDER_TRANSITIONS[old]:
        moved = order_transition(order_id=order.pk, to=new)
        assert Order.objects.get(pk=order.pk).status == moved.status == new
    else:
        with pytest.raises(OrderTransitionRefused):
            order_transition(order_id=order.pk, to=new)
        assert Order.objects.get(pk=order.pk).status == old


def test_a_move_records_its_moment_and_the_person_in_the_history(campaigns):
    staff = User.objects.create_user("gabbai", "gabbai@example.org", "a-long-test-password", is_staff=True)
    order = make_order(campaigns["idf"], 1)
    order_cancel(order_id=order.pk, by=staff)
    order.refresh_from_db()
    assert order.cancelled_at is not None and order.cancellation == OrderCancellation.STAFF
    latest = order.history.order_by("-history_id").first()
    assert (latest.status, latest.history_user) == (OrderStatus.CANCELLED, staff)
    order_mark_paid(order_id=order.pk, by=staff)  # money that arrives late is honoured
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and order.paid_at is not None
    assert order.cancelled_at is not None  # what happened before stays told


def test_marking_paid_twice_or_after_a_refund_changes_nothing(campaigns):
    order = order_in(campaigns["idf"], OrderStatus.PAID)
    paid_at = order.paid_at
    assert order_mark_paid(order_id=order.pk).paid_at == paid_at
    order_refund_record(order_id=order.pk)
    assert order_mark_paid(order_id=order.pk).status == OrderStatus.REFUNDED


def test_a_listener_inside_the_transaction_commits_or_rolls_back_with_the_move(campaigns):
    seen = []

    def listener(sender, order, old, new, **kwargs):
        seen.append((order.pk, old, new))
        if new == OrderStatus.CANCELLED:
            raise RuntimeError("a listener that fails undoes the move")

    order_status_changing.connect(listener, dispatch_uid="test-lifecycle-inside")
    try:
        order = make_order(campaigns["idf"], 1)
        with pytest.raises(RuntimeError):
            order_cancel(order_id=order.pk)
        assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING
        order_mark_paid(order_id=order.pk)
        assert seen == [
            (order.pk, OrderStatus.PENDING, OrderStatus.CANCELLED),
            (order.pk, OrderStatus.PENDING, OrderStatus.PAID),
        ]
    finally:
        order_status_changing.disconnect(dispatch_uid="test-lifecycle-inside")


def test_the_change_is_announced_once_its_transaction_commits(campaigns, django_capture_on_commit_callbacks):
    heard = []

    def listener(sender, **kwargs):
        heard.append(kwargs)

    order_status_changed.connect(listener, dispatch_uid="test-lifecycle-listener")
    try:
        order = make_order(campaigns["idf"], 1)
        with django_capture_on_commit_callbacks(execute=True):
            with transaction.atomic():
                order_cancel(order_id=order.pk, cancellation=OrderCancellation.EXPIRED)
                assert heard == []  # nothing before the commit
        assert [(h["order_id"], h["old"], h["new"], h["cancellation"]) for h in heard] == [
            (order.pk, OrderStatus.PENDING, OrderStatus.CANCELLED, OrderCancellation.EXPIRED)
        ]
        heard.clear()
        with django_capture_on_commit_callbacks(execute=True):
            with pytest.raises(OrderTransitionRefused), transaction.atomic():
                order_refund_record(order_id=order.pk)
        assert heard == []  # a refused move announces nothing
    finally:
        order_status_changed.disconnect(dispatch_uid="test-lifecycle-listener")


# --- No other code writes an order's status ---------------------------------------------------


def _names_a_status(node) -> bool:
    """OrderStatus.X, or a string literal that is one of the order's statuses."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "OrderStatus":
        return True
    return isinstance(node, ast.Constant) and node.value in ORDER_STATUSES


WRITING_CALLS = {"update", "create", "bulk_create", "get_or_create", "update_or_create", "Order"}


def status_writes(source: str) -> list[int]:
    """Lines of `source` that write an order's status: `x.status = OrderStatus...` or `order.status =
    anything`, `setattr(x,
    "status", ...)`, a status given to Order(...), .create(...) or .update(...), or SQL that
    sets allocation_order's status."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if not (isinstance(target, ast.Attribute) and target.attr == "status"):
                    continue
                of_an_order = isinstance(target.value, ast.Name) and "order" in target.value.id.lower()
                if of_an_order or (node.value is not None and any(_names_a_status(n) for n in ast.walk(node.value))):
                    lines.append(node.lineno)
        elif isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in WRITING_CALLS and any(k.arg == "status" and _names_a_status(k.value) for k in node.keywords):
                lines.append(node.lineno)
            if name == "setattr" and len(node.args) >= 2 and getattr(node.args[1], "value", None) == "status":
                lines.append(node.lineno)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            sql = " ".join(node.value.lower().split())
            if "update allocation_order set" in sql and "status" in sql:
                lines.append(node.lineno)
    return sorted(lines)


def test_the_source_check_finds_what_it_looks_for():
    """The check below is not blind: each way of writing a status is caught, a read is not."""
    caught = """
order.status = OrderStatus.PAID
setattr(order, "status", "paid")
Order.objects.filter(pk=1).update(status=OrderStatus.CANCELLED)
Order(campaign=c, status="paid")
cursor.execute("UPDATE allocation_order SET status = 'paid'")
order.status = new_status
"""
    assert status_writes(caught) == [2, 3, 4, 5, 6, 7]
    read = """
if order.status == OrderStatus.PAID: pass
Order.objects.filter(status=OrderStatus.PAID)
payment.status = PaymentStatus.SUCCEEDED
"""
    assert status_writes(read) == []


def test_no_code_outside_the_lifecycle_service_writes_an_orders_status():
    skipped = {"tests", "bench", "migrations", ".venv", "node_modules"}
    found = {}
    for path in ROOT.rglob("*.py"):
        if skipped & set(path.relative_to(ROOT).parts) or path == LIFECYCLE:
            continue
        lines = status_writes(path.read_text(encoding="utf-8"))
        if lines:
            found[str(path.relative_to(ROOT))] = lines
    assert found == {}, "an order's status changes only in allocation.services.lifecycle.order_transition"
    assert status_writes(LIFECYCLE.read_text(encoding="utf-8")), "the service itself is found by the check"
