"""More ways to pay (issue 18): PaymentIntents ask Stripe for every way to pay turned on in its
dashboard (Apple Pay, Google Pay, Link...), the Apple Pay domain association file is served,
the order's admin page shows its receipt, and `issue_missing_receipts` gives receipts to orders
paid before their campaign had an organisation."""

import io
import json
import threading
import urllib.parse
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import stripe
from django.contrib.staticfiles import finders
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from allocation.models import Order, OrderStatus
from allocation.services import order_mark_paid
from payments.models import Payment
from payments.providers import StripeProvider
from payments.services import payment_refund, payment_start_card
from receipts.models import CampaignOrganisation, Organisation, Receipt, ReceiptCounter, ReceiptKind
from receipts.rendering import receipt_pdf

from .conftest import make_user
from .factories import make_order
from .stripe_helpers import localstripe_url  # noqa: F401
from .test_certificates import font_names, poppler_text
from .test_receipts import organisation_set, pay_offline, receipts_storage, run_together  # noqa: F401

APPLE_PAY_PATH = "/.well-known/apple-developer-merchantid-domain-association"


# --- What the PaymentIntent asks of Stripe ---------------------------------------------------


class _StandIn(BaseHTTPRequestHandler):
    """Answers POST /v1/payment_intents as Stripe does, and keeps each request's form fields."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        fields = dict(urllib.parse.parse_qsl(body))
        self.server.received.append((self.path, fields))
        number = len(self.server.received)
        intent = {
            "id": f"pi_standin{number}",
            "object": "payment_intent",
            "client_secret": f"pi_standin{number}_secret_x",
            "amount": int(fields["amount"]),
            "currency": fields["currency"],
            "status": "requires_payment_method",
            "metadata": {},
        }
        payload = json.dumps(intent).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def stripe_stand_in(settings):
    """A Stripe-compatible address that records what the app sends it (localstripe refuses the
    parameter under test, so it cannot say whether it was sent)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StandIn)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.STRIPE_SECRET_KEY = "sk_test_unitysefer"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_unitysefer"
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{server.server_address[1]}"
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    yield server.received
    server.shutdown()
    server.server_close()


def test_payment_intents_ask_for_every_way_to_pay_the_dashboard_turns_on(stripe_stand_in, campaigns, settings):
    assert settings.STRIPE_AUTOMATIC_PAYMENT_METHODS is True  # the default
    order = make_order(campaigns["idf"], 2)
    payment, client_secret = payment_start_card(order_id=order.pk)
    [(path, fields)] = stripe_stand_in
    assert path == "/v1/payment_intents"
    assert fields["automatic_payment_methods[enabled]"] == "true"
    # Redirect-based ways too: the buyer comes back to the done page, which asks Stripe.
    assert fields["automatic_payment_methods[allow_redirects]"] == "always"
    assert (fields["amount"], fields["currency"], fields["metadata[order_id]"]) == ("3600", "ils", str(order.pk))
    assert "payment_method_types[0]" not in fields  # Stripe chooses, by the dashboard's settings
    assert payment.reference == "pi_standin1" and client_secret == "pi_standin1_secret_x"


def test_turned_off_the_parameter_is_not_sent(stripe_stand_in, campaigns, settings):
    settings.STRIPE_AUTOMATIC_PAYMENT_METHODS = False
    payment_start_card(order_id=make_order(campaigns["idf"], 1).pk)
    [(_, fields)] = stripe_stand_in
    assert not [key for key in fields if key.startswith("automatic_payment_methods")]


def test_localstripe_refuses_the_parameter_which_is_why_its_tests_turn_it_off(
    localstripe_url,  # noqa: F811
    campaigns,
    settings,
):
    """Should localstripe learn the parameter, this fails: then drop the setting from the tests."""
    settings.STRIPE_SECRET_KEY = "sk_test_unitysefer"
    settings.STRIPE_API_BASE = localstripe_url
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    order = make_order(campaigns["idf"], 1)
    payment = Payment.objects.create(order=order, provider="stripe", amount=order.amount, currency=order.currency)
    with pytest.raises(stripe.InvalidRequestError, match="automatic_payment_methods"):
        StripeProvider().start(payment=payment)
    settings.STRIPE_AUTOMATIC_PAYMENT_METHODS = False
    assert StripeProvider().start(payment=payment)["reference"].startswith("pi_")


