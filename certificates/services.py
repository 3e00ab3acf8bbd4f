"""Issuing certificates: drawn in batches, stored, emailed to the buyer once; the booklet and the
CSV of an order's letters; "Do I have a letter?".

Each certificate is committed with its file as soon as its batch is drawn, so a worker killed in
the middle of a large order loses at most one batch: the task (acknowledged late, so given to
another worker) or the sweeper finds the names still without a certificate and carries on. A
PostgreSQL advisory lock per order keeps two workers off the same order (the unique constraint
on Certificate.name is the guarantee; the lock only saves the wasted work); the database
releases it when the worker's connection dies.
"""

import csv
import datetime
import gc
import hashlib
import logging
import secrets
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from io import BytesIO
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile, File
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Count, Sum
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from pypdf import PdfReader

from accounts.selectors import language_supported, order_language
from allocation.models import DEDICATION_HEBREW, DedicationKind, Name, Order
from allocation.selectors import addresses_language, names_letters_describe
from core import locks
from core.locks import advisory_lock_try

from .models import Certificate, CertificateSheet, OrderCertificates, new_verification_code
from .pdf import PdfPageWriter, PdfSource
from .rendering import CertificatePage, certificate_page, certificates_render
from .selectors import (
    certificate_urls,
    certificates_by_name_id,
    order_all_certificates_issued,
    order_certificate_links,
    order_names_without_certificate,
)

logger = logging.getLogger(__name__)

# Names drawn in one WeasyPrint document: large enough that fonts and layout set-up are shared,
# small enough that a killed worker loses little and memory stays flat.
ISSUE_BATCH_SIZE = 50
BOOKLET_CHUNK_SIZE = 50
# Certificates read per query while assembling a booklet.
BOOKLET_QUERY_SIZE = 200
# Orders with at most this many names get their booklet at once, in the request.
BOOKLET_INLINE_MAX_NAMES = 20
# Names listed in an email; the rest are on the order's page.
EMAIL_NAMES_LISTED = 100


def _letter_day(order: Order) -> datetime.date:
    """The day the order's letters were written, in the campaign's time zone."""
    return timezone.localtime(order.allocated_at, ZoneInfo(order.campaign.time_zone)).date()


def certificate_pages(*, order: Order, names: list[Name], codes: list[str]) -> list[CertificatePage]:
    """The certificate pages of some names of an order, as the public sees their letters."""
    described = names_letters_describe(names=names, campaign=order.campaign, viewer=None)
    day = _letter_day(order)
    pages = []
    for item, code in zip(described, codes):
        certificate = Certificate(code=code)
        pages.append(
            certificate_page(
                name=item["name"],
                letter=item["letter"],
                campaign=order.campaign,
                code=code,
                display_code=certificate.display_code,
                verify_url=f"{settings.SITE_URL}{reverse('certificate-verify', kwargs={'code': code})}",
                day=day,
            )
        )
    return pages


# --- Issuing -------------------------------------------------------------------------------


def order_certificates_issue(*, order_id: int) -> int:
    """Issue every missing certificate of an allocated order, then email the buyer (once).
    Safe to run any number of times, also concurrently. Returns how many were issued now."""
    order = Order.objects.select_related("campaign").filter(pk=order_id).first()
    if order is None or order.allocated_at is None:
        return 0  # allocation enqueues this task again once the letters are there
    issued = 0
    with advisory_lock_try(model=Certificate, namespace=locks.CERTIFICATES_ISSUE, object_id=order_id) as acquired:
        if not acquired:
            logger.info("Certificates of order %s are being issued by another worker", order_id)
            return 0
        while names := list(order_names_without_certificate(order_id=order_id)[:ISSUE_BATCH_SIZE]):
            issued += _certificates_issue_batch(order=order, names=names)
        order_certificates_email(order_id=order_id)
    if issued:
        logger.info("Order %s: %d certificates issued", order_id, issued)
    return issued


