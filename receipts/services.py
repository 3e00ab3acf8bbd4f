"""Organisations, and the receipts they issue.

A receipt's number is taken in the transaction that records the payment (receivers.py hears
`order_status_changing`): one statement upserts the counter row of the organisation's series and
year and returns the next number, holding that row's lock until the payment commits. So numbers
run 1, 2, 3... per organisation and year without a gap (a payment that rolls back takes its number
with it) and never repeat, whatever pays at the same moment; the unique constraint on the number
stands behind it. A refund issues a cancellation note, numbered so in a series of its own. The
PDF is drawn afterwards by a worker (receipt_deliver), and emailed to the donor once.
"""

import logging
import secrets
from datetime import timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.mail import EmailMessage
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.selectors import order_language
from allocation.models import Order, OrderStatus
from scrolls.models import Campaign

from .models import (
    JURISDICTION_TIME_ZONES,
    CampaignOrganisation,
    Jurisdiction,
    Organisation,
    Receipt,
    ReceiptCounter,
    ReceiptKind,
)
from .rendering import receipt_pdf, statement_pdf
from .selectors import campaign_organisation, donor_receipts_of_year, orders_missing_receipt

logger = logging.getLogger(__name__)


# --- Organisations ----------------------------------------------------------------------------


def organisation_save(*, organisation: Organisation, campaigns=None, campaigns_added=()) -> Organisation:
    """Validate and save an organisation, then link campaigns to it: `campaigns` (the staff
    page) is the whole list, those no longer in it unlinked; `campaigns_added` (the command)
    only adds. A campaign linked to another organisation moves to this one. ValidationError,
    and nothing saved, when anything is wrong."""
    organisation.full_clean()
    with transaction.atomic():
        organisation.save()
        wanted = list(campaigns_added) + list(campaigns or [])
        if campaigns is not None:
            CampaignOrganisation.objects.filter(organisation=organisation).exclude(
                campaign__in=[campaign.pk for campaign in campaigns]
            ).delete()
        for campaign in wanted:
            CampaignOrganisation.objects.update_or_create(campaign=campaign, defaults={"organisation": organisation})
    return organisation


def organisation_set(*, slug: str, name: str, jurisdiction: str, tax_id: str | None = None, campaign_slugs=(),
                     **fields) -> tuple[Organisation, bool]:  # fmt: skip
    """Create or update the organisation `slug` (`manage.py organisation_set`): the fields given
    are set, the others kept; the campaigns named are linked to it. Safe to repeat. Returns the
    organisation and whether it was created."""
    if jurisdiction not in Jurisdiction.values:
        raise ValidationError(
            {"jurisdiction": _("Unknown jurisdiction %(value)s: use us, il or other.") % {"value": jurisdiction}}
        )
    found = {campaign.slug: campaign for campaign in Campaign.objects.filter(slug__in=campaign_slugs)}
    missing = [campaign_slug for campaign_slug in campaign_slugs if campaign_slug not in found]
    if missing:
        raise ValidationError({"campaign": _("No campaign %(slugs)s.") % {"slugs": ", ".join(missing)}})
    organisation = Organisation.objects.filter(slug=slug).first()
    created = organisation is None
    if created:
        organisation = Organisation(slug=slug, time_zone=JURISDICTION_TIME_ZONES[jurisdiction])
    organisation.name, organisation.jurisdiction = name, jurisdiction
    if tax_id is not None:
        organisation.tax_id = tax_id.strip()
    for field, value in fields.items():
        if value is not None:
            setattr(organisation, field, value)
    organisation_save(organisation=organisation, campaigns_added=[found[s] for s in dict.fromkeys(campaign_slugs)])
    return organisation, created


# --- Numbers ----------------------------------------------------------------------------------