def test_the_pay_page_offers_the_wallets_and_returns_the_buyer_to_the_done_page(
    stripe_stand_in, campaigns, client, settings
):
    order = make_order(campaigns["idf"], 1)
    page = client.get(f"/orders/{order.token}/pay/").content.decode()
    assert 'data-client-secret="pi_standin1_secret_x"' in page
    assert "Apple Pay, Google Pay or Link" in page
    assert f'data-return-url="http://testserver/orders/{order.token}/"' in page
    with open(finders.find("js/pay.js"), encoding="utf-8") as file:
        script = file.read()
    assert 'wallets: { applePay: "auto", googlePay: "auto", link: "auto" }' in script
    assert "return_url: form.dataset.returnUrl" in script


# --- The Apple Pay domain association file ------------------------------------------------------


def test_the_apple_pay_file_is_served_as_plain_text_when_configured(client, settings, tmp_path):
    assert client.get(APPLE_PAY_PATH).status_code == 404  # unset: nothing to verify
    association = tmp_path / "association"
    association.write_bytes(b"7B2270737049642237")
    settings.APPLE_PAY_DOMAIN_ASSOCIATION_FILE = str(association)
    response = client.get(APPLE_PAY_PATH)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain"
    assert response.content == b"7B2270737049642237"
    assert set(response["Cache-Control"].split(", ")) == {"public", "max-age=3600"}
    assert client.post(APPLE_PAY_PATH).status_code == 405
    # Stripe's file replaced (a new account): the new one is served, not the one read before.
    association.write_bytes(b"another account's file, longer")
    assert client.get(APPLE_PAY_PATH).content == b"another account's file, longer"
    association.unlink()
    assert client.get(APPLE_PAY_PATH).status_code == 404


def test_the_deployment_check_warns_of_an_apple_pay_file_it_cannot_read(settings, tmp_path):
    settings.APPLE_PAY_DOMAIN_ASSOCIATION_FILE = str(tmp_path / "missing")
    assert "payments.W002" in [message.id for message in run_checks(include_deployment_checks=True)]
    (tmp_path / "missing").write_text("x")
    assert "payments.W002" not in [message.id for message in run_checks(include_deployment_checks=True)]


# --- The receipt on the order's admin page ------------------------------------------------------


@pytest.fixture
def cashier(db):
    return make_user("cashier", permissions=["payments.record_offline_payment"])


@pytest.fixture
def office_client(client, db):
    client.force_login(make_user("office", is_staff=True, permissions=["allocation.view_order"]))
    return client


