"""The treasurer's view (issue 18): an organisation's month of payments by provider and currency,
refunds, disputes, Stripe's fees and payouts; the page, its CSV and PDF, and accounts_report.

The report's totals are checked against sums the test makes itself from every payment row, with
payments of other months (the month's edges in the organisation's time zone), of other
organisations and of no organisation, failed and open attempts, refunds and disputes about."""

import csv
import datetime
import io
import json
import time
import urllib.request
from collections import defaultdict
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from pypdf import PdfReader

from payments import services as payment_services
from payments.models import Payment, PaymentProvider, StripePayout
from payments.providers import ProviderStatus, to_minor_units
from payments.services import (
    payment_confirm,
    payment_demo_complete,
    payment_dispute_record,
    payment_record_offline,
    payment_refund_record,
    payment_start_card,
)
from receipts.accounts import accounts_report, month_parse
from receipts.models import CampaignOrganisation, Receipt, ReceiptKind
from receipts.services import organisation_set

from .conftest import make_user
from .factories import make_order
from .stripe_helpers import localstripe_url, register_webhook, sign, stripe_server, wait_until  # noqa: F401
from .test_payments_stripe import pay_with

JERUSALEM, NEW_YORK = ZoneInfo("Asia/Jerusalem"), ZoneInfo("America/New_York")
MARCH = datetime.date(2025, 3, 1)


@pytest.fixture(autouse=True)
def receipts_not_drawn(settings):
    settings.RECEIPTS_DELIVER_WHEN_ISSUED = False  # the numbers are issued; the PDFs are not the subject


def at(payment, moment):
    """The money of `payment` arrived at `moment` (the data of a past month)."""
    Payment.objects.filter(pk=payment.pk).update(succeeded_at=moment)
    payment.refresh_from_db()
    return payment


class Books:
    """Payments of every kind, made through the payment services."""

    def __init__(self, campaigns, settings):
        settings.STRIPE_SECRET_KEY = ""
        settings.DEMO_PAYMENTS = True
        self.campaigns = campaigns
        self.cashier = make_user("cashier", is_staff=True, permissions=["payments.record_offline_payment"])
        self.serial = 0

    def offline(self, slug, names, moment):
        order = make_order(self.campaigns[slug], names)
        self.serial += 1
        payment = payment_record_offline(order=order, reference=f"R-{self.serial}", recorded_by=self.cashier)
        return at(payment, moment)

    def demo(self, slug, names, moment):
        order = make_order(self.campaigns[slug], names)
        payment, _secret = payment_start_card(order_id=order.pk)
        return at(payment_demo_complete(payment_id=payment.pk, succeeded=True), moment)

    def card(self, slug, names, moment, *, order=None):
        """A card payment as Stripe confirms it (its outcome through payment_confirm)."""
        order = order or make_order(self.campaigns[slug], names)
        self.serial += 1
        payment = Payment.objects.create(
            order=order,
            provider=PaymentProvider.STRIPE,
            amount=order.amount,
            currency=order.currency,
            reference=f"pi_books{self.serial}",
        )
        outcome = ProviderStatus("succeeded", to_minor_units(order.amount, order.currency), order.currency)
        return at(payment_confirm(payment_id=payment.pk, outcome=outcome), moment)


def expected_sums(organisation, month):
    """The month's sums as the test reads the rows: the organisation that receipted the order
    (else the campaign's own), the payment's money received in the month in its time zone."""
    zone = ZoneInfo(organisation.time_zone)
    by_provider = defaultdict(lambda: [0, Decimal(0), Decimal(0)])
    by_currency = defaultdict(lambda: [0, Decimal(0), Decimal(0)])
    ids = set()
    for payment in Payment.objects.select_related("order"):
        if payment.status not in ("succeeded", "refunded"):
            continue
        receipt = Receipt.objects.filter(order_id=payment.order_id, kind="receipt").first()
        if receipt is not None:
            owner = receipt.organisation_id
        else:
            link = CampaignOrganisation.objects.filter(campaign_id=payment.order.campaign_id).first()
            owner = link.organisation_id if link else None
        local = payment.succeeded_at.astimezone(zone)
        if owner != organisation.pk or (local.year, local.month) != (month.year, month.month):
            continue
        ids.add(payment.pk)
        for key, sums in (((payment.provider, payment.currency), by_provider), (payment.currency, by_currency)):
            sums[key][0] += 1
            sums[key][1] += payment.amount
            sums[key][2] += payment.amount_refunded
    return ids, by_provider, by_currency