def receipt_number_take(*, organisation_id: int, series: str, year: int) -> int:
    """The next number of a series: the counter row is created at 1 or moved on by one, in one
    statement that keeps it locked until the transaction ends (so a rolled-back payment gives
    its number back, and two payments never see the same one)."""
    table = ReceiptCounter._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {table} (organisation_id, series, year, last_number) VALUES (%s, %s, %s, 1)
                ON CONFLICT (organisation_id, series, year)
                DO UPDATE SET last_number = {table}.last_number + 1
                RETURNING last_number""",
            [organisation_id, series, year],
        )
        return cursor.fetchone()[0]


def _donor_name(order: Order) -> str:
    if order.buyer_name:
        return order.buyer_name
    if order.created_by_id is not None:
        return order.created_by.get_full_name()
    return ""


def _issue(*, order: Order, organisation: Organisation, kind: str, moment, amount, cancels=None, donor_name="",
           language="") -> Receipt:  # fmt: skip
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("a receipt's number is taken inside the transaction that records its money")
    year = timezone.localtime(moment, ZoneInfo(organisation.time_zone)).year
    number = receipt_number_take(organisation_id=organisation.pk, series=kind, year=year)
    return Receipt.objects.create(
        organisation=organisation,
        order=order,
        kind=kind,
        cancels=cancels,
        year=year,
        number=number,
        issued_at=moment,
        amount=amount,
        currency=order.currency,
        donor_name=donor_name[:200],
        language=language,
    )


def receipt_issue(*, order: Order) -> Receipt | None:
    """The receipt of an order being paid, numbered in the paying transaction. None where there
    is nothing to receipt: the campaign has no organisation, or nothing was paid (an honour
    letter). Idempotent: an order's receipt is issued once."""
    if order.amount <= 0:
        return None
    link = CampaignOrganisation.objects.select_related("organisation").filter(campaign_id=order.campaign_id).first()
    if link is None:
        return None
    existing = Receipt.objects.filter(order=order, kind=ReceiptKind.RECEIPT).first()
    if existing is not None:
        return existing
    receipt = _issue(
        order=order,
        organisation=link.organisation,
        kind=ReceiptKind.RECEIPT,
        moment=order.paid_at or timezone.now(),
        amount=order.amount,
        donor_name=_donor_name(order),
        language=order_language(order=order),
    )
    logger.info("Order %s: receipt %s of %s", order.pk, receipt.display_number, link.organisation.slug)
    return receipt


def receipt_cancel(*, order: Order, now=None) -> Receipt | None:
    """The note cancelling the receipt of an order being refunded, numbered in the refunding
    transaction by the same organisation as the receipt. None where the order had no receipt.
    Idempotent."""
    receipt = Receipt.objects.select_related("organisation").filter(order=order, kind=ReceiptKind.RECEIPT).first()
    if receipt is None:
        return None
    existing = Receipt.objects.filter(cancels=receipt).first()
    if existing is not None:
        return existing
    note = _issue(
        order=order,
        organisation=receipt.organisation,
        kind=ReceiptKind.CANCELLATION,
        moment=now or timezone.now(),
        amount=receipt.amount,
        cancels=receipt,
        donor_name=receipt.donor_name,
        language=receipt.language,
    )
    logger.info("Order %s: receipt %s cancelled by %s", order.pk, receipt.display_number, note.display_number)
    return note


def receipts_issue_missing(*, organisation: Organisation | None = None, dry_run: bool = False) -> list[tuple]:
    """Give a receipt to each paid order whose campaign has an organisation (this one, if given)
    but that has none: paid before the organisation was set (`manage.py issue_missing_receipts`).
    Each through receipt_issue, in a transaction of its own with the order's row locked (as the
    payment that issues the others holds it), so its number comes from the counter as any other;
    an order that got its receipt meanwhile, or is no longer paid, is passed over. Safe to repeat
    and to run twice at once. Returns (order, organisation, receipt) of each order given one (the
    receipt None with dry_run, which changes nothing); the caller delivers them (the sweeper
    would too)."""
    done = []
    for order_id in list(orders_missing_receipt(organisation=organisation).values_list("pk", flat=True)):
        if dry_run:
            order = Order.objects.select_related("campaign").get(pk=order_id)
            done.append((order, campaign_organisation(campaign_id=order.campaign_id), None))
            continue
        with transaction.atomic():
            order = (
                Order.objects.select_for_update(of=("self",)).select_related("campaign", "created_by").get(pk=order_id)
            )
            if (
                order.status != OrderStatus.PAID
                or Receipt.objects.filter(order=order, kind=ReceiptKind.RECEIPT).exists()
            ):
                continue
            receipt = receipt_issue(order=order)
        if receipt is not None:
            done.append((order, receipt.organisation, receipt))
    return done


# --- The PDF and the email ----------------------------------------------------------------------


def receipt_draw(*, receipt_id: int) -> Receipt:
    """Draw and store the PDF of a receipt or note that has none. Idempotent, also concurrently
    (the receipt's row is locked while it is drawn)."""
    with transaction.atomic():
        receipt = Receipt.objects.select_for_update().get(pk=receipt_id)
        if receipt.file:
            return receipt
        receipt = Receipt.objects.select_related("organisation", "order", "cancels").get(pk=receipt_id)
        data = receipt_pdf(receipt)
        receipt.file.save(f"{receipt.kind}-{receipt.display_number}-{secrets.token_hex(6)}.pdf", ContentFile(data),
                          save=False)  # fmt: skip
        stored = receipt.file.name
        try:
            receipt.drawn_at = timezone.now()
            receipt.save(update_fields=["file", "drawn_at"])
        except Exception:
            receipt.file.storage.delete(stored)
            raise
    logger.info("Receipt %s drawn", receipt.display_number)
    return receipt


