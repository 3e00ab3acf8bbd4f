"""Certificates: real PDFs drawn by WeasyPrint and read back (pypdf, and poppler's pdftotext),
issued once, emailed once, downloadable by the order's link or by its creator, verifiable in
public; hostile names print as text and fetch nothing."""

import csv
import io
import logging
import os
import re
import shutil
import subprocess
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.utils import timezone
from pypdf import PdfReader
from weasyprint import HTML

from allocation.models import Name, Order
from allocation.services import order_allocate, order_mark_paid
from certificates.models import Certificate, OrderCertificates, normalize_verification_code
from certificates.rendering import (
    STATIC_ORIGIN,
    StaticOnlyURLFetcher,
    certificates_render,
    hebrew_numeral,
)
from certificates.services import (
    certificate_pages,
    certificate_redraw,
    letters_lookup_cache_keys,
    letters_lookup_send,
    order_booklet_build,
    order_certificates_issue,
    orders_certificates_pending,
)
from certificates.tasks import issue_missing_certificates, issue_order_certificates

from .conftest import make_user, token_client
from .factories import child_name_data, make_order, name_data

pytestmark = pytest.mark.django_db

BIDI_MARKS = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))
HOSTILE = '<img src="file:///etc/passwd">'


@pytest.fixture(autouse=True)
def certificate_storage(settings, tmp_path):
    """Certificates go to a folder of the test's own."""
    settings.STORAGES = {
        **settings.STORAGES,
        "certificates": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "certificates"},
        },
    }
    return tmp_path / "certificates"


def allocated_order(campaign, name_count=1, **kwargs):
    order = make_order(campaign, name_count, **kwargs)
    order_mark_paid(order_id=order.pk)
    order_allocate(order_id=order.pk)
    return Order.objects.select_related("campaign").get(pk=order.pk)


def pdf_text(data: bytes) -> str:
    """The text of every page, as pypdf reads it, without bidi marks."""
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages).translate(BIDI_MARKS)


def poppler_text(data: bytes) -> str:
    """The text as poppler's pdftotext reads it: a second, independent PDF reader."""
    if shutil.which("pdftotext") is None:
        if os.environ.get("CI"):
            pytest.fail("pdftotext is missing: `make test` installs poppler-utils")
        pytest.skip("pdftotext is not installed (make system-packages installs poppler-utils)")
    result = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True)
    return result.stdout.decode().translate(BIDI_MARKS)


def drawn_text(data: bytes) -> list[tuple[str, str, float]]:
    """(text, font, size) of every run of text drawn, e.g. ("ב", "StamAshkenazCLMMedium", 200)."""
    runs = []

    def visit(text, cm, tm, font, size):
        if text.strip() and font is not None:
            runs.append((text.strip(), str(font["/BaseFont"]).split("+")[-1].replace("-", ""), size * tm[0]))

    for page in PdfReader(io.BytesIO(data)).pages:
        page.extract_text(visitor_text=visit)
    return runs


def font_names(data: bytes) -> set[str]:
    return {font for _, font, _ in drawn_text(data)}


def stored_pdf(certificate: Certificate) -> bytes:
    with certificate.file.open("rb") as file:
        return file.read()


# --- The PDF ---------------------------------------------------------------------------------


def qr_codes_printed(data: bytes, tmp_path) -> list[str]:
    """What a phone reads from the QR codes of the first page, printed at 150 dpi (poppler's
    pdftoppm draws it; zxing-cpp decodes it, as a phone's camera app would)."""
    import zxingcpp
    from PIL import Image

    if shutil.which("pdftoppm") is None:
        if os.environ.get("CI"):
            pytest.fail("pdftoppm is missing: `make test` installs poppler-utils")
        pytest.skip("pdftoppm is not installed (make system-packages installs poppler-utils)")
    (tmp_path / "certificate.pdf").write_bytes(data)
    subprocess.run(
        ["pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1", "-singlefile", "certificate.pdf", "page"],
        cwd=tmp_path, check=True, capture_output=True,
    )  # fmt: skip
    with Image.open(tmp_path / "page.png") as page:
        return [code.text for code in zxingcpp.read_barcodes(page) if code.format == zxingcpp.BarcodeFormat.QRCode]