@pytest.fixture
def books(campaigns, settings):
    keren, _ = organisation_set(slug="keren", name="Keren Hatorah", name_he="קרן התורה", jurisdiction="il",
                                tax_id="58-012345-6", campaign_slugs=["idf"])  # fmt: skip
    valley, _ = organisation_set(slug="valley", name="Chabad of the Valley", jurisdiction="us",
                                 tax_id="12-3456789", campaign_slugs=["sefardi", "tomchei-temimim"])  # fmt: skip
    assert (keren.time_zone, valley.time_zone) == ("Asia/Jerusalem", "America/New_York")
    b = Books(campaigns, settings)
    inside = {}
    # Keren (ILS, Jerusalem) in March: offline, demo, card; the last hour of the month is in it.
    inside["offline"] = b.offline("idf", 2, datetime.datetime(2025, 3, 10, 12, tzinfo=JERUSALEM))
    inside["demo"] = b.demo("idf", 1, datetime.datetime(2025, 3, 5, 9, tzinfo=JERUSALEM))
    inside["late"] = b.card("idf", 3, datetime.datetime(2025, 3, 31, 23, 30, tzinfo=JERUSALEM))
    inside["disputed"] = b.card("idf", 1, datetime.datetime(2025, 3, 15, 8, tzinfo=JERUSALEM))
    # A partial refund, and a dispute, as Stripe reports them.
    payment_refund_record(payment_id=inside["late"].pk, amount_refunded_minor=1000, fully=False)
    payment_dispute_record(
        payment_id=inside["disputed"].pk,
        dispute={"id": "dp_1", "status": "needs_response", "reason": "fraudulent", "amount": 1800},
        at=datetime.datetime(2025, 4, 2, tzinfo=JERUSALEM),
    )
    # Stripe reported the fee of one (in the account's own currency, USD), in a payout.
    payout = StripePayout.objects.create(payout_id="po_books", amount=Decimal("400.00"), currency="USD",
                                         status="paid", arrival_date=datetime.date(2025, 4, 3))  # fmt: skip
    Payment.objects.filter(pk=inside["disputed"].pk).update(
        stripe_fee=Decimal("0.82"), stripe_net=Decimal("4.18"), stripe_balance_currency="USD", payout=payout
    )
    # Keren, not March: the first hour of April there (still March 31 in UTC), and February.
    april = b.card("idf", 1, datetime.datetime(2025, 4, 1, 0, 30, tzinfo=JERUSALEM))
    b.offline("idf", 1, datetime.datetime(2025, 2, 20, tzinfo=JERUSALEM))
    # Attempts that brought no money: failed, still open.
    failed = Payment.objects.create(order=make_order(b.campaigns["idf"], 1), provider="stripe", amount=18,
                                    currency="ILS", reference="pi_failed")  # fmt: skip
    payment_confirm(payment_id=failed.pk, outcome=ProviderStatus("failed"))
    Payment.objects.create(order=make_order(b.campaigns["idf"], 1), provider="stripe", amount=18, currency="ILS")
    # A second payment of a paid order: flagged, but its money came all the same.
    inside["twice"] = b.card("idf", 0, datetime.datetime(2025, 3, 16, tzinfo=JERUSALEM), order=inside["offline"].order)
    assert inside["twice"].flagged_reason

    # The valley (USD, New York): its March begins at 05:00 UTC.
    inside["valley_offline"] = b.offline("sefardi", 1, datetime.datetime(2025, 3, 1, 0, 30, tzinfo=NEW_YORK))
    b.card("tomchei-temimim", 1, datetime.datetime(2025, 2, 28, 23, 30, tzinfo=NEW_YORK))  # March 1st in UTC
    inside["valley_refunded"] = b.card("sefardi", 2, datetime.datetime(2025, 3, 20, tzinfo=NEW_YORK))
    payment_refund_record(payment_id=inside["valley_refunded"].pk, amount_refunded_minor=3600, fully=True)
    # A campaign with no organisation counts for no one.
    b.offline("russian-jewry", 1, datetime.datetime(2025, 3, 12, tzinfo=NEW_YORK))
    # Sefardi moves to Keren: its receipted payments stay the valley's, its new ones are Keren's.
    organisation_set(slug="keren", name="Keren Hatorah", jurisdiction="il", campaign_slugs=["sefardi"])
    inside["moved"] = b.offline("sefardi", 1, datetime.datetime(2025, 3, 25, tzinfo=JERUSALEM))
    keren.refresh_from_db()
    valley.refresh_from_db()
    return {"keren": keren, "valley": valley, "inside": inside, "april": april, "payout": payout}


