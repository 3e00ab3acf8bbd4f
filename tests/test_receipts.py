"""Receipts: the organisation behind a campaign, a receipt for every paid order numbered without
a gap per organisation and year (also when 200 are paid at once), a cancellation note for a
refund, never deleted or renumbered (PostgreSQL), the PDF read back in Hebrew and English, and
the donor's ways to it: email, the order's page, the API."""

import datetime
import io
import threading
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from PIL import Image
from pypdf import PdfReader, PdfWriter

from allocation.models import Order
from allocation.services import Buyer, order_mark_paid, order_refund_record, order_transition
from payments.models import Payment
from payments.services import payment_record_offline, payment_refund
from receipts.models import CampaignOrganisation, Organisation, Receipt, ReceiptCounter, ReceiptKind
from receipts.services import receipt_deliver, receipt_draw, receipt_number_take
from receipts.tasks import deliver_missing_receipts, deliver_receipt

from .conftest import make_user, token_client
from .factories import make_order
from .test_certificates import font_names, poppler_text

EIN = "12-3456789"


@pytest.fixture(autouse=True)
def receipts_storage(settings, tmp_path):
    """Receipts and logos go to a folder of the test's own."""
    settings.STORAGES = {
        **settings.STORAGES,
        "receipts": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "receipts"},
        },
    }
    return tmp_path / "receipts"


def organisation_set(slug, *args):
    out = io.StringIO()
    call_command("organisation_set", slug, *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def us_organisation(campaigns):
    organisation_set("chabad-us", "--name", "Chabad of the Valley", "--jurisdiction", "us", "--tax-id", EIN,
                     "--campaign", "sefardi", "--signatory", "Rabbi Levi Cohen")  # fmt: skip
    return Organisation.objects.get(slug="chabad-us")


@pytest.fixture
def cashier(db):
    return make_user("cashier", permissions=["payments.record_offline_payment"])


@pytest.fixture
def django_capture_on_commit_callbacks_for(django_capture_on_commit_callbacks):
    """POSTs whose on-commit work (queued tasks, run in-process here) runs as in production."""
    import contextlib

    @contextlib.contextmanager
    def capture(client):
        with django_capture_on_commit_callbacks(execute=True):
            yield client.post

    return capture


def pay_offline(order, cashier):
    return payment_record_offline(order=order, reference=f"cash {order.pk}", recorded_by=cashier)


# --- The organisation ---------------------------------------------------------------------


def test_organisation_set_creates_then_updates_and_links_campaigns_safe_to_repeat(campaigns):
    said = organisation_set("keren", "--name", "Keren Hatorah", "--jurisdiction", "il", "--tax-id", "580123456",
                            "--campaign", "idf")  # fmt: skip
    assert said.startswith("Created keren")
    keren = Organisation.objects.get(slug="keren")
    assert (keren.name, keren.jurisdiction, keren.tax_id, keren.time_zone) == (
        "Keren Hatorah",
        "il",
        "580123456",
        "Asia/Jerusalem",
    )
    assert CampaignOrganisation.objects.get(campaign=campaigns["idf"]).organisation == keren

    # Again, with another name and a second campaign: the same row, both campaigns linked.
    for _ in range(2):
        said = organisation_set("keren", "--name", "Keren Hatorah Ltd", "--jurisdiction", "il",
                                "--campaign", "idf", "--campaign", "sefardi", "--section-46-number", "4321",
                                "--section-46-expires", "2030-12-31")  # fmt: skip
        assert said.startswith("Updated keren")
    keren = Organisation.objects.get(slug="keren")
    assert keren.name == "Keren Hatorah Ltd" and keren.tax_id == "580123456"  # kept: not given
    assert keren.section_46_expires == datetime.date(2030, 12, 31)
    assert Organisation.objects.count() == 1
    assert set(keren.campaign_links.values_list("campaign__slug", flat=True)) == {"idf", "sefardi"}

    # A campaign moves to the organisation that names it.
    organisation_set("other", "--name", "Other", "--jurisdiction", "other", "--campaign", "sefardi")
    assert CampaignOrganisation.objects.get(campaign=campaigns["sefardi"]).organisation.slug == "other"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--jurisdiction", "us"], "EIN"),
        (["--jurisdiction", "us", "--tax-id", "123"], "EIN"),
        (["--jurisdiction", "il", "--tax-id", "58-0123"], "registration number"),
        (["--jurisdiction", "other", "--campaign", "no-such-campaign"], "no-such-campaign"),
        (["--jurisdiction", "other", "--time-zone", "Mars/Olympus"], "not a time zone"),
        (["--jurisdiction", "il", "--tax-id", "580123456", "--section-46-number", "12"], "section 46"),
    ],
)
def test_organisation_set_refuses_bad_input_and_changes_nothing(campaigns, args, message):
    with pytest.raises(CommandError, match=message):
        organisation_set("bad", "--name", "Bad", *args)
    assert not Organisation.objects.exists() and not CampaignOrganisation.objects.exists()