def _certificates_issue_batch(*, order: Order, names: list[Name]) -> int:
    certificates = [Certificate(name=name, code=new_verification_code()) for name in names]
    rendered = certificates_render(
        certificate_pages(order=order, names=names, codes=[c.code for c in certificates]),
        language=order_language(order=order),
    )
    parts = rendered.split(titles=[_("Certificate %(code)s") % {"code": c.display_code} for c in certificates])
    # The batch as drawn, kept so that the order's booklet is assembled without drawing again.
    sheet = CertificateSheet(order=order)
    stored = []
    try:
        batch = secrets.token_hex(6)
        sheet.file.save(f"sheet-{batch}.pdf", ContentFile(rendered.pdf), save=False)
        stored.append(sheet.file.name)
        sheet.background.save(f"sheet-{batch}-background.pdf", ContentFile(rendered.background_pdf), save=False)
        stored.append(sheet.background.name)
        for index, (certificate, part) in enumerate(zip(certificates, parts)):
            certificate.file.save(f"{certificate.name_id}-{certificate.code}.pdf", ContentFile(part), save=False)
            certificate.size = len(part)
            certificate.sheet_page = rendered.page_groups[index][0]
            certificate.sheet_background_page = rendered.backgrounds[index]
            stored.append(certificate.file.name)
        with transaction.atomic():
            sheet.save()
            for certificate in certificates:
                certificate.sheet = sheet
            Certificate.objects.bulk_create(certificates)
    except IntegrityError:
        # Another worker issued some of these first (or, once in 2**60, a code repeated): its
        # certificates stand; ours are dropped and the caller looks again for what is missing.
        logger.warning("Order %s: certificates issued concurrently; keeping the first", order.pk)
        for path in stored:
            sheet.file.storage.delete(path)
        return 0
    return len(certificates)


# What of a name its certificate prints: a correction of any of them draws it again.
CERTIFICATE_NAME_FIELDS = frozenset(
    {
        "hebrew_name",
        "parent_hebrew_name",
        "gender",
        "english_name",
        "family_name",
        "deceased",
        "dedication_kind",
        "dedication_text",
    }
)


def certificate_redraw(*, name_id: int) -> bool:
    """Draw a name's certificate again, with the same verification code, once staff have corrected
    the name: its PDF then prints the name as it is now, and the order's booklet is built again
    on its next request. Returns whether there was a certificate (a name not yet issued one gets
    it, corrected, from the issue). Safe to run any number of times, also concurrently (the
    certificate's row is locked while it is drawn)."""
    with transaction.atomic():
        certificate = Certificate.objects.select_for_update().filter(name_id=name_id).first()
        if certificate is None:
            return False
        name = Name.objects.select_related("order__campaign").get(pk=name_id)
        order = name.order
        rendered = certificates_render(
            certificate_pages(order=order, names=[name], codes=[certificate.code]), language=order_language(order=order)
        )
        [part] = rendered.split(titles=[_("Certificate %(code)s") % {"code": certificate.display_code}])
        storage = certificate.file.storage
        replaced = certificate.file.name
        certificate.name = name
        certificate.file.save(f"{name_id}-{certificate.code}-{secrets.token_hex(4)}.pdf", ContentFile(part), save=False)
        try:
            certificate.size = len(part)
            # No longer the page of its sheet: the booklet draws it again (order_booklet_write).
            certificate.sheet, certificate.sheet_page, certificate.sheet_background_page = None, None, None
            certificate.save(update_fields=["file", "size", "sheet", "sheet_page", "sheet_background_page"])
            state = OrderCertificates.objects.select_for_update().filter(order=order).first()
            stale = [replaced]
            if state is not None and state.booklet:
                stale.append(state.booklet.name)
                state.booklet, state.booklet_built_at = "", None
                state.save(update_fields=["booklet", "booklet_built_at"])
        except Exception:
            storage.delete(certificate.file.name)
            raise
        # Files no row names any more; a failure to delete one is logged (robust), not retried.
        transaction.on_commit(lambda: [storage.delete(path) for path in stale], robust=True)
    logger.info("Certificate %s of name %s drawn again", certificate.code, name_id)
    return True