def test_the_printed_qr_code_opens_the_certificates_verification_page(
    client, campaigns, default_edition, settings, tmp_path
):
    order = allocated_order(campaigns["idf"], 1)
    issue_order_certificates(order.pk)
    certificate = Certificate.objects.get(name__order=order)
    [read] = qr_codes_printed(stored_pdf(certificate), tmp_path)
    assert read == f"{settings.SITE_URL}/verify/{certificate.code}/"
    page = client.get(read.removeprefix(settings.SITE_URL))
    assert page.status_code == 200 and "מנחם מענדל בן מרים" in page.content.decode()


def test_a_certificate_names_the_person_the_letter_and_its_place(campaigns, default_edition, mailoutbox):
    order = allocated_order(campaigns["idf"], 2)
    assert issue_order_certificates(order.pk) is None  # the task: runs the service
    first, second = Certificate.objects.filter(name__order=order).order_by("name_id")
    data = stored_pdf(first)
    assert data.startswith(b"%PDF-") and len(PdfReader(io.BytesIO(data)).pages) == 1
    # A4, to print: 210 x 297 mm in points.
    box = PdfReader(io.BytesIO(data)).pages[0].mediabox
    assert (round(float(box.width) * 25.4 / 72), round(float(box.height) * 25.4 / 72)) == (210, 297)
    assert first.size == len(data)
    text = pdf_text(data)
    # "<name> ben/bas <parent>", bilingual, the letter drawn with its word, the reference.
    assert "מנחם מענדל בן מרים" in text and "Person 0" in text
    assert "תעודת אות בספר התורה" in text and "Certificate of a letter in the Sefer Torah".upper() in text.upper()
    assert "SEFER TORAH OF THE IDF" in text.upper() and "ספר התורה של חיילי צה״ל" in text
    assert "letter 1 of 304,801" in text and "Scroll no. 1" in text
    assert "בראשית" in text and "Genesis 1:1" in text and "Bereshit" in text
    assert first.display_code in text and first.display_code in poppler_text(data)
    assert f"/verify/{first.code}/" in text
    # The second name holds the second letter: the resh of Bereshit.
    second_text = pdf_text(stored_pdf(second))
    assert "חיה מושקא בת מרים" in second_text and "letter 2 of 304,801" in second_text
    # The letter drawn large in the STaM font of the campaign's custom (IDF: Ashkenaz), its
    # word beside it in the same hand, the text in culmus and Noto fonts.
    runs = drawn_text(data)
    assert any(t == "ב" and font.startswith("StamAshkenazCLM") and size >= 100 for t, font, size in runs)
    assert any(t == "בראשית" and font.startswith("StamAshkenazCLM") for t, font, size in runs)
    fonts = font_names(data)
    assert any(name.startswith("FrankRuehlCLM") for name in fonts)
    assert any(name.startswith("NotoSerif") for name in fonts)


def test_the_ari_custom_is_drawn_in_the_sefardi_stam_font(campaigns, default_edition):
    order = allocated_order(campaigns["tomchei-temimim"])
    order_certificates_issue(order_id=order.pk)
    assert any(
        name.startswith("StamSefaradCLM") for name in font_names(stored_pdf(Certificate.objects.get(name__order=order)))
    )


def test_a_parsha_only_campaign_certificate_gives_only_the_parsha(campaigns, default_edition):
    order = make_order(campaigns["children"], names=[child_name_data(0)])
    order_mark_paid(order_id=order.pk)
    order_allocate(order_id=order.pk)
    order_certificates_issue(order_id=order.pk)
    certificate = Certificate.objects.get(name__order=order)
    text = pdf_text(stored_pdf(certificate))
    letter = Name.objects.get(order=order).letter
    parsha = letter.scroll.edition.letters.get(position=letter.position)
    assert parsha.parsha in text and parsha.parsha_he in text
    assert "of 304,801" not in text and f"{parsha.book} {parsha.chapter}:{parsha.verse}" not in text
    # The parsha is what is drawn large, in the STaM hand.
    assert any(
        t == parsha.parsha_he and font.startswith("StamSefaradCLM")
        for t, font, _ in drawn_text(stored_pdf(certificate))
    )