# --- Issuing and numbering -------------------------------------------------------------------


def test_a_paid_order_gets_a_receipt_numbered_in_the_paying_transaction(us_organisation, cashier, campaigns):
    first, second = make_order(campaigns["sefardi"], 2), make_order(campaigns["sefardi"], 1)
    assert not Receipt.objects.exists()  # pending: nothing yet
    pay_offline(first, cashier)
    pay_offline(second, cashier)
    receipts = list(Receipt.objects.order_by("number"))
    year = timezone.now().astimezone(ZoneInfo("America/New_York")).year  # the organisation's
    assert [(r.order_id, r.kind, r.number, r.year) for r in receipts] == [
        (first.pk, "receipt", 1, year),
        (second.pk, "receipt", 2, year),
    ]
    first.refresh_from_db()
    assert receipts[0].amount == first.amount and receipts[0].currency == first.currency == "USD"
    assert receipts[0].donor_name == first.buyer_name and receipts[0].issued_at == first.paid_at
    assert receipts[0].display_number == f"{receipts[0].year}-00001"


def test_a_payment_rolled_back_gives_its_number_back(us_organisation, campaigns):
    order = make_order(campaigns["sefardi"], 1)
    with pytest.raises(RuntimeError), transaction.atomic():
        order_mark_paid(order_id=order.pk)
        assert Receipt.objects.get(order=order).number == 1
        raise RuntimeError("the payment fails after the number was taken")
    assert not Receipt.objects.exists()
    order_mark_paid(order_id=order.pk)
    assert Receipt.objects.get(order=order).number == 1


def test_a_campaign_without_an_organisation_issues_no_receipt(campaigns, cashier, us_organisation):
    order = make_order(campaigns["idf"], 1)  # idf has no organisation
    pay_offline(order, cashier)
    assert not Receipt.objects.exists()


def test_an_honour_letter_paid_nothing_gets_no_receipt(us_organisation, campaigns):
    order = make_order(campaigns["sefardi"], 1, amount=Decimal("0"), allow_custom_price=True)
    order_mark_paid(order_id=order.pk)
    assert Order.objects.get(pk=order.pk).status == "paid"
    assert not Receipt.objects.exists()


