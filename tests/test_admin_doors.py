"""The admin is a door like the others: orders are placed through order_place, names corrected
through name_correct, statuses moved only by its actions, payments never added or rewritten by
hand, and the history there to read, never to revert. Behind it PostgreSQL refuses the rest."""

from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction

from allocation.models import Letter, Name, Order, OrderCancellation, OrderStatus, Reservation
from allocation.services import name_correct, order_mark_paid, reservation_create, reservation_update
from payments.models import Payment, PaymentProvider, PaymentStatus
from payments.services import payment_record_offline, payment_refund

from .conftest import make_user
from .factories import make_order

pytestmark = pytest.mark.django_db

BIDI_OVERRIDE = "\u202e"


class _FormValues(HTMLParser):
    """What a browser would send for the admin's change form (`<form id="..._form">`): its
    inputs, the chosen option of each select, its textareas; not its buttons."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.values = {}
        self._in_form = False
        self._select = None
        self._first_option = None
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._in_form = (attrs.get("id") or "").endswith("_form")
        if not self._in_form:
            return
        name = attrs.get("name")
        if tag == "input" and name:
            kind = attrs.get("type", "text")
            if kind in ("submit", "button", "image", "reset", "file"):
                return
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            self.values[name] = attrs.get("value", "on" if kind in ("checkbox", "radio") else "")
        elif tag == "select" and name:
            self._select, self._first_option = name, None
        elif tag == "option" and self._select:
            value = attrs.get("value", "")
            if self._first_option is None:
                self._first_option = value
                self.values.setdefault(self._select, value)
            if "selected" in attrs:
                self.values[self._select] = value
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = ""

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            if self._textarea:  # the browser drops the newline that follows <textarea>
                self.values[self._textarea] = self.values[self._textarea].removeprefix("\n")
            self._textarea = None


def form_values(response):
    assert response.status_code == 200
    parser = _FormValues()
    parser.feed(response.content.decode())
    assert parser.values, "no admin form on the page"
    return parser.values


@pytest.fixture
def boss(client):
    user = User.objects.create_superuser("boss", "boss@example.org", "a-long-test-password")
    client.force_login(user)
    return user


@pytest.fixture
def viewer(db):
    """Staff who may see everything and change nothing."""
    return make_user("viewer", is_staff=True)


def paid_order(campaign, recorded_by, name_count=2):
    """A paid and allocated order (an offline payment, allocated at once)."""
    order = make_order(campaign, name_count)
    payment_record_offline(order=order, reference="receipt 1", recorded_by=recorded_by)
    order = Order.objects.get(pk=order.pk)
    assert order.status == OrderStatus.PAID and order.allocated_at is not None
    return order


def order_terms(order):
    order = Order.objects.get(pk=order.pk)
    return (order.status, order.paid_at, order.allocated_at, order.campaign_id, order.amount, order.currency)


def first_record(obj):
    return obj.history.order_by("history_id").first()


# --- The history is read, never reverted ----------------------------------------------------


def test_reverting_a_paid_order_to_its_pending_record_is_refused(client, boss, campaigns):
    order = paid_order(campaigns["idf"], boss)
    first = first_record(order)
    assert first.status == OrderStatus.PENDING
    url = f"/admin/allocation/order/{order.pk}/history/{first.history_id}/"
    before = order_terms(order)

    revert = form_values(client.get(url))
    response = client.post(url, revert)

    assert response.status_code == 403
    assert order_terms(order) == before
    assert Letter.objects.filter(name__order=order).count() == 2


def test_reverting_an_order_is_refused_to_staff_who_may_only_view_it_too(client, boss, viewer, campaigns):
    order = paid_order(campaigns["idf"], boss)
    first = first_record(order)
    url = f"/admin/allocation/order/{order.pk}/history/{first.history_id}/"
    before = order_terms(order)
    client.force_login(viewer)

    assert client.get(url).status_code == 200
    assert client.post(url, {"status": "pending"}).status_code == 403
    assert order_terms(order) == before


def test_reverting_a_refunded_payment_to_its_succeeded_record_is_refused(client, boss, campaigns):
    order = paid_order(campaigns["idf"], boss)
    payment = Payment.objects.get(order=order)
    payment_refund(payment_id=payment.pk, refunded_by=boss)
    first = first_record(payment)
    assert first.status == PaymentStatus.SUCCEEDED
    url = f"/admin/payments/payment/{payment.pk}/history/{first.history_id}/"

    revert = form_values(client.get(url))
    response = client.post(url, revert)

    assert response.status_code == 403
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED
    assert Order.objects.get(pk=order.pk).status == OrderStatus.REFUNDED


def test_reverting_a_corrected_name_is_refused(client, boss, campaigns):
    name = make_order(campaigns["idf"], 1).names.get()
    name_correct(name_id=name.pk, data={"hebrew_name": "משה"}, corrected_by=boss)
    name_correct(name_id=name.pk, data={"hebrew_name": "אהרן"}, corrected_by=boss)
    first = first_record(name)
    assert first.hebrew_name == "משה"
    url = f"/admin/allocation/name/{name.pk}/history/{first.history_id}/"

    revert = form_values(client.get(url))
    response = client.post(url, revert)

    assert response.status_code == 403
    assert Name.objects.get(pk=name.pk).hebrew_name == "אהרן"
    assert name.history.count() == 2


def test_reverting_an_honour_letter_is_refused(client, boss, campaigns):
    scroll = campaigns["idf"].scrolls.get(state="open")
    reservation = reservation_create(scroll_id=scroll.pk, position=100, honouree="Rabbi Levi", created_by=boss)
    reservation_update(reservation_id=reservation.pk, honouree="Rabbi Yosef", note="", updated_by=boss)
    first = first_record(reservation)
    assert first.honouree == "Rabbi Levi"
    url = f"/admin/allocation/reservation/{reservation.pk}/history/{first.history_id}/"

    revert = form_values(client.get(url))
    response = client.post(url, revert)

    assert response.status_code == 403
    assert Reservation.objects.get(pk=reservation.pk).honouree == "Rabbi Yosef"


# --- An order added in the admin is placed by order_place -----------------------------------


def add_order_form(campaign, **overrides):
    return {
        "campaign": campaign.pk,
        "buyer_name": "Rivka Cohen",
        "buyer_email": "rivka@example.org",
        "buyer_phone": "",
        "amount": "",
        "names_text": "משה בן אברהם\nשרה בת רבקה",
        **overrides,
    }


def test_an_order_added_in_the_admin_is_placed_pending_at_the_campaigns_price(client, boss, campaigns):
    campaign = campaigns["sefardi"]

    response = client.post("/admin/allocation/order/add/", add_order_form(campaign))

    assert response.status_code == 302
    order = Order.objects.get()
    assert (order.status, order.campaign, order.created_by) == (OrderStatus.PENDING, campaign, boss)
    assert order.currency == campaign.currency
    assert order.amount == campaign.price * 2
    assert [(n.hebrew_name, n.gender, n.parent_hebrew_name) for n in order.names.order_by("id")] == [
        ("משה", "m", "אברהם"),
        ("שרה", "f", "רבקה"),
    ]


def test_an_admin_order_below_the_price_floor_is_refused_and_nothing_saved(client, boss, campaigns):
    campaign = campaigns["idf"]
    too_little = campaign.price * 2 - Decimal("0.01")

    response = client.post("/admin/allocation/order/add/", add_order_form(campaign, amount=str(too_little)))

    assert response.status_code == 200
    assert f"The amount cannot be less than {campaign.price * 2}" in response.content.decode()
    assert not Order.objects.exists() and not Name.objects.exists()


@pytest.mark.parametrize(
    "bad_line, message",
    [
        (f"שרה{BIDI_OVERRIDE} בת רבקה", "The name contains invisible or control characters"),
        ("Sarah בת רבקה", "Please type the name in Hebrew letters"),
    ],
    ids=["bidi-control", "latin-letters"],
)
def test_an_admin_order_with_a_bad_name_is_refused_naming_its_line(client, boss, campaigns, bad_line, message):
    names_text = f"משה בן אברהם\n{bad_line}"

    response = client.post("/admin/allocation/order/add/", add_order_form(campaigns["idf"], names_text=names_text))

    assert response.status_code == 200
    page = response.content.decode()
    assert f"Line 2: {message}" in page and "Line 1:" not in page
    assert not Order.objects.exists() and not Name.objects.exists()


# --- A name is corrected through name_correct -----------------------------------------------


def test_a_name_corrected_on_its_page_is_saved_and_its_history_names_the_user(client, boss, campaigns):
    name = make_order(campaigns["idf"], 1).names.get()
    url = f"/admin/allocation/name/{name.pk}/change/"
    data = form_values(client.get(url))

    assert data["hebrew_name"] == "מנחם מענדל"

    response = client.post(url, {**data, "hebrew_name": "  לוי   יצחק  "})

    assert response.status_code == 302
    name.refresh_from_db()
    assert name.hebrew_name == "לוי יצחק"  # normalised, as name_clean does everywhere
    latest = name.history.get()
    assert (latest.hebrew_name, latest.history_user) == ("לוי יצחק", boss)


@pytest.mark.parametrize(
    "bad_name, message",
    [(f"מנחם{BIDI_OVERRIDE}מענדל", "invisible or control characters"), ("Menachem", "in Hebrew letters")],
    ids=["bidi-control", "latin-letters"],
)
def test_a_bad_correction_on_a_names_page_is_shown_and_changes_nothing(client, boss, campaigns, bad_name, message):
    name = make_order(campaigns["idf"], 1).names.get()
    before = name.hebrew_name
    url = f"/admin/allocation/name/{name.pk}/change/"
    data = form_values(client.get(url))

    response = client.post(url, {**data, "hebrew_name": bad_name})

    assert response.status_code == 200
    assert message in response.content.decode()
    assert Name.objects.get(pk=name.pk).hebrew_name == before
    assert not name.history.exists()


def test_a_name_cannot_be_moved_to_another_order(client, boss, campaigns):
    name = make_order(campaigns["idf"], 1).names.get()
    other = make_order(campaigns["idf"], 1)
    url = f"/admin/allocation/name/{name.pk}/change/"
    data = form_values(client.get(url))
    assert "order" not in data  # shown, not an input

    client.post(url, {**data, "order": other.pk})

    assert Name.objects.get(pk=name.pk).order_id == name.order_id
    assert other.names.count() == 1


def test_staff_who_may_only_view_cannot_correct_a_name(client, viewer, campaigns):
    name = make_order(campaigns["idf"], 1).names.get()
    before = name.hebrew_name
    client.force_login(viewer)
    url = f"/admin/allocation/name/{name.pk}/change/"
    assert client.get(url).status_code == 200

    response = client.post(url, {"hebrew_name": "משה", "parent_hebrew_name": "מרים", "gender": "m"})

    assert response.status_code == 403
    assert Name.objects.get(pk=name.pk).hebrew_name == before


def test_a_name_corrected_in_its_orders_inline_goes_through_name_correct(client, boss, campaigns):
    order = make_order(campaigns["idf"], 2)
    first, second = order.names.order_by("id")
    url = f"/admin/allocation/order/{order.pk}/change/"
    data = form_values(client.get(url))
    assert data["names-TOTAL_FORMS"] == "2" and data["names-0-id"] == str(first.pk)

    response = client.post(url, {**data, "names-1-hebrew_name": "שרה   רבקה"})

    assert response.status_code == 302
    second.refresh_from_db()
    assert second.hebrew_name == "שרה רבקה"
    assert second.history.get().history_user == boss
    assert Name.objects.get(pk=first.pk).hebrew_name == first.hebrew_name
    assert not first.history.exists()


def test_an_orders_buyer_details_are_saved_from_its_page_with_its_names_inline(client, boss, campaigns):
    order = make_order(campaigns["idf"], 2)
    url = f"/admin/allocation/order/{order.pk}/change/"
    data = form_values(client.get(url))

    response = client.post(url, {**data, "buyer_email": "new@example.org"})

    assert response.status_code == 302
    order.refresh_from_db()
    assert (order.buyer_email, order.status, order.amount) == ("new@example.org", OrderStatus.PENDING, Decimal("36.00"))
    assert not Name.history.exists()  # no name changed, none corrected


@pytest.mark.parametrize(
    "bad_name, message",
    [(f"שרה{BIDI_OVERRIDE}", "invisible or control characters"), ("Sarah", "in Hebrew letters")],
    ids=["bidi-control", "latin-letters"],
)
def test_a_bad_correction_in_the_orders_inline_is_shown_and_changes_nothing(client, boss, campaigns, bad_name, message):
    order = make_order(campaigns["idf"], 2)
    url = f"/admin/allocation/order/{order.pk}/change/"
    data = form_values(client.get(url))
    before = list(order.names.order_by("id").values_list("hebrew_name", flat=True))

    response = client.post(url, {**data, "names-1-hebrew_name": bad_name, "buyer_name": "Someone Else"})

    assert response.status_code == 200
    assert message in response.content.decode()
    assert list(order.names.order_by("id").values_list("hebrew_name", flat=True)) == before
    assert Order.objects.get(pk=order.pk).buyer_name == order.buyer_name  # nothing of the form saved
    assert not Name.history.exists()


def test_the_orders_inline_cannot_move_a_name_to_another_order(client, boss, campaigns):
    order, other = make_order(campaigns["idf"], 1), make_order(campaigns["idf"], 1)
    url = f"/admin/allocation/order/{order.pk}/change/"
    data = form_values(client.get(url))
    name = order.names.get()

    client.post(url, {**data, "names-0-order": other.pk})

    assert Name.objects.get(pk=name.pk).order_id == order.pk
    assert (order.names.count(), other.names.count()) == (1, 1)


# --- Payments: never added, their settled fields read-only ----------------------------------


def test_a_payments_amount_provider_reference_and_order_are_not_inputs(client, boss, campaigns):
    order = paid_order(campaigns["idf"], boss)
    payment = Payment.objects.get(order=order)
    url = f"/admin/payments/payment/{payment.pk}/change/"
    page = client.get(url)
    data = form_values(page)

    for field in ("amount", "provider", "reference", "order", "currency"):
        assert field not in data
        assert f'name="{field}"' not in page.content.decode()
    client.post(url, {**data, "amount": "1.00", "provider": "stripe", "reference": "pi_forged", "order": "999"})

    payment.refresh_from_db()
    assert (payment.amount, payment.provider, payment.reference, payment.order_id) == (
        order.amount,
        PaymentProvider.OFFLINE,
        "receipt 1",
        order.pk,
    )


def test_payments_are_not_added_by_hand(client, boss, campaigns):
    order = make_order(campaigns["idf"], 1)

    assert client.get("/admin/payments/payment/add/").status_code == 403
    response = client.post(
        "/admin/payments/payment/add/",
        {"order": order.pk, "provider": "offline", "amount": "18.00", "currency": "ILS", "reference": "x"},
    )

    assert response.status_code == 403
    assert not Payment.objects.exists()
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING


# --- Statuses move through the actions ------------------------------------------------------


def cancel_action(client, order):
    return client.post(
        "/admin/allocation/order/", {"action": "cancel", "_selected_action": [order.pk]}, follow=True
    ).content.decode()


def test_the_cancel_action_cancels_a_pending_order_as_staff(client, boss, campaigns):
    order = make_order(campaigns["idf"], 1)

    page = cancel_action(client, order)

    assert "1 order cancelled." in page
    order.refresh_from_db()
    assert (order.status, order.cancellation) == (OrderStatus.CANCELLED, OrderCancellation.STAFF)
    assert order.cancelled_at is not None and not order.is_expired
    assert order.history.order_by("-history_id").first().history_user == boss


def test_the_cancel_action_refuses_a_paid_order_and_says_so(client, boss, campaigns):
    order = paid_order(campaigns["idf"], boss)
    before = order_terms(order)

    page = cancel_action(client, order)

    assert f"#{order.pk}: This order is paid: it cannot be cancelled" in page
    assert "order cancelled." not in page
    assert order_terms(order) == before
    assert Order.objects.get(pk=order.pk).cancelled_at is None


def test_staff_who_may_only_view_are_not_given_the_cancel_action(client, viewer, campaigns):
    order = make_order(campaigns["idf"], 1)
    client.force_login(viewer)

    assert 'value="cancel"' not in client.get("/admin/allocation/order/").content.decode()
    cancel_action(client, order)

    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING


# --- PostgreSQL refuses the rest ------------------------------------------------------------


def execute(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def refused(sql, params):
    with pytest.raises(IntegrityError), transaction.atomic():
        execute(sql, params)


@pytest.fixture
def paid(campaigns):
    order = make_order(campaigns["idf"], 1)
    order_mark_paid(order_id=order.pk)
    return Order.objects.get(pk=order.pk)


@pytest.mark.parametrize(
    "assignment",
    [
        "status = 'pending'",
        "status = 'cancelled'",
        "amount = amount + 1",
        "currency = 'USD'",
        "paid_at = paid_at + interval '1 hour'",
        "paid_at = NULL",
    ],
)
def test_the_database_refuses_to_unsettle_a_paid_order(paid, assignment):
    before = order_terms(paid)

    refused(f"UPDATE allocation_order SET {assignment} WHERE id = %s", [paid.pk])

    assert order_terms(paid) == before


def test_the_database_refuses_to_move_a_paid_order_to_another_campaign(paid, campaigns):
    refused("UPDATE allocation_order SET campaign_id = %s WHERE id = %s", [campaigns["sefardi"].pk, paid.pk])

    assert Order.objects.get(pk=paid.pk).campaign_id == campaigns["idf"].pk


def test_the_database_refuses_to_refund_a_pending_order(campaigns):
    order = make_order(campaigns["idf"], 1)

    refused("UPDATE allocation_order SET status = 'refunded', paid_at = now() WHERE id = %s", [order.pk])

    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING


def test_the_database_lets_a_pending_order_be_paid(campaigns):
    order = make_order(campaigns["idf"], 1)

    assert execute("UPDATE allocation_order SET status = 'paid', paid_at = now() WHERE id = %s", [order.pk]) == 1

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and order.paid_at is not None


@pytest.fixture
def card_attempt(campaigns):
    """A card attempt just made, before its PaymentIntent id is saved."""
    order = make_order(campaigns["idf"], 1)
    return Payment.objects.create(order=order, provider=PaymentProvider.STRIPE, amount=order.amount, currency="ILS")


@pytest.mark.parametrize(
    "assignment",
    ["amount = amount + 1", "provider = 'offline'", "currency = 'USD'"],
)
def test_the_database_refuses_to_change_what_a_payment_was(card_attempt, assignment):
    refused(f"UPDATE payments_payment SET {assignment} WHERE id = %s", [card_attempt.pk])

    again = Payment.objects.get(pk=card_attempt.pk)
    assert (again.amount, again.provider, again.currency) == (card_attempt.amount, "stripe", "ILS")


def test_the_database_refuses_to_move_a_payment_to_another_order(card_attempt, campaigns):
    other = make_order(campaigns["idf"], 1)

    refused("UPDATE payments_payment SET order_id = %s WHERE id = %s", [other.pk, card_attempt.pk])

    assert Payment.objects.get(pk=card_attempt.pk).order_id == card_attempt.order_id


def test_the_database_gives_a_payment_its_reference_once(card_attempt):
    assert execute("UPDATE payments_payment SET reference = 'pi_x' WHERE id = %s", [card_attempt.pk]) == 1

    refused("UPDATE payments_payment SET reference = 'pi_y' WHERE id = %s", [card_attempt.pk])
    refused("UPDATE payments_payment SET reference = '' WHERE id = %s", [card_attempt.pk])

    assert Payment.objects.get(pk=card_attempt.pk).reference == "pi_x"


def test_the_database_lets_a_payments_status_move(card_attempt):
    assert execute("UPDATE payments_payment SET status = 'failed' WHERE id = %s", [card_attempt.pk]) == 1

    assert Payment.objects.get(pk=card_attempt.pk).status == PaymentStatus.FAILED