def test_a_missing_font_is_logged_loudly_and_the_certificate_still_drawn(campaigns, default_edition, settings, caplog):
    settings.CERTIFICATES_STAM_FONTS = {**settings.CERTIFICATES_STAM_FONTS, "ashkenaz": "No Such Stam CLM"}
    order = allocated_order(campaigns["idf"])
    with caplog.at_level(logging.ERROR, logger="certificates.rendering"):
        order_certificates_issue(order_id=order.pk)
    assert any(r.levelno == logging.ERROR and "No Such Stam CLM" in r.getMessage() for r in caplog.records)
    data = stored_pdf(Certificate.objects.get(name__order=order))
    assert "letter 1 of 304,801" in pdf_text(data)
    assert not any(name.startswith("StamAshkenazCLM") for name in font_names(data))  # drawn with a fallback


def test_hebrew_numerals():
    assert [hebrew_numeral(n) for n in (1, 10, 12, 15, 16, 34, 50, 115, 123)] == [
        "א׳", "י׳", "י״ב", "ט״ו", "ט״ז", "ל״ד", "נ׳", "קט״ו", "קכ״ג",
    ]  # fmt: skip


# --- Names are data, never markup -------------------------------------------------------------


def test_hostile_names_print_as_text_and_fetch_nothing(campaigns, default_edition):
    order = make_order(campaigns["idf"], 1)
    # The forms refuse these; a certificate must be safe whatever reached the database.
    Name.objects.filter(order=order).update(
        hebrew_name=HOSTILE,
        parent_hebrew_name="\u202eאברהם\u202c\u2066",
        english_name=f'{HOSTILE}<link rel="stylesheet" href="http://127.0.0.1:9/x.css">',
        family_name="\u202eevil",
    )
    order_mark_paid(order_id=order.pk)
    order_allocate(order_id=order.pk)
    order = Order.objects.select_related("campaign").get(pk=order.pk)
    names = list(order.names.all())
    fetcher = StaticOnlyURLFetcher()
    rendered = certificates_render(certificate_pages(order=order, names=names, codes=["ABCDEFGHJKMN"]), fetcher=fetcher)
    # Nothing but the project's own stylesheet, and the QR code's data: URI.
    assert fetcher.refused == []
    assert all(url.startswith((f"{STATIC_ORIGIN}/static/certificates/", "data:image/png")) for url in fetcher.served)
    raw = pdf_text(rendered.pdf).replace("\n", "")
    assert HOSTILE + '<link rel="stylesheet" href="http://127.0.0.1:9/x.css"> evil' in raw  # the English name
    assert 'img src="file:///etc/passwd"' in raw and "אברהם" in raw  # and the Hebrew one
    assert "root:" not in raw and "\u202e" not in rendered.pdf.decode("latin-1")
    # The same through the task, stored.
    order_certificates_issue(order_id=order.pk)
    assert HOSTILE in pdf_text(stored_pdf(Certificate.objects.get(name__order=order)))


def test_a_code_of_kerned_pairs_reads_back_whole(campaigns, default_edition):
    """Pairs a kerning font draws close ("AJ", "TA", "VA") must not come apart when the code is
    copied out of the PDF: a reader would see "A J"."""
    order = make_order(campaigns["idf"], 1)
    order_mark_paid(order_id=order.pk)
    order_allocate(order_id=order.pk)
    order = Order.objects.select_related("campaign").get(pk=order.pk)
    pages = certificate_pages(order=order, names=list(order.names.all()), codes=["AJEJTAVAWAYJ"])
    rendered = certificates_render(pages, fetcher=StaticOnlyURLFetcher())
    assert "AJEJ-TAVA-WAYJ" in poppler_text(rendered.pdf)