def test_a_refund_issues_a_cancellation_note_referring_to_the_receipt(
    us_organisation, cashier, campaigns, staff_user, mailoutbox, django_capture_on_commit_callbacks
):
    orders = [make_order(campaigns["sefardi"], 1) for _ in range(3)]
    for order in orders:
        pay_offline(order, cashier)
    refunded = orders[1]
    with django_capture_on_commit_callbacks(execute=True):
        payment_refund(payment_id=Payment.objects.get(order=refunded).pk, refunded_by=staff_user)
    assert Order.objects.get(pk=refunded.pk).status == "refunded"
    receipt = Receipt.objects.get(order=refunded, kind=ReceiptKind.RECEIPT)
    note = Receipt.objects.get(order=refunded, kind=ReceiptKind.CANCELLATION)
    assert note.cancels == receipt and receipt.cancellation == note
    assert (note.number, note.amount, note.organisation) == (1, receipt.amount, us_organisation)
    assert note.display_number == f"C-{note.year}-00001"
    # Receipts keep their own series: the next payment takes the next receipt number.
    later = make_order(campaigns["sefardi"], 1)
    pay_offline(later, cashier)
    assert Receipt.objects.get(order=later).number == 4
    # The note is drawn and emailed (on commit), naming the receipt it cancels.
    note.refresh_from_db()
    assert note.file and note.emailed_at is not None
    [email] = [m for m in mailoutbox if note.display_number in m.body]
    assert receipt.display_number in email.subject and email.to == [refunded.buyer_email]
    assert email.attachments[0][0] == f"receipt-{note.display_number}.pdf"


def test_an_order_refunded_without_a_receipt_gets_no_note(campaigns, cashier):
    order = make_order(campaigns["idf"], 1)
    pay_offline(order, cashier)  # before idf had an organisation
    organisation_set("late", "--name", "Late", "--jurisdiction", "other", "--campaign", "idf")
    order_refund_record(order_id=order.pk)
    assert not Receipt.objects.exists()