def test_the_totals_equal_the_sums_of_the_months_payments(books):
    keren, valley, inside = books["keren"], books["valley"], books["inside"]
    for organisation, names in (
        (keren, {"offline", "demo", "late", "disputed", "twice", "moved"}),
        (valley, {"valley_offline", "valley_refunded"}),
    ):
        ids, by_provider, by_currency = expected_sums(organisation, MARCH)
        assert ids == {inside[name].pk for name in names}  # the test's own reading picks the right rows
        report = accounts_report(organisation=organisation, month=MARCH)
        got_provider = {
            (r["provider"], r["currency"]): [r["count"], r["amount"], r["refunded"]] for r in report.received
        }
        got_currency = {r["currency"]: [r["count"], r["amount"], r["refunded"]] for r in report.totals}
        assert got_provider == dict(by_provider)
        assert got_currency == dict(by_currency)
        for row in report.totals:
            assert row["kept"] == row["amount"] - row["refunded"]

    report = accounts_report(organisation=keren, month=MARCH)
    assert {r["currency"] for r in report.totals} == {"ILS", "USD"}  # sefardi's USD since it moved
    ils = next(r for r in report.totals if r["currency"] == "ILS")
    # 2 + 1 + 3 + 1 names at 18 ILS, and the second payment of the 2 names' order (36).
    assert (ils["count"], ils["amount"], ils["refunded"]) == (5, Decimal("162"), Decimal("10"))
    assert report.flagged == 1
    assert report.disputes == [{"currency": "ILS", "dispute_status": "needs_response", "count": 1,
                                "amount": Decimal("18")}]  # fmt: skip
    assert report.fees == [{"stripe_balance_currency": "USD", "count": 1, "fee": Decimal("0.82"),
                            "net": Decimal("4.18")}]  # fmt: skip
    assert report.fees_not_reported == 2 and report.payouts_not_reported == 2  # late, twice
    assert [(p["payout_ref"], p["arrival_date"], p["count"]) for p in report.payouts] == [
        ("po_books", datetime.date(2025, 4, 3), 1)
    ]
    # April has the payment of its first hour, and nothing else.
    april = accounts_report(organisation=keren, month=datetime.date(2025, 4, 1))
    assert [(r["count"], r["amount"]) for r in april.totals] == [(1, books["april"].amount)]


def test_a_month_without_payments_reports_none_and_no_made_up_fees(books):
    report = accounts_report(organisation=books["valley"], month=datetime.date(2025, 5, 1))
    assert (report.received, report.totals, report.fees, report.payouts) == ([], [], [], [])
    assert report.fees_not_reported == 0