def test_the_url_fetcher_serves_only_static_files_and_data(tmp_path):
    fetcher = StaticOnlyURLFetcher()
    secret = tmp_path / "secret.css"
    secret.write_text("body { color: red }")
    html = f"""<link rel="stylesheet" href="file://{secret}">
        <link rel="stylesheet" href="http://127.0.0.1:9/evil.css">
        <link rel="stylesheet" href="/static/certificates/certificate.css">
        <img src="/static/../unitysefer/settings.py"><img src="/static/%2e%2e/manage.py">
        <img src="file:///etc/passwd"><img src="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E">
        <p>text</p>"""
    pdf = HTML(string=html, base_url=STATIC_ORIGIN + "/", url_fetcher=fetcher).write_pdf()
    assert pdf.startswith(b"%PDF-")
    assert f"file://{secret}" in fetcher.refused and "http://127.0.0.1:9/evil.css" in fetcher.refused
    assert "file:///etc/passwd" in fetcher.refused
    assert not any("settings.py" in url or "manage.py" in url for url in fetcher.served)
    assert f"{STATIC_ORIGIN}/static/certificates/certificate.css" in fetcher.served
    assert any(url.startswith("data:") for url in fetcher.served)


# --- Issuing: once, by Celery tasks, never lost ------------------------------------------------


def test_issuing_twice_gives_one_certificate_each_and_one_email(campaigns, default_edition, mailoutbox):
    order = allocated_order(campaigns["beis-rivkah"], 3)
    issue_order_certificates(order.pk)
    issue_order_certificates(order.pk)
    assert order_certificates_issue(order_id=order.pk) == 0
    certificates = list(Certificate.objects.filter(name__order=order))
    assert len(certificates) == 3 and len({c.code for c in certificates}) == 3
    assert all(normalize_verification_code(c.code) == c.code for c in certificates)
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == [order.buyer_email]
    assert sorted(name for name, _, _ in message.attachments) == sorted(
        f"certificate-{c.code}.pdf" for c in certificates
    )
    assert all(content.startswith(b"%PDF-") and mime == "application/pdf" for _, content, mime in message.attachments)
    assert "חיה מושקא בת מרים" in message.body and f"/verify/{certificates[0].code}/" in message.body
    state = OrderCertificates.objects.get(order=order)
    assert state.completed_at and state.emailed_at and state.emailed_as_attachments
    assert order.pk not in orders_certificates_pending(older_than_seconds=0)


def test_above_the_size_limit_the_email_links_instead_of_attaching(campaigns, default_edition, mailoutbox, settings):
    settings.CERTIFICATES_EMAIL_ATTACHMENTS_MAX_BYTES = 1000
    order = allocated_order(campaigns["idf"], 2)
    order_certificates_issue(order_id=order.pk)
    [message] = mailoutbox
    assert message.attachments == []
    assert f"/orders/{order.token}/certificates/booklet.pdf" in message.body
    assert not OrderCertificates.objects.get(order=order).emailed_as_attachments


def test_an_order_not_yet_allocated_gets_nothing_until_it_is(campaigns, default_edition, mailoutbox):
    order = make_order(campaigns["idf"], 1)
    assert order_certificates_issue(order_id=order.pk) == 0
    assert order_certificates_issue(order_id=10**9) == 0  # an order that is gone: nothing to retry
    assert not Certificate.objects.exists() and mailoutbox == []


def test_allocation_queues_the_certificates_once_it_commits(
    campaigns, default_edition, django_capture_on_commit_callbacks, settings
):
    settings.CERTIFICATES_ISSUE_WHEN_ALLOCATED = True  # as in production (off for other tests)
    order = make_order(campaigns["idf"], 2)
    order_mark_paid(order_id=order.pk)
    with django_capture_on_commit_callbacks() as callbacks:
        order_allocate(order_id=order.pk)
        assert not Certificate.objects.filter(name__order=order).exists()  # nothing before the commit
    for callback in callbacks:
        callback()  # the test settings run tasks in-process
    assert Certificate.objects.filter(name__order=order).count() == 2