def admin_page(office_client, order) -> str:
    response = office_client.get(f"/admin/allocation/order/{order.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


def test_the_order_admin_shows_its_receipt_and_cancellation_note(
    office_client, campaigns, cashier, staff_user, django_capture_on_commit_callbacks
):
    organisation_set(
        "chabad-us", "--name", "Chabad", "--jurisdiction", "us", "--tax-id", "12-3456789", "--campaign", "sefardi"
    )
    order = make_order(campaigns["sefardi"], 1)
    pending = admin_page(office_client, order)
    assert "No receipt: the order is not paid." in pending

    pay_offline(order, cashier)
    receipt = Receipt.objects.get(order=order)
    page = admin_page(office_client, order)
    assert f"Receipt {receipt.display_number}" in page
    assert f'<a href="/orders/{order.token}/receipt.pdf">PDF</a>' in page
    assert office_client.get(f"/orders/{order.token}/receipt.pdf")["Content-Type"] == "application/pdf"

    with django_capture_on_commit_callbacks(execute=True):
        payment_refund(payment_id=Payment.objects.get(order=order).pk, refunded_by=staff_user)
    note = Receipt.objects.get(order=order, kind=ReceiptKind.CANCELLATION)
    page = admin_page(office_client, order)
    assert f"Receipt {receipt.display_number}" in page
    assert f"Cancellation note {note.display_number}" in page
    assert f'<a href="/orders/{order.token}/receipt-cancellation.pdf">PDF</a>' in page


def test_the_order_admin_says_why_an_order_has_no_receipt(office_client, campaigns, cashier):
    order = make_order(campaigns["idf"], 1)  # idf has no organisation
    pay_offline(order, cashier)
    assert "No receipt: the campaign has no organisation." in admin_page(office_client, order)
    organisation_set("late", "--name", "Late", "--jurisdiction", "other", "--campaign", "idf")
    assert "(manage.py issue_missing_receipts)" in admin_page(office_client, order)
    honour = make_order(campaigns["idf"], 1, amount=Decimal("0"), allow_custom_price=True)
    order_mark_paid(order_id=honour.pk)
    assert "No receipt: nothing was paid." in admin_page(office_client, honour)


# --- issue_missing_receipts ---------------------------------------------------------------------


def issue_missing(*args) -> str:
    out = io.StringIO()
    call_command("issue_missing_receipts", *args, stdout=out)
    return out.getvalue()


def paid_before_the_organisation(campaigns, cashier, count, slug="idf"):
    """Orders paid, one after the other, while their campaign had no organisation."""
    orders = [make_order(campaigns[slug], 1) for _ in range(count)]
    for order in orders:
        pay_offline(order, cashier)
    return orders


def test_receipts_are_issued_for_orders_paid_before_the_organisation_and_only_once(
    campaigns, cashier, mailoutbox, settings
):
    orders = paid_before_the_organisation(campaigns, cashier, 3)
    refunded = make_order(campaigns["idf"], 1)
    pay_offline(refunded, cashier)
    payment_refund(payment_id=Payment.objects.get(order=refunded).pk, refunded_by=make_user("staffer", is_staff=True))
    honour = make_order(campaigns["idf"], 1, amount=Decimal("0"), allow_custom_price=True)
    order_mark_paid(order_id=honour.pk)
    pending = make_order(campaigns["idf"], 1)
    assert not Receipt.objects.exists()
    assert "0 receipts issued." in issue_missing()  # no organisation yet: nothing to do

    organisation_set("keren", "--name", "Keren", "--jurisdiction", "other", "--campaign", "idf")
    said = issue_missing("--dry-run")
    assert said.count("would get a receipt of keren") == 3
    assert f"Order {orders[0].pk} (idf, paid " in said and "3 orders would get a receipt" in said
    assert not Receipt.objects.exists() and not ReceiptCounter.objects.exists()  # nothing changed

    said = issue_missing()
    assert "3 receipts issued." in said
    receipts = list(Receipt.objects.order_by("number"))
    # Oldest payment first, numbered from the counter, dated the day each was paid.
    assert [(r.order_id, r.number, r.kind) for r in receipts] == [(o.pk, n, "receipt") for n, o in enumerate(orders, 1)]
    for receipt, order in zip(receipts, orders, strict=True):
        order.refresh_from_db()
        assert receipt.issued_at == order.paid_at and receipt.amount == order.amount
        assert f"receipt {receipt.display_number} of keren" in said
        # Drawn and emailed as any other (tasks run in-process here).
        receipt.refresh_from_db()
        assert receipt.file and receipt.emailed_at is not None
        assert [m.to for m in mailoutbox if receipt.display_number in m.subject] == [[order.buyer_email]]
    assert not Receipt.objects.filter(order__in=[refunded, honour, pending]).exists()

    # Again: nothing more; and a payment now takes the next number.
    assert "0 receipts issued." in issue_missing()
    later = make_order(campaigns["idf"], 1)
    pay_offline(later, cashier)
    assert Receipt.objects.get(order=later).number == 4


def test_one_organisation_at_a_time_and_an_unknown_one_is_refused(campaigns, cashier):
    idf_orders = paid_before_the_organisation(campaigns, cashier, 2, slug="idf")
    sefardi_orders = paid_before_the_organisation(campaigns, cashier, 1, slug="sefardi")
    organisation_set("keren", "--name", "Keren", "--jurisdiction", "il", "--tax-id", "580123456", "--campaign", "idf")
    organisation_set(
        "chabad-us", "--name", "Chabad", "--jurisdiction", "us", "--tax-id", "12-3456789", "--campaign", "sefardi"
    )
    with pytest.raises(CommandError, match="No organisation nobody"):
        issue_missing("--organisation", "nobody")
    assert not Receipt.objects.exists()

    assert "1 receipts issued." in issue_missing("--organisation", "chabad-us")
    assert list(Receipt.objects.values_list("order_id", "organisation__slug")) == [(sefardi_orders[0].pk, "chabad-us")]
    assert "2 receipts issued." in issue_missing("--organisation", "keren")
    assert set(Receipt.objects.filter(organisation__slug="keren").values_list("order_id", "number")) == {
        (idf_orders[0].pk, 1),
        (idf_orders[1].pk, 2),
    }


@pytest.mark.django_db(transaction=True)
def test_two_backfills_and_payments_at_once_give_each_order_one_receipt_without_gap(campaigns, settings):
    settings.RECEIPTS_DELIVER_WHEN_ISSUED = False  # numbering is what is tested here
    cashier = make_user("cashier", permissions=["payments.record_offline_payment"])
    backlog = paid_before_the_organisation(campaigns, cashier, 12)
    organisation = Organisation.objects.create(slug="keren", name="Keren", jurisdiction="other")
    CampaignOrganisation.objects.create(campaign=campaigns["idf"], organisation=organisation)
    fresh = [make_order(campaigns["idf"], 1) for _ in range(6)]

    run_together(
        [
            [lambda: issue_missing()],
            [lambda: issue_missing()],
            [lambda order=order: pay_offline(order, cashier) for order in fresh],
        ]
    )
    numbers = sorted(Receipt.objects.filter(kind=ReceiptKind.RECEIPT).values_list("number", flat=True))
    assert numbers == list(range(1, 19))  # 12 + 6: no gap, no repeat
    assert set(Receipt.objects.values_list("order_id", flat=True)) == {o.pk for o in backlog + fresh}
    assert Order.objects.filter(status=OrderStatus.PAID).count() == 18
    connection.close()


# --- Drawing receipts with the fonts kept per thread (bench/receipts.py) -------------------------


def test_receipts_drawn_one_after_another_and_in_two_threads_each_carry_their_fonts_and_text(
    campaigns, cashier, tmp_path
):
    """The fonts are loaded once per thread and kept (receipts.rendering._font_config): every
    PDF still embeds the fonts its text uses and reads back whole, whichever thread drew it."""
    organisation_set("keren", "--name", "Keren Hatorah", "--name-he", "קרן התורה", "--jurisdiction", "il",
                     "--tax-id", "580123456", "--campaign", "idf")  # fmt: skip
    orders = [make_order(campaigns["idf"], 1, language="he") for _ in range(4)]
    for order in orders:
        pay_offline(order, cashier)
    # Read here: the threads draw from the rows as read (their connections see no test data).
    receipts = list(Receipt.objects.select_related("organisation", "order__campaign").filter(order__in=orders))
    pdfs = {}

    def draw(receipt):
        pdfs[receipt.pk] = receipt_pdf(receipt)

    draw(receipts[0])
    draw(receipts[1])  # the same thread's kept fonts
    threads = [threading.Thread(target=draw, args=(receipt,)) for receipt in receipts[2:]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(pdfs) == sorted(receipt.pk for receipt in receipts)
    for receipt in receipts:
        data = pdfs[receipt.pk]
        hebrew = poppler_text(data)
        assert "קרן התורה" in hebrew and receipt.display_number in hebrew and "Keren Hatorah" in hebrew
        fonts = font_names(data)
        assert any(name.startswith("FrankRuehlCLM") for name in fonts), fonts
        assert any(name.startswith("NotoSerif") for name in fonts), fonts