@pytest.mark.parametrize("value", ["2025-3", "2025-13", "2025-00", "1999-12", "3000-01", "", "march", "2025-03\x00"])
def test_a_month_is_yyyy_mm(value):
    with pytest.raises(ValueError):
        month_parse(value)


def _csv_rows(data: str):
    assert data.startswith("\ufeff")
    return list(csv.reader(io.StringIO(data[1:])))


def test_the_command_writes_csv_and_pdf(books, tmp_path):
    path = tmp_path / "keren.csv"
    call_command("accounts_report", "--organisation", "keren", "--month", "2025-03", "--format", "csv",
                 "--output", str(path))  # fmt: skip
    rows = _csv_rows(path.read_text(encoding="utf-8"))
    assert rows[0][:2] == ["Organisation", "keren"]
    totals_at = rows.index(["Totals by currency"])
    assert rows[totals_at + 1] == ["Currency", "Payments", "Received", "Refunded", "Received less refunds"]
    assert rows[totals_at + 2] == ["ILS", "5", "162.00", "10.00", "152.00"]
    assert rows[totals_at + 3] == ["USD", "1", "18.00", "0.00", "18.00"]
    assert ["Card payments whose fee Stripe has not reported: 2."] in rows

    pdf = tmp_path / "keren.pdf"
    call_command("accounts_report", "--organisation", "keren", "--month", "2025-03", "--format", "pdf",
                 "--output", str(pdf))  # fmt: skip
    text = " ".join("".join(page.extract_text() for page in PdfReader(str(pdf)).pages).split())
    for expected in ("Keren Hatorah", "2025-03", "Totals by currency", "162.00", "152.00", "po_books", "2025-04-03",
                     "needs_response", "Card payments whose fee Stripe has not reported: 2."):  # fmt: skip
        assert expected in text, expected


def test_the_pdf_in_hebrew_is_right_to_left(books, tmp_path):
    pdf = tmp_path / "keren-he.pdf"
    call_command("accounts_report", "--organisation", "keren", "--month", "2025-03", "--format", "pdf",
                 "--output", str(pdf), "--language", "he")  # fmt: skip
    text = "".join(page.extract_text() for page in PdfReader(str(pdf)).pages)
    assert "162.00" in text and any("\u0590" <= char <= "\u05ff" for char in text)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--organisation", "nobody", "--month", "2025-03", "--format", "csv"], "No organisation"),
        (["--organisation", "keren", "--month", "2025-13", "--format", "csv"], "YYYY-MM"),
        (["--organisation", "keren", "--month", "march", "--format", "pdf"], "YYYY-MM"),
        (["--organisation", "keren", "--month", "2025-03", "--format", "xlsx"], "invalid choice"),
    ],
)
def test_the_command_refuses_bad_input_and_writes_nothing(books, tmp_path, arguments, message):
    path = tmp_path / "out"
    with pytest.raises(CommandError, match=message):
        call_command("accounts_report", *arguments, "--output", str(path))
    assert not path.exists()


# --- The page ------------------------------------------------------------------------------------


@pytest.fixture
def treasurer(db):
    return make_user("treasurer", is_staff=True, permissions=["receipts.view_accounts"])


def test_the_page_needs_staff_and_the_permission(books, client, treasurer):
    urls = ["/staff/accounts/?organisation=keren&month=2025-03", "/staff/accounts/keren/2025-03.csv",
            "/staff/accounts/keren/2025-03.pdf"]  # fmt: skip
    client.force_login(make_user("office", is_staff=True))  # staff without the permission
    assert [client.get(url).status_code for url in urls] == [403, 403, 403]
    client.force_login(make_user("reader", permissions=["receipts.view_accounts"]))  # not staff
    assert [client.get(url).status_code for url in urls] == [403, 403, 403]
    client.force_login(treasurer)
    answers = [client.get(url) for url in urls]
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    page = answers[0].content.decode()
    assert "Totals by currency" in page and "162.00" in page and 'href="/staff/accounts/keren/2025-03.pdf"' in page
    assert answers[1]["Content-Disposition"] == 'attachment; filename="accounts-keren-2025-03.csv"'
    assert answers[2]["Content-Type"] == "application/pdf"
    # The organisations' page links it, for those who may read it.
    assert 'href="/staff/accounts/"' in client.get("/staff/organisations/").content.decode()