def test_the_certificates_task_has_its_own_queue_and_is_acknowledged_late():
    from unitysefer.celery import app

    assert app.amqp.router.route({}, "certificates.tasks.issue_order_certificates")["queue"].name == "certificates"
    assert issue_order_certificates.acks_late and issue_order_certificates.max_retries
    assert "issue-missing-certificates" in app.conf.beat_schedule


def test_the_sweeper_finds_orders_whose_certificates_were_interrupted(campaigns, default_edition, mailoutbox):
    waiting = allocated_order(campaigns["idf"], 2)
    recent = allocated_order(campaigns["idf"], 1)
    done = allocated_order(campaigns["idf"], 1)
    order_certificates_issue(order_id=done.pk)
    # A worker died after the first certificate of `waiting` was stored.
    from certificates.services import _certificates_issue_batch

    _certificates_issue_batch(order=waiting, names=list(waiting.names.order_by("id")[:1]))
    long_ago = timezone.now() - timedelta(minutes=10)
    Order.objects.filter(pk__in=[waiting.pk, done.pk]).update(allocated_at=long_ago)
    assert orders_certificates_pending() == [waiting.pk]
    cache.delete(f"certificates:swept:{waiting.pk}")
    issue_missing_certificates()  # queues the order (the test settings run tasks in-process)
    assert cache.get(f"certificates:swept:{waiting.pk}") == 1  # not queued again for a while
    cache.delete(f"certificates:swept:{waiting.pk}")
    # Only the missing certificate was drawn, then the one email went out.
    assert Certificate.objects.filter(name__order=waiting).count() == 2
    assert order_certificates_issue(order_id=waiting.pk) == 0
    assert orders_certificates_pending() == [] and recent.pk in orders_certificates_pending(older_than_seconds=0)
    assert [m.to for m in mailoutbox] == [[done.buyer_email], [waiting.buyer_email]]


# --- Links: the API, the done page, downloads --------------------------------------------------


def test_order_detail_and_done_page_show_the_certificate_links_once_issued(client, campaigns, default_edition):
    shliach = make_user("cert-shliach")
    order = allocated_order(campaigns["idf"], 2, created_by=shliach)
    api = token_client(shliach)
    names = api.get(f"/api/v1/orders/{order.pk}/").json()["names"]
    assert [name["certificate"] for name in names] == [None, None]
    assert "Being prepared" in client.get(f"/orders/{order.token}/").content.decode()

    order_certificates_issue(order_id=order.pk)
    names = api.get(f"/api/v1/orders/{order.pk}/").json()["names"]
    certificates = {c.name.hebrew_name: c for c in Certificate.objects.filter(name__order=order).select_related("name")}
    for name in names:
        code = certificates[name["hebrew_name"]].code
        assert name["certificate"] == {
            "code": code,
            "download_url": f"http://testserver/orders/{order.token}/certificates/{code}.pdf",
            "verify_url": f"http://testserver/verify/{code}/",
        }
        download = client.get(name["certificate"]["download_url"])
        assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
        assert b"".join(download.streaming_content).startswith(b"%PDF-")
    page = client.get(f"/orders/{order.token}/").content.decode()
    for certificate in certificates.values():
        assert f"/orders/{order.token}/certificates/{certificate.code}.pdf" in page
        assert f"/verify/{certificate.code}/" in page
    assert f"/orders/{order.token}/certificates/booklet.pdf" in page and f"/orders/{order.token}/letters.csv" in page