def receipt_email(*, receipt_id: int) -> bool:
    """Email the donor their receipt (or note) with its PDF attached, once. An order without a
    buyer's address (a shliach's) emails nobody: its receipt is on the order's page. Returns
    whether an email went out now. The row stays locked while it goes, so two workers never
    both send; a crash after sending and before the commit may repeat it."""
    with transaction.atomic():
        receipt = (
            Receipt.objects.select_for_update(of=("self",))
            .select_related("organisation", "order__campaign", "cancels")
            .get(pk=receipt_id)
        )
        order = receipt.order
        if receipt.emailed_at is not None or not receipt.file or not order.buyer_email:
            return False
        with translation.override(receipt.language or order_language(order=order)):
            context = {
                "receipt": receipt,
                "order": order,
                "organisation": receipt.organisation.legal_name(translation.get_language()),
                "done_url": f"{settings.SITE_URL}{reverse('order-done', kwargs={'token': order.token})}",
                "statement_url": f"{settings.SITE_URL}{reverse('receipts-statement-request')}",
            }
            if receipt.is_cancellation:
                subject = _("Cancellation of receipt %(number)s") % {"number": receipt.cancels.display_number}
            else:
                subject = _("Your receipt %(number)s") % {"number": receipt.display_number}
            message = EmailMessage(
                subject=subject, body=render_to_string("emails/receipt.txt", context), to=[order.buyer_email]
            )
        with receipt.file.open("rb") as file:
            message.attach(f"receipt-{receipt.display_number}.pdf", file.read(), "application/pdf")
        message.send()
        receipt.emailed_at = timezone.now()
        receipt.save(update_fields=["emailed_at"])
    return True


def receipt_deliver(*, receipt_id: int) -> None:
    """Draw the PDF if it is missing, then email it if it has not gone: each step committed on
    its own, each safe to repeat (the task and the sweeper call this)."""
    receipt_draw(receipt_id=receipt_id)
    receipt_email(receipt_id=receipt_id)


def receipts_undelivered(*, older_than_seconds: int = 120, limit: int = 500) -> list[int]:
    """Receipts issued a while ago and still without their PDF, or not yet emailed to a donor
    who has an address: a worker died, or the broker was down (the sweeper)."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    undrawn = Receipt.objects.filter(issued_at__lte=cutoff, drawn_at__isnull=True)
    unsent = Receipt.objects.filter(issued_at__lte=cutoff, emailed_at__isnull=True).exclude(order__buyer_email="")
    ids = set(undrawn.values_list("id", flat=True)[:limit]) | set(unsent.values_list("id", flat=True)[:limit])
    return sorted(ids)[:limit]


# --- The donor's annual statement ---------------------------------------------------------------

STATEMENT_SALT = "receipts.statement"
# How long the emailed link to a statement works.
STATEMENT_LINK_MAX_AGE = 7 * 24 * 3600


def statement_link_make(*, email: str, year: int) -> str:
    """A signed link to the statement of an address's gifts of a year (nothing to guess)."""
    signed = signing.dumps({"email": email.strip().lower(), "year": year}, salt=STATEMENT_SALT, compress=True)
    return f"{settings.SITE_URL}{reverse('receipts-statement', kwargs={'signed': signed})}"


def statement_link_read(*, signed: str) -> tuple[str, int] | None:
    """The address and year a link was made for; None if it was not ours or is too old."""
    try:
        data = signing.loads(signed, salt=STATEMENT_SALT, max_age=STATEMENT_LINK_MAX_AGE)
        return str(data["email"]), int(data["year"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


def statement_send(*, email: str, year: int, language: str = "") -> bool:
    """Email this address the link to its statement of the year, if it gave anything that year
    (else nothing: the page answers the same either way). Returns whether a message was sent."""
    receipts = donor_receipts_of_year(email=email, year=year)
    if not receipts:
        return False
    with translation.override(language or receipts[0].language or settings.LANGUAGE_CODE):
        message = EmailMessage(
            subject=_("Your donations of %(year)s") % {"year": year},
            body=render_to_string(
                "emails/receipts_statement.txt",
                {
                    "year": year,
                    "link": statement_link_make(email=email, year=year),
                    "days": STATEMENT_LINK_MAX_AGE // 86400,
                },
            ),
            to=[receipts[0].order.buyer_email],
        )
    message.send()
    return True


def statement_draw(*, email: str, year: int, language: str) -> bytes:
    """The statement of an address's gifts of a year, as a PDF in `language`."""
    return statement_pdf(
        email=email, year=year, receipts=donor_receipts_of_year(email=email, year=year), language=language
    )