def order_certificates_email(*, order_id: int) -> bool:
    """Once every certificate of the order is issued: email the buyer one message with them
    attached (or a link, above CERTIFICATES_EMAIL_ATTACHMENTS_MAX_BYTES), once, and mark the
    order's certificates complete. Returns whether an email went out now.

    The order row stays locked while the message goes out (as for the confirmation email), so
    two workers never both send; a crash after sending and before the commit can repeat it.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().select_related("campaign").get(pk=order_id)
        if not order_all_certificates_issued(order=order):
            return False
        state, _created = OrderCertificates.objects.get_or_create(order=order)
        if state.completed_at is not None:
            return False
        now = timezone.now()
        sent = False
        if order.buyer_email and state.emailed_at is None:
            totals = Certificate.objects.filter(name__order=order).aggregate(size=Sum("size"), count=Count("id"))
            attach = (totals["size"] or 0) <= settings.CERTIFICATES_EMAIL_ATTACHMENTS_MAX_BYTES
            _certificates_message(order=order, count=totals["count"], attach=attach).send()
            state.emailed_at, state.emailed_as_attachments, sent = now, attach, True
        state.completed_at = now
        state.save(update_fields=["completed_at", "emailed_at", "emailed_as_attachments"])
    return sent


def _certificates_message(*, order: Order, count: int, attach: bool) -> EmailMultiAlternatives:
    certificates = list(Certificate.objects.filter(name__order=order).select_related("name").order_by("name_id")[
        : None if attach else EMAIL_NAMES_LISTED
    ])  # fmt: skip
    context = {
        "order": order,
        "count": count,
        "attached": attach,
        "certificates": [
            {"name": c.name, **certificate_urls(certificate=c, order=order)} for c in certificates[:EMAIL_NAMES_LISTED]
        ],
        "more": max(count - EMAIL_NAMES_LISTED, 0),
        "done_url": f"{settings.SITE_URL}{reverse('order-done', kwargs={'token': order.token})}",
        **order_certificate_links(order=order),
    }
    with translation.override(order_language(order=order)):
        subject = _("Your certificates: %(campaign)s") % {"campaign": order.campaign.name}
        message = EmailMultiAlternatives(
            subject=subject, body=render_to_string("emails/certificates.txt", context), to=[order.buyer_email]
        )
        message.attach_alternative(render_to_string("emails/certificates.html", context), "text/html")
    if attach:
        for certificate in certificates:
            with certificate.file.open("rb") as file:
                message.attach(f"certificate-{certificate.code}.pdf", file.read(), "application/pdf")
    return message


def orders_certificates_pending(*, older_than_seconds: int = 300, limit: int = 500) -> list[int]:
    """Orders allocated a while ago whose certificates are not all issued and emailed: a
    worker died, or the broker was down when the letters were allocated (the sweeper)."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    return list(
        Order.objects.filter(allocated_at__lte=cutoff)
        .exclude(certificates_state__completed_at__isnull=False)
        .order_by("allocated_at")
        .values_list("id", flat=True)[:limit]
    )


# --- The booklet and the CSV ---------------------------------------------------------------


def order_booklet_write(*, order: Order, out) -> int:
    """Write every certificate of the order, one page per name in the order of the names, as
    one PDF to `out`. Pages are copied from the sheets they were drawn on (a certificate
    without one is drawn again, BOOKLET_CHUNK_SIZE at a time); one sheet is open at a time, so
    memory does not grow with the number of names. Every name must hold its certificate.
    Returns the number of pages."""
    writer = PdfPageWriter(out, title=_("Certificates of order %(id)s") % {"id": order.pk})
    sheet_id, sources, to_draw = None, None, []

    def draw():
        names = [certificate.name for certificate in to_draw]
        codes = [certificate.code for certificate in to_draw]
        certificates_render(
            certificate_pages(order=order, names=names, codes=codes), language=order_language(order=order)
        ).write_to(writer)
        to_draw.clear()

    last_id = 0
    while certificates := list(
        Certificate.objects.filter(name__order=order, name_id__gt=last_id)
        .select_related("name", "sheet")
        .order_by("name_id")[:BOOKLET_QUERY_SIZE]
    ):
        for certificate in certificates:
            if certificate.sheet is None:
                to_draw.append(certificate)
                if len(to_draw) == BOOKLET_CHUNK_SIZE:
                    draw()
                continue
            if to_draw:
                draw()
            if certificate.sheet_id != sheet_id:
                # pypdf's objects point back to their reader, so a finished sheet is freed only
                # by the cycle collector: collect now, or memory saws up to tens of MiB.
                sources = None
                gc.collect()
                sheet_id, sources = certificate.sheet_id, _sheet_sources(certificate.sheet)
            writer.add_page(
                sources[0], certificate.sheet_page, underlay=(sources[1], certificate.sheet_background_page)
            )
        last_id = certificates[-1].name_id
    if to_draw:
        draw()
    writer.close()
    return writer.page_count