def test_downloads_need_the_orders_link_or_its_creator(client, campaigns, default_edition, staff_user):
    creator, stranger = make_user("creator"), make_user("stranger")
    order = allocated_order(campaigns["idf"], 1, created_by=creator)
    other = allocated_order(campaigns["idf"], 1)
    for each in (order, other):
        order_certificates_issue(order_id=each.pk)
    code = Certificate.objects.get(name__order=order).code
    other_code = Certificate.objects.get(name__order=other).code
    assert client.get(f"/orders/{order.token}/certificates/{code}.pdf").status_code == 200
    assert client.get(f"/orders/{order.token}/certificates/{other_code}.pdf").status_code == 404
    assert client.get(f"/orders/not-the-token/certificates/{code}.pdf").status_code == 404
    api_url = f"/api/v1/orders/{order.pk}/certificates/{code}.pdf"
    assert token_client(creator).get(api_url).status_code == 200
    assert token_client(staff_user).get(api_url).status_code == 200
    assert token_client(stranger).get(api_url).status_code == 404
    assert client.get(api_url).status_code == 404
    assert token_client(creator).get(f"/api/v1/orders/{order.pk}/certificates/{other_code}.pdf").status_code == 404
    assert token_client(stranger).get(f"/api/v1/orders/{order.pk}/letters.csv").status_code == 404
    assert token_client(stranger).get(f"/api/v1/orders/{order.pk}/booklet.pdf").status_code == 404


def test_the_verification_page_confirms_without_other_personal_data(client, campaigns, default_edition):
    order = allocated_order(
        campaigns["idf"], names=[name_data(0, english_name="Private Person", family_name="Hidden", city="Secretville")]
    )
    order_certificates_issue(order_id=order.pk)
    certificate = Certificate.objects.get(name__order=order)
    response = client.get(f"/verify/{certificate.code}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "מנחם מענדל בן מרים" in page and "Sefer Torah of the IDF" in page
    assert "letter 1 of 304,801" in page and "Genesis 1:1" in page and certificate.display_code in page
    for private in ("Private Person", "Hidden", "Secretville", order.buyer_email, order.buyer_name, order.token):
        assert private not in page
    typed = certificate.display_code.lower()
    assert client.get(f"/verify/{typed}/")["Location"] == f"/verify/{certificate.code}/"
    assert client.get("/verify/ABCDEFGHJKMN/").status_code == 404
    assert client.get("/verify/not-a-code/").status_code == 404


def test_the_booklet_has_one_page_per_name_and_the_csv_one_row(client, campaigns, default_edition):
    order = allocated_order(
        campaigns["idf"], names=[name_data(0), name_data(1), name_data(2, english_name='=HYPERLINK("http://x")')]
    )
    assert client.get(f"/orders/{order.token}/certificates/booklet.pdf").status_code == 202  # not issued yet
    order_certificates_issue(order_id=order.pk)
    response = client.get(f"/orders/{order.token}/certificates/booklet.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    booklet = b"".join(response.streaming_content)
    pages = PdfReader(io.BytesIO(booklet)).pages
    certificates = list(Certificate.objects.filter(name__order=order).order_by("name_id"))
    assert len(pages) == 3
    for page, certificate in zip(pages, certificates):
        assert certificate.display_code in page.extract_text()
    assert "letter 3 of 304,801" in poppler_text(booklet)

    response = client.get(f"/orders/{order.token}/letters.csv")
    assert response["Content-Type"].startswith("text/csv")
    content = b"".join(response.streaming_content).decode("utf-8")
    assert content.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(content.lstrip("\ufeff"))))
    assert [row["certificate_code"] for row in rows] == [c.code for c in certificates]
    assert [row["position"] for row in rows] == ["1", "2", "3"]
    assert rows[0]["display_name"] == "מנחם מענדל בן מרים" and rows[0]["letter"] == "ב" and rows[0]["word"] == "בראשית"
    assert rows[2]["english_name"] == '\'=HYPERLINK("http://x")'  # never a formula in a spreadsheet