def test_the_database_refuses_to_delete_or_renumber_a_receipt(us_organisation, cashier, campaigns):
    order = make_order(campaigns["sefardi"], 1)
    pay_offline(order, cashier)
    receipt = Receipt.objects.get(order=order)
    for change in (
        lambda: Receipt.objects.filter(pk=receipt.pk).delete(),
        lambda: Receipt.objects.filter(pk=receipt.pk).update(number=2),
        lambda: Receipt.objects.filter(pk=receipt.pk).update(year=receipt.year - 1),
        lambda: Receipt.objects.filter(pk=receipt.pk).update(amount=Decimal("1")),
        lambda: Receipt.objects.filter(pk=receipt.pk).update(donor_name="Someone else"),
        lambda: ReceiptCounter.objects.all().delete(),
        lambda: ReceiptCounter.objects.all().update(last_number=0),
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            change()
    assert Receipt.objects.get(pk=receipt.pk).number == 1
    # Its PDF may be added once, then stays.
    Receipt.objects.filter(pk=receipt.pk).update(file="1/2026/a.pdf")
    with pytest.raises(IntegrityError), transaction.atomic():
        Receipt.objects.filter(pk=receipt.pk).update(file="1/2026/b.pdf")


def test_a_number_is_never_given_twice_by_the_database_either(us_organisation, cashier, campaigns):
    order = make_order(campaigns["sefardi"], 1)
    pay_offline(order, cashier)
    receipt = Receipt.objects.get(order=order)
    other = make_order(campaigns["sefardi"], 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Receipt.objects.create(organisation=us_organisation, order=other, kind="receipt", year=receipt.year,
                               number=receipt.number, amount=Decimal("18"), currency="USD", language="en")  # fmt: skip
    with transaction.atomic():
        assert receipt_number_take(organisation_id=us_organisation.pk, series="receipt", year=receipt.year) == 2


# --- 200 orders paid at once -------------------------------------------------------------------


def run_together(jobs_per_thread):
    """Each list of jobs in its own thread and database connection, all released together."""
    barrier = threading.Barrier(len(jobs_per_thread))
    errors = []

    def worker(jobs):
        try:
            connection.ensure_connection()
            barrier.wait(timeout=60)
            for job in jobs:
                job()
        except Exception as error:  # re-raised in the main thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(jobs,)) for jobs in jobs_per_thread]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not any(thread.is_alive() for thread in threads), "a payment thread hung"
    assert errors == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_two_hundred_orders_paid_at_once_find_numbers_without_gap_or_repeat(campaigns, settings):
    settings.RECEIPTS_DELIVER_WHEN_ISSUED = False  # numbering is what is measured here, not drawing
    organisation_set("us-org", "--name", "US Org", "--jurisdiction", "us", "--tax-id", EIN,
                     "--campaign", "idf", "--campaign", "sefardi")  # fmt: skip
    organisation_set("il-org", "--name", "IL Org", "--jurisdiction", "il", "--tax-id", "580123456",
                     "--campaign", "tomchei-temimim")  # fmt: skip
    cashier = make_user("cashier", permissions=["payments.record_offline_payment"])
    slugs = ["idf", "sefardi", "tomchei-temimim"]
    orders = [
        make_order(campaigns[slugs[i % 3]], 1, buyer=Buyer(name=f"Donor {i}", email=f"d{i}@example.org"))
        for i in range(200)
    ]

    def pay(order_id):
        def job():
            payment_record_offline(
                order=Order.objects.get(pk=order_id),
                reference=f"cash {order_id}",
                recorded_by=User.objects.get(pk=cashier.pk),
            )

        return job

    # 40 connections paying 5 orders each, all at the same moment.
    run_together([[pay(order.pk) for order in orders[start::40]] for start in range(40)])

    assert Order.objects.filter(status="paid").count() == 200
    assert Receipt.objects.count() == 200
    for slug, expected in (("us-org", 134), ("il-org", 66)):
        numbers = sorted(Receipt.objects.filter(organisation__slug=slug).values_list("number", flat=True))
        assert numbers == list(range(1, expected + 1)), f"{slug}: gaps or repeats"
    assert set(Receipt.objects.values_list("order_id", flat=True)) == {order.pk for order in orders}


# --- Delivery: drawn by a worker, emailed once, swept -------------------------------------------


def test_the_receipt_is_drawn_and_emailed_once_when_the_payment_commits(
    us_organisation, cashier, campaigns, mailoutbox, django_capture_on_commit_callbacks
):
    order = make_order(campaigns["sefardi"], 1)
    with django_capture_on_commit_callbacks(execute=True):
        pay_offline(order, cashier)
    receipt = Receipt.objects.get(order=order)
    assert receipt.file and receipt.drawn_at is not None and receipt.emailed_at is not None
    [email] = [m for m in mailoutbox if receipt.display_number in m.subject]
    assert email.to == [order.buyer_email]
    assert email.attachments[0][1].startswith(b"%PDF-")
    assert f"/orders/{order.token}/" in email.body
    stored = receipt.file.name
    receipt_deliver(receipt_id=receipt.pk)  # again: nothing drawn or sent twice
    receipt.refresh_from_db()
    assert receipt.file.name == stored
    assert len([m for m in mailoutbox if receipt.display_number in m.subject]) == 1


def test_receipts_are_drawn_on_the_certificates_queue_acknowledged_late_and_swept():
    from unitysefer.celery import app

    assert app.amqp.router.route({}, "receipts.tasks.deliver_receipt")["queue"].name == "certificates"
    assert deliver_receipt.acks_late and deliver_receipt.max_retries
    assert "deliver-missing-receipts" in app.conf.beat_schedule


def test_the_sweeper_delivers_receipts_a_lost_task_left(us_organisation, campaigns, mailoutbox):
    recent, older = make_order(campaigns["sefardi"], 1), make_order(campaigns["sefardi"], 1)
    # Paid without their tasks running (on_commit never runs in this test): "lost" tasks.
    order_transition(order_id=recent.pk, to="paid")
    order_transition(order_id=older.pk, to="paid", now=timezone.now() - datetime.timedelta(minutes=10))
    recent_receipt, older_receipt = Receipt.objects.get(order=recent), Receipt.objects.get(order=older)
    # The sweeper's marks live in Redis, which a test's rollback does not reach.
    cache.delete_many([f"receipts:swept:{receipt.pk}" for receipt in (recent_receipt, older_receipt)])
    deliver_missing_receipts()
    recent_receipt.refresh_from_db()
    older_receipt.refresh_from_db()
    assert not recent_receipt.file  # issued just now: its own task may still be on its way
    assert older_receipt.file and older_receipt.emailed_at is not None
    assert [m.to for m in mailoutbox] == [[older.buyer_email]]
    deliver_missing_receipts()  # done: not queued again
    assert len(mailoutbox) == 1


# --- The PDF, read back --------------------------------------------------------------------


@pytest.fixture
def il_organisation(campaigns):
    organisation_set("keren", "--name", "Keren Hatorah", "--name-he", "קרן התורה", "--jurisdiction", "il",
                     "--tax-id", "58-012345-6", "--campaign", "idf", "--section-46-number", "4321",
                     "--section-46-expires", "2099-12-31", "--address", "5 Hashalom Street\\nJerusalem",
                     "--address-he", "רחוב השלום 5, ירושלים", "--signatory", "Rabbi Levi Cohen")  # fmt: skip
    return Organisation.objects.get(slug="keren")


def drawn(order) -> tuple[Receipt, bytes]:
    receipt = receipt_draw(receipt_id=Receipt.objects.get(order=order, kind="receipt").pk)
    with receipt.file.open("rb") as file:
        return receipt, file.read()


def test_a_hebrew_receipt_reads_back_in_hebrew_then_english(il_organisation, campaigns):
    order = make_order(campaigns["idf"], 2, language="he", amount=Decimal("118.50"),
                       buyer=Buyer(name="רבקה כהן", email="rivka@example.org"))  # fmt: skip
    order_mark_paid(order_id=order.pk)
    receipt, data = drawn(order)
    pages = PdfReader(io.BytesIO(data)).pages
    assert len(pages) == 2  # Hebrew, then English
    hebrew, english = (poppler_text(page_pdf) for page_pdf in _pages_apart(data))
    # The Hebrew part: the organisation's Hebrew legal name and address, the donor, the amount
    # in Hebrew words in the order's currency, the campaign's Hebrew name.
    for text in (
        "קרן התורה",
        "רחוב השלום",
        "רבקה כהן",
        "מאה ושמונה עשר שקלים וחמישים אגורות",
        "ספר התורה של חיילי צה״ל",
    ):
        assert text in hebrew, text
    assert receipt.display_number in hebrew and "118.50 ILS" in hebrew
    # The English part: the legal name, the receipt's number, the amount in English words, the
    # registration and section 46 approval with its expiry, the signatory.
    for text in ("Keren Hatorah", "5 Hashalom Street", "Receipt for a donation", f"No. {receipt.display_number}",
                 "118.50 ILS", "one hundred and eighteen shekels, fifty agorot", "Registered amuta no. 58-012345-6",
                 "section 46 of the Income Tax Ordinance", "approval no. 4321", "2099", "Rabbi Levi Cohen"):  # fmt: skip
        assert text in english, text
    assert "קרן" not in english
    # Hebrew set in culmus, the rest in Noto; drawn right to left (the Hebrew part's text is
    # aligned to the right margin: poppler's layout puts it far from the left edge).
    fonts = font_names(_pages_apart(data)[0])
    assert any(name.startswith("FrankRuehlCLM") for name in fonts)
    donor_line = next(line for line in hebrew.splitlines() if "רבקה כהן" in line)
    assert len(donor_line) - len(donor_line.lstrip()) > 40


def test_a_us_receipt_says_no_goods_or_services_and_an_expired_section_46_is_not_claimed(
    us_organisation, il_organisation, cashier, campaigns
):
    order = make_order(campaigns["sefardi"], 1, amount=Decimal("36"))
    pay_offline(order, cashier)
    _receipt, data = drawn(order)
    text = poppler_text(data)
    assert len(PdfReader(io.BytesIO(data)).pages) == 1  # English only: the order's language
    for expected in ("Chabad of the Valley", "EIN 12-3456789", "501(c)(3)", "thirty-six dollars", "36 USD",
                     "No goods or services were provided in exchange beyond an intangible religious benefit."):  # fmt: skip
        assert expected in " ".join(text.split()), expected
    # An Israeli approval that has expired is not printed.
    Organisation.objects.filter(pk=il_organisation.pk).update(section_46_expires=datetime.date(2020, 1, 1))
    expired = make_order(campaigns["idf"], 1)
    order_mark_paid(order_id=expired.pk)
    _receipt, data = drawn(expired)
    assert "section 46" not in poppler_text(data) and "Keren Hatorah" in poppler_text(data)


def test_the_cancellation_note_refers_to_its_receipt_in_its_pdf(us_organisation, cashier, campaigns, staff_user):
    order = make_order(campaigns["sefardi"], 1)
    pay_offline(order, cashier)
    payment_refund(payment_id=Payment.objects.get(order=order).pk, refunded_by=staff_user)
    receipt = Receipt.objects.get(order=order, kind="receipt")
    note = receipt_draw(receipt_id=receipt.cancellation.pk)
    with note.file.open("rb") as file:
        text = " ".join(poppler_text(file.read()).split())
    assert "Cancellation note" in text and note.display_number in text
    assert f"This note cancels receipt no. {receipt.display_number}" in text


def _pages_apart(data: bytes) -> list[bytes]:
    reader = PdfReader(io.BytesIO(data))
    parts = []
    for page in reader.pages:
        writer = PdfWriter()
        writer.add_page(page)
        out = io.BytesIO()
        writer.write(out)
        parts.append(out.getvalue())
    return parts


# --- The donor gets it: the API, the order's page, the links ------------------------------------


def test_the_api_carries_the_receipt_once_paid_and_its_download_answers_the_right_people(
    us_organisation, campaigns, client, staff_user
):
    creator, stranger = make_user("api-creator", permissions=["payments.record_offline_payment"]), make_user("nobody")
    order = make_order(campaigns["sefardi"], 1, created_by=creator)
    api = token_client(creator)
    body = api.get(f"/api/v1/orders/{order.pk}/").json()
    assert body["status"] == "pending" and body["receipt"] is None and body["receipt_cancellation"] is None
    assert client.get(f"/orders/{order.token}/receipt.pdf").status_code == 404  # nothing yet

    pay_offline(order, User.objects.get(pk=creator.pk))
    receipt = Receipt.objects.get(order=order)
    body = api.get(f"/api/v1/orders/{order.pk}/").json()
    assert body["receipt"] == {
        "number": receipt.display_number,
        "issued_at": body["paid_at"],
        "download_url": f"http://testserver/orders/{order.token}/receipt.pdf",
    }
    # By the order's link: whoever holds it. The PDF is drawn on the spot if its worker is late.
    download = client.get(body["receipt"]["download_url"])
    assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
    assert b"".join(download.streaming_content).startswith(b"%PDF-")
    assert client.get("/orders/not-the-token/receipt.pdf").status_code == 404
    # Through the API: its creator and staff; 404 for anyone else.
    api_url = f"/api/v1/orders/{order.pk}/receipt.pdf"
    assert token_client(creator).get(api_url).status_code == 200
    assert token_client(staff_user).get(api_url).status_code == 200
    assert token_client(stranger).get(api_url).status_code == 404
    assert client.get(api_url).status_code == 404
    assert token_client(creator).get(f"/api/v1/orders/{order.pk}/receipt-cancellation.pdf").status_code == 404

    # The order's page links it; once refunded, the note too.
    page = client.get(f"/orders/{order.token}/").content.decode()
    assert f"/orders/{order.token}/receipt.pdf" in page and receipt.display_number in page
    payment_refund(payment_id=Payment.objects.get(order=order).pk, refunded_by=staff_user)
    note = Receipt.objects.get(order=order, kind="cancellation")
    body = api.get(f"/api/v1/orders/{order.pk}/").json()
    assert body["receipt"]["number"] == receipt.display_number
    assert body["receipt_cancellation"]["number"] == note.display_number
    assert client.get(f"/orders/{order.token}/receipt-cancellation.pdf").status_code == 200
    assert f"/orders/{order.token}/receipt-cancellation.pdf" in client.get(f"/orders/{order.token}/").content.decode()


def test_an_order_without_an_organisation_says_nothing_of_a_receipt(campaigns, client, cashier):
    order = make_order(campaigns["idf"], 1, created_by=cashier)
    pay_offline(order, cashier)
    assert token_client(cashier).get(f"/api/v1/orders/{order.pk}/").json()["receipt"] is None
    assert 'id="receipt"' not in client.get(f"/orders/{order.token}/").content.decode()
    assert client.get(f"/orders/{order.token}/receipt.pdf").status_code == 404


# --- The staff's page -------------------------------------------------------------------------


def test_staff_add_and_edit_an_organisation_and_see_campaigns_without_one(client, campaigns, staff_user, tmp_path):
    client.force_login(staff_user)
    assert 'href="/staff/organisations/"' in client.get("/").content.decode()  # in the staff's menu
    page = client.get("/staff/organisations/").content.decode()
    assert "issue no receipts" in page and campaigns["idf"].name in page
    logo = io.BytesIO()
    Image.new("RGB", (40, 20), "navy").save(logo, "PNG")
    response = client.post(
        "/staff/organisations/new/",
        {"slug": "keren", "name": "Keren Hatorah", "jurisdiction": "il", "tax_id": "580123456",
         "time_zone": "Asia/Jerusalem", "campaigns": [campaigns["idf"].pk],
         "logo": SimpleUploadedFile("logo.png", logo.getvalue(), content_type="image/png")},
    )  # fmt: skip
    assert response.status_code == 302
    keren = Organisation.objects.get(slug="keren")
    assert keren.logo and CampaignOrganisation.objects.get(campaign=campaigns["idf"]).organisation == keren
    page = client.get("/staff/organisations/").content.decode()
    assert "Keren Hatorah" in page and f"<li>{campaigns['idf'].name} " not in page

    # Bad input: a clear error, nothing changed.
    response = client.post(
        "/staff/organisations/keren/", {"name": "Keren", "jurisdiction": "us", "tax_id": "12", "time_zone": "UTC"}
    )
    assert response.status_code == 200 and "EIN" in response.content.decode()
    assert Organisation.objects.get(slug="keren").jurisdiction == "il"
    # Unticking a campaign unlinks it.
    response = client.post(
        "/staff/organisations/keren/",
        {"name": "Keren", "jurisdiction": "il", "tax_id": "580123456", "time_zone": "Asia/Jerusalem"},
    )
    assert response.status_code == 302 and not CampaignOrganisation.objects.exists()

    # The logo is drawn on its receipts.
    organisation_set("keren", "--name", "Keren", "--jurisdiction", "il", "--campaign", "idf")
    order = make_order(campaigns["idf"], 1)
    order_mark_paid(order_id=order.pk)
    _receipt, data = drawn(order)
    assert any("/XObject" in page["/Resources"] for page in PdfReader(io.BytesIO(data)).pages)


def test_a_logo_that_is_not_an_image_is_refused(client, staff_user, campaigns):
    client.force_login(staff_user)
    response = client.post(
        "/staff/organisations/new/",
        {"slug": "x", "name": "X", "jurisdiction": "other", "time_zone": "UTC",
         "logo": SimpleUploadedFile("logo.png", b"<svg onload=alert(1)>", content_type="image/png")},
    )  # fmt: skip
    assert response.status_code == 200 and not Organisation.objects.exists()


# --- The annual statement, by an emailed link ----------------------------------------------------


def test_a_donor_gets_a_statement_of_the_years_donations_by_an_emailed_link(
    us_organisation,
    il_organisation,
    cashier,
    campaigns,
    client,
    staff_user,
    mailoutbox,
    settings,
    django_capture_on_commit_callbacks_for,
):
    settings.RECEIPTS_DELIVER_WHEN_ISSUED = False  # only the statement's email is looked at here
    rivka = Buyer(name="Rivka Cohen", email="Rivka@Example.org")
    gifts = [
        make_order(campaigns["sefardi"], 1, amount=Decimal("36"), buyer=rivka),
        make_order(campaigns["sefardi"], 1, amount=Decimal("100"), buyer=rivka),
        make_order(campaigns["idf"], 1, amount=Decimal("180"), buyer=rivka),
    ]
    someone_else = make_order(campaigns["sefardi"], 1, amount=Decimal("54"))
    for order in [*gifts, someone_else]:
        pay_offline(order, cashier)
    payment_refund(payment_id=Payment.objects.get(order=gifts[1]).pk, refunded_by=staff_user)
    year = Receipt.objects.get(order=gifts[0]).year

    with django_capture_on_commit_callbacks_for(client) as post:
        response = post("/receipts/statement/", {"email": "rivka@example.org", "year": year})
    assert response.status_code == 302
    [email] = mailoutbox
    assert email.to == ["Rivka@Example.org"] and str(year) in email.subject
    link = next(line for line in email.body.splitlines() if "/receipts/statement/" in line).strip()
    assert "rivka" not in link.lower()  # signed, not readable as the address

    statement = client.get(link.replace("http://127.0.0.1:8000", ""))
    assert statement.status_code == 200 and statement["Content-Type"] == "application/pdf"
    text = " ".join(poppler_text(statement.content).split())
    for order in gifts:
        assert Receipt.objects.get(order=order, kind="receipt").display_number in text
    assert Receipt.objects.get(order=someone_else).display_number not in text
    note = Receipt.objects.get(order=gifts[1], kind="cancellation")
    assert f"refunded (note {note.display_number})" in text
    # Totals of what was given, per organisation and currency, the refunded gift left out.
    assert "Total given: 36 USD" in text and "Total given: 180 ILS" in text

    # A link altered or made up finds nothing; an address that gave nothing is told the same
    # and sent nothing.
    assert client.get(link.replace("http://127.0.0.1:8000", "")[:-3] + "xyz/").status_code == 404
    with django_capture_on_commit_callbacks_for(client) as post:
        same = post("/receipts/statement/", {"email": "nobody@example.org", "year": year}, follow=True)
    assert "If donations were made with nobody@example.org" in same.content.decode()
    assert len(mailoutbox) == 1
    assert client.post("/receipts/statement/", {"email": "a@example.org", "year": year + 1}).status_code == 200


def test_the_statement_is_rate_limited_as_the_lookup(client, settings, campaigns):
    settings.LETTERS_LOOKUP_PER_HOUR = 2
    for _ in range(2):
        assert client.post("/receipts/statement/", {"email": "x@example.org", "year": 2025}).status_code == 302
    assert client.post("/receipts/statement/", {"email": "x@example.org", "year": 2025}).status_code == 429


def test_staff_read_receipts_in_the_admin_and_cannot_delete_them(
    us_organisation, cashier, campaigns, client, staff_user
):
    order = make_order(campaigns["sefardi"], 1)
    pay_offline(order, cashier)
    receipt = Receipt.objects.get(order=order)
    client.force_login(staff_user)
    listing = client.get("/admin/receipts/receipt/")
    assert listing.status_code == 200 and receipt.display_number in listing.content.decode()
    assert client.get(f"/admin/receipts/receipt/{receipt.pk}/delete/").status_code == 403
    assert client.post(f"/admin/receipts/receipt/{receipt.pk}/change/", {"number": 9}).status_code == 403