def _sheet_sources(sheet: CertificateSheet) -> tuple[PdfSource, PdfSource]:
    with sheet.file.open("rb") as pages, sheet.background.open("rb") as background:
        return PdfSource(PdfReader(BytesIO(pages.read()))), PdfSource(PdfReader(BytesIO(background.read())))


def order_booklet_build(*, order_id: int) -> bool:
    """Draw and store the order's booklet, once all its certificates are issued. Idempotent.
    Returns whether the booklet is there now."""
    order = Order.objects.select_related("campaign").get(pk=order_id)
    if not order_all_certificates_issued(order=order):
        return False
    with advisory_lock_try(model=Certificate, namespace=locks.CERTIFICATES_BOOKLET, object_id=order_id) as acquired:
        if not acquired:
            return False
        state, _created = OrderCertificates.objects.get_or_create(order=order)
        if state.booklet:
            return True
        with tempfile.TemporaryFile() as file:
            order_booklet_write(order=order, out=file)
            file.seek(0)
            state.booklet.save(f"booklet-{secrets.token_hex(6)}.pdf", File(file), save=False)
        state.booklet_built_at = timezone.now()
        state.save(update_fields=["booklet", "booklet_built_at"])
    logger.info("Order %s: booklet built", order_id)
    return True


CSV_COLUMNS = [
    "display_name", "hebrew_name", "ben_bas", "parent_hebrew_name", "english_name", "family_name",
    "deceased", "dedication_kind", "dedication_he", "dedication_text", "campaign", "scroll", "position", "total", "letter", "word", "book", "chapter",
    "verse", "parsha", "parsha_he", "certificate_code", "certificate_url", "verify_url",
]  # fmt: skip
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value):
    """Names are data: a cell that a spreadsheet would run as a formula is quoted."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else ""
    text = str(value)
    return f"'{text}" if text.startswith(_FORMULA_PREFIXES) else text


def order_letters_csv_rows(*, order: Order, viewer, request=None) -> Iterator[list[str]]:
    """The order's names and letters as CSV rows (a header first), 1,000 names at a time. The
    letter columns follow what `viewer` may see (only the parsha where the campaign says so)."""
    yield CSV_COLUMNS
    last_id = 0
    while names := list(Name.objects.filter(order=order, id__gt=last_id).order_by("id")[:1000]):
        certificates = certificates_by_name_id(names=names)
        for item in names_letters_describe(names=names, campaign=order.campaign, viewer=viewer):
            name, letter = item["name"], item["letter"] or {}
            certificate = certificates.get(name.pk)
            urls = certificate_urls(certificate=certificate, order=order, request=request) if certificate else {}
            row = {
                "display_name": name.display_name,
                "hebrew_name": name.hebrew_name,
                "ben_bas": name.connector,
                "parent_hebrew_name": name.parent_hebrew_name,
                "english_name": name.english_name,
                "family_name": name.family_name,
                "deceased": name.deceased,
                "dedication_kind": "" if name.dedication_kind == DedicationKind.NONE else name.dedication_kind,
                "dedication_he": DEDICATION_HEBREW.get(name.dedication_kind, ""),
                "dedication_text": name.dedication_text,
                "campaign": order.campaign.name,
                "scroll": letter.get("scroll_number"),
                **{key: letter.get(key) for key in ("position", "total", "letter", "word", "book", "chapter", "verse")},
                "parsha": letter.get("parsha"),
                "parsha_he": letter.get("parsha_he"),
                "certificate_code": certificate.code if certificate else "",
                "certificate_url": urls.get("download_url"),
                "verify_url": urls.get("verify_url"),
            }
            yield [_csv_cell(row[column]) for column in CSV_COLUMNS]
        last_id = names[-1].pk


class _Echo:
    def write(self, value):
        return value


def csv_lines(rows) -> Iterator[str]:
    """CSV text line by line (with a BOM, so spreadsheets read the Hebrew as UTF-8)."""
    writer = csv.writer(_Echo())
    yield "\ufeff"
    for row in rows:
        yield writer.writerow(row)


# --- "Do I have a letter?" -------------------------------------------------------------------


def letters_lookup_cache_keys(*, ip: str, email: str) -> tuple[str, str, str]:
    """The counters of lookups from an IP address, and for an email address in the hour and in
    the day (hashed: the cache holds no addresses), under RATELIMIT_CACHE_PREFIX."""
    email_key = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    prefix = f"{settings.RATELIMIT_CACHE_PREFIX}letters-lookup"
    return f"{prefix}:ip:{ip}", f"{prefix}:email:{email_key}", f"{prefix}:email-day:{email_key}"


def _lookup_count(key: str, seconds: int) -> int:
    """One more in the counter; its window starts at its first."""
    cache.add(key, 0, timeout=seconds)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=seconds)
        return 1


def letters_lookup_rate_check(*, ip: str, email: str) -> None:
    """Count one lookup against the IP address (LETTERS_LOOKUP_PER_HOUR), then against the email
    address for the hour (the same) and for the day (LETTERS_LOOKUP_PER_DAY); ValidationError at
    the first counter over its limit, the ones after it not counted: a caller over its own limit
    never uses up a real buyer's allowance. The same whether or not the address bought anything."""
    ip_key, email_hour_key, email_day_key = letters_lookup_cache_keys(ip=ip, email=email)
    per_hour = settings.LETTERS_LOOKUP_PER_HOUR
    if _lookup_count(ip_key, 3600) > per_hour or _lookup_count(email_hour_key, 3600) > per_hour:
        raise ValidationError(_("Too many lookups. Please try again in an hour."), code="per_hour")
    if _lookup_count(email_day_key, 24 * 3600) > settings.LETTERS_LOOKUP_PER_DAY:
        raise ValidationError(_("Too many lookups for this address today. Please try again tomorrow."), code="per_day")