def _admin_form_data(response):
    """What the admin's change page would post back unchanged: its form and its inlines."""
    data = {k: v for k, v in response.context["adminform"].form.initial.items() if v is not None}
    for inline in response.context.get("inline_admin_formsets", []):
        formset = inline.formset
        data.update({f"{formset.prefix}-{k}": v for k, v in formset.management_form.initial.items()})
        for form in formset.forms:
            values = {name: form[name].value() for name in form.fields}
            data.update({form.add_prefix(k): v for k, v in values.items() if v is not None})
    return {k: (v.pk if hasattr(v, "pk") else v) for k, v in data.items() if not isinstance(v, bool) or v}


def test_a_corrected_name_gets_its_certificate_drawn_again_with_the_same_code(
    client, campaigns, default_edition, django_capture_on_commit_callbacks
):
    order = allocated_order(campaigns["idf"], 2)
    order_certificates_issue(order_id=order.pk)
    assert order_booklet_build(order_id=order.pk)
    first, second = Certificate.objects.filter(name__order=order).order_by("name_id")
    issued_file, second_file = first.file.name, second.file.name
    booklet_file = OrderCertificates.objects.get(order=order).booklet.name
    assert "מנחם מענדל בן מרים" in pdf_text(stored_pdf(first))

    client.force_login(make_user("corrector", is_staff=True, permissions=["allocation.change_name"]))
    url = f"/admin/allocation/name/{first.name_id}/change/"
    data = _admin_form_data(client.get(url))
    with django_capture_on_commit_callbacks(execute=True):  # the test settings run tasks in-process
        response = client.post(url, {**data, "hebrew_name": "מנחם מענדיל"})
    assert response.status_code == 302, response.content.decode()[:2000]

    first.refresh_from_db()
    text = pdf_text(stored_pdf(first))
    assert "מנחם מענדיל בן מרים" in text and "מנחם מענדל בן" not in text
    assert first.display_code in text and first.file.name != issued_file  # the same code, a new drawing
    storage = first.file.storage
    assert not storage.exists(issued_file) and not storage.exists(booklet_file)
    second.refresh_from_db()
    assert second.file.name == second_file and second.sheet_id is not None  # the other name untouched
    # The booklet is built again, the corrected page drawn anew and the other copied from its sheet.
    assert client.get(f"/orders/{order.token}/certificates/booklet.pdf").status_code == 200
    with OrderCertificates.objects.get(order=order).booklet.open("rb") as file:
        stored_booklet = file.read()
    assert "מנחם מענדיל בן מרים" in pdf_text(stored_booklet) and len(PdfReader(io.BytesIO(stored_booklet)).pages) == 2
    verify = client.get(f"/verify/{first.code}/").content.decode()
    assert "מנחם מענדיל בן מרים" in verify

    # A correction made from the order's page (its names inline) draws again too; a change
    # of what a certificate does not print (the city) does not.
    client.force_login(User.objects.create_superuser("admin", "admin@example.org", "a-long-test-password"))
    url = f"/admin/allocation/order/{order.pk}/change/"
    data = _admin_form_data(client.get(url))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {**data, "names-1-parent_hebrew_name": "רבקה", "names-0-city": "Lod"})
    assert response.status_code == 302, response.context["errors"]
    first.refresh_from_db()
    second.refresh_from_db()
    assert "בת רבקה" in pdf_text(stored_pdf(second)) and second.file.name != second_file
    assert first.name.city == "Lod" and "מנחם מענדיל בן מרים" in pdf_text(stored_pdf(first))


def test_redrawing_a_name_without_a_certificate_does_nothing(campaigns, default_edition):
    order = allocated_order(campaigns["idf"], 1)
    assert certificate_redraw(name_id=order.names.get().pk) is False
    assert not Certificate.objects.filter(name__order=order).exists()