def test_the_page_shows_this_month_by_default_and_refuses_a_bad_choice(books, client, treasurer):
    client.force_login(treasurer)
    assert client.get("/staff/accounts/").status_code == 200
    for query in ("?organisation=nobody&month=2025-03", "?organisation=keren&month=2025-13",
                  "?organisation=keren&month=%00", "?organisation=%00&month=2025-03"):  # fmt: skip
        assert client.get("/staff/accounts/" + query).status_code == 400, query
    for url in ("/staff/accounts/nobody/2025-03.csv", "/staff/accounts/keren/2025-13.pdf",
                "/staff/accounts/keren/=1+1.csv"):  # fmt: skip
        assert client.get(url).status_code == 404, url


def test_the_csv_quotes_what_a_spreadsheet_would_run(books, client, treasurer):
    keren = books["keren"]
    keren.name = '=HYPERLINK("http://x")'
    keren.save(update_fields=["name"])
    client.force_login(treasurer)
    rows = _csv_rows(client.get("/staff/accounts/keren/2025-03.csv").content.decode())
    assert rows[0] == ["Organisation", "keren", '\'=HYPERLINK("http://x")']
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row)


# --- Stripe's fees and payouts, from localstripe and signed events --------------------------------


def _configure(localstripe_url, path, body):
    request = urllib.request.Request(localstripe_url + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    urllib.request.urlopen(request).close()


def deliver(client, event_id, event_type, obj):
    event = {"id": event_id, "type": event_type, "data": {"object": obj}, "created": int(time.time())}
    payload = json.dumps(event).encode()
    return client.post("/payments/stripe/webhook/", payload, content_type="application/json",
                       HTTP_STRIPE_SIGNATURE=sign(payload))  # fmt: skip


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_stripe_fees_and_payouts_are_recorded_as_stripe_reports_them(
    stripe_server, localstripe_url, campaigns, client, monkeypatch
):
    organisation_set(slug="valley", name="Chabad of the Valley", jurisdiction="us", tax_id="12-3456789",
                     campaign_slugs=["sefardi"])  # fmt: skip
    # localstripe's own events go nowhere: the test delivers them, signed, when it chooses.
    register_webhook(localstripe_url, "http://127.0.0.1:9/nowhere/")
    payments, transactions = [], []
    for names in (1, 2, 3):
        payment, _secret = payment_start_card(order_id=make_order(campaigns["sefardi"], names).pk)
        pay_with(stripe_server, payment.reference, "pm_card_visa")
        intent = stripe_server.v1.payment_intents.retrieve(payment.reference).to_dict()
        charge = intent["latest_charge"]
        charge = stripe_server.v1.charges.retrieve(charge if isinstance(charge, str) else charge["id"]).to_dict()
        payments.append(payment)
        transactions.append(charge["balance_transaction"])
    # Stripe charged a fee of 0.82 USD on the first payment.
    _configure(localstripe_url, f"/_config/balance_transactions/{transactions[0]}/fee", {"fee": 82})

    # The success of each, as Stripe sends it: the payment's charge and its balance transaction.
    for number, payment in enumerate(payments):
        intent = stripe_server.v1.payment_intents.retrieve(payment.reference).to_dict()
        intent["latest_charge"] = stripe_server.v1.charges.retrieve(
            intent["latest_charge"] if isinstance(intent["latest_charge"], str) else intent["latest_charge"]["id"]
        ).to_dict()
        if number == 2:  # as Stripe's own events: the charge by its id, the fee left to charge.updated
            intent["latest_charge"] = intent["latest_charge"]["id"]
        assert deliver(client, f"evt_paid_{number}", "payment_intent.succeeded", intent).status_code == 200
    first, second, third = (Payment.objects.get(pk=payment.pk) for payment in payments)
    assert (first.status, first.stripe_fee, first.stripe_net, first.stripe_balance_currency) == (
        "succeeded", Decimal("0.820"), Decimal("17.180"), "USD")  # fmt: skip
    assert (second.stripe_fee, second.stripe_net) == (Decimal("0"), Decimal("36"))  # localstripe's own: no fee
    assert third.stripe_fee is None and third.stripe_charge_id.startswith("ch_")  # not reported (yet)
    # The same news again asks Stripe nothing more (one call per payment at most).
    before = StripePayout.objects.count(), first.stripe_balance_transaction_id
    charge = stripe_server.v1.charges.retrieve(first.stripe_charge_id).to_dict()
    assert deliver(client, "evt_updated_0", "charge.updated", charge).content == (
        f"payment {first.pk} charge noted".encode()
    )
    assert (StripePayout.objects.count(), Payment.objects.get(pk=first.pk).stripe_balance_transaction_id) == before

    # A payout carried the first two; Stripe lists them by the payout.
    _configure(localstripe_url, "/_config/payouts/po_march/balance_transactions", {"ids": transactions[:2]})
    payout = {"id": "po_march", "object": "payout", "amount": 5318, "currency": "usd", "status": "paid",
              "arrival_date": int(datetime.datetime(2025, 4, 3, tzinfo=datetime.UTC).timestamp())}  # fmt: skip
    assert deliver(client, "evt_payout", "payout.paid", payout).content == b"payout po_march paid"
    record = StripePayout.objects.get(payout_id="po_march")
    assert (record.amount, record.currency, record.arrival_date) == (Decimal("53.18"), "USD", datetime.date(2025, 4, 3))
    assert record.transactions_listed_at is not None and not record.transactions_truncated
    assert sorted(Payment.objects.filter(payout=record).values_list("pk", flat=True)) == [first.pk, second.pk]

    # A payout of more transactions than the pages listed: marked in part, never listed without end.
    monkeypatch.setattr(payment_services, "PAYOUT_TRANSACTIONS_PAGE_SIZE", 1)
    monkeypatch.setattr(payment_services, "PAYOUT_TRANSACTIONS_MAX_PAGES", 1)
    _configure(localstripe_url, "/_config/payouts/po_more/balance_transactions", {"ids": transactions[2:] + ["txn_x"]})
    deliver(client, "evt_payout_more", "payout.paid", {**payout, "id": "po_more", "amount": 5400})
    more = StripePayout.objects.get(payout_id="po_more")
    assert more.transactions_truncated
    third = Payment.objects.get(pk=third.pk)
    # The listing told the third payment's fee: none in localstripe, reported as such.
    assert (third.payout_id, third.stripe_fee) == (more.pk, Decimal("0"))

    # The month's report of the valley: what Stripe reported, nothing made up.
    month = datetime.datetime.now(NEW_YORK).date().replace(day=1)
    report = accounts_report(organisation=third.order.campaign.organisation_link.organisation, month=month)
    assert report.fees == [{"stripe_balance_currency": "USD", "count": 3, "fee": Decimal("0.82"),
                            "net": Decimal("107.18")}]  # fmt: skip
    assert (report.fees_not_reported, report.payouts_not_reported) == (0, 0)
    assert [(row["payout_ref"], row["count"]) for row in report.payouts] == [("po_march", 2), ("po_more", 1)]
    # A refund reported later changes the month's refunds, not its received money.
    payment_refund_record(payment_id=first.pk, amount_refunded_minor=1800, fully=True)
    report = accounts_report(organisation=report.organisation, month=month)
    assert [(row["amount"], row["refunded"]) for row in report.totals] == [(Decimal("108"), Decimal("18"))]
    assert ReceiptKind.CANCELLATION in Receipt.objects.filter(order=first.order).values_list("kind", flat=True)