def letters_lookup_send(*, email: str, language: str = "") -> bool:
    """Email this address the links to every letter bought with it; nothing when there are
    none. Returns whether a message was sent. Written in `language` (the one the page was asked
    in), else the address's own (accounts.selectors.addresses_language)."""
    orders = list(
        Order.objects.filter(buyer_email__iexact=email.strip(), allocated_at__isnull=False)
        .select_related("campaign")
        .annotate(name_count=Count("names"))
        .order_by("id")
    )
    if not orders:
        return False
    entries = []
    for order in orders:
        certificates = list(
            Certificate.objects.filter(name__order=order)
            .select_related("name")
            .order_by("name_id")[:EMAIL_NAMES_LISTED]
        )
        entries.append(
            {
                "order": order,
                "done_url": f"{settings.SITE_URL}{reverse('order-done', kwargs={'token': order.token})}",
                "certificates": [
                    {"name": c.name, **certificate_urls(certificate=c, order=order)} for c in certificates
                ],
                "more": max(order.name_count - len(certificates), 0),
            }
        )
    language = language_supported(language) or addresses_language(emails=[email.strip()])[email.strip().lower()]
    with translation.override(language):
        message = EmailMultiAlternatives(
            subject=_("Your letters in the Sefer Torah"),
            body=render_to_string("emails/letters_lookup.txt", {"entries": entries}),
            to=[orders[0].buyer_email],
        )
        message.attach_alternative(render_to_string("emails/letters_lookup.html", {"entries": entries}), "text/html")
    message.send()
    return True