def test_a_large_booklet_is_built_by_the_worker(client, campaigns, default_edition):
    from certificates.services import BOOKLET_INLINE_MAX_NAMES
    from certificates.tasks import build_order_booklet

    order = allocated_order(campaigns["sefardi"], BOOKLET_INLINE_MAX_NAMES + 1)
    order_certificates_issue(order_id=order.pk)
    cache.delete(f"certificates:booklet-requested:{order.pk}")
    assert client.get(f"/orders/{order.token}/certificates/booklet.pdf").status_code == 202
    build_order_booklet(order.pk)  # what the queued task does
    build_order_booklet(order.pk)  # twice: built once
    response = client.get(f"/orders/{order.token}/certificates/booklet.pdf")
    assert response.status_code == 200
    assert len(PdfReader(io.BytesIO(b"".join(response.streaming_content))).pages) == BOOKLET_INLINE_MAX_NAMES + 1
    with OrderCertificates.objects.get(order=order).booklet.open("rb") as file:
        assert any(name.startswith("StamSefaradCLM") for name in font_names(file.read()))


def test_a_booklet_draws_again_what_has_no_sheet(campaigns, default_edition):
    from certificates.services import order_booklet_write

    order = allocated_order(campaigns["idf"], 3)
    order_certificates_issue(order_id=order.pk)
    Certificate.objects.filter(name__order=order, name__in=list(order.names.order_by("id")[1:2])).update(sheet=None)
    out = io.BytesIO()
    assert order_booklet_write(order=order, out=out) == 3
    pages = PdfReader(io.BytesIO(out.getvalue())).pages
    codes = [c.display_code for c in Certificate.objects.filter(name__order=order).order_by("name_id")]
    assert [code in page.extract_text() for page, code in zip(pages, codes)] == [True, True, True]
    assert "letter 2 of 304,801" in pages[1].extract_text()


# --- "Do I have a letter?" -----------------------------------------------------------------------


def without_tokens(page):
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", page)


def lookup(client, email, ip):
    return client.post("/letters/lookup/", {"email": email}, REMOTE_ADDR=ip, follow=True)


def forget_lookups(*, ips=(), emails=()):
    """The counters live in Redis for an hour, across test runs (whose addresses repeat)."""
    for ip in ips:
        cache.delete(letters_lookup_cache_keys(ip=ip, email="")[0])
    for email in emails:
        cache.delete(letters_lookup_cache_keys(ip="", email=email)[1])


def test_the_lookup_emails_the_links_and_never_shows_them(client, campaigns, default_edition, mailoutbox):
    order = allocated_order(campaigns["idf"], 1)
    order_certificates_issue(order_id=order.pk)
    mailoutbox.clear()
    ip = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    forget_lookups(ips=[ip], emails=[order.buyer_email])
    known = lookup(client, order.buyer_email, ip).content.decode()
    unknown_email = f"nobody-{uuid.uuid4().hex}@example.org"
    unknown = lookup(client, unknown_email, ip).content.decode()
    assert order.token not in known and "/verify/" not in known
    # The same answer, whether or not the address bought anything.
    assert without_tokens(known).replace(order.buyer_email, "EMAIL") == without_tokens(unknown).replace(
        unknown_email, "EMAIL"
    )
    assert "we have sent the links to them to that address" in known

    assert letters_lookup_send(email=order.buyer_email.upper()) is True
    assert letters_lookup_send(email="nobody@example.org") is False
    [sent] = mailoutbox
    code = Certificate.objects.get(name__order=order).code
    assert sent.to == [order.buyer_email] and f"/orders/{order.token}/" in sent.body and code in sent.body


def test_the_lookup_is_rate_limited_per_address_and_per_ip(client, settings):
    settings.LETTERS_LOOKUP_PER_HOUR = 5
    email = f"someone-{uuid.uuid4().hex}@example.org"
    ips = [f"192.0.2.{n}" for n in range(1, 8)]
    forget_lookups(ips=ips)
    for ip in ips[:5]:
        assert lookup(client, email, ip).status_code == 200
    limited = lookup(client, email, ips[5])  # a new IP address, the same email address
    assert limited.status_code == 429 and "Too many lookups" in limited.content.decode()
    for n in range(5):
        lookup(client, f"other-{n}-{uuid.uuid4().hex}@example.org", ips[6])
    assert lookup(client, f"fresh-{uuid.uuid4().hex}@example.org", ips[6]).status_code == 429  # the same IP
