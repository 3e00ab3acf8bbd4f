from django.db.models import QuerySet
from django.urls import reverse

from allocation.models import Order, OrderStatus
from scrolls.models import Campaign

from .models import Organisation, Receipt, ReceiptKind


def order_receipt(*, order: Order, kind: str = ReceiptKind.RECEIPT) -> Receipt | None:
    """The order's receipt (or, with kind=cancellation, the note cancelling it), if issued."""
    return Receipt.objects.select_related("organisation").filter(order=order, kind=kind).first()


def order_receipts_by_kind(*, order: Order) -> dict[str, Receipt]:
    """The order's receipt and the note cancelling it, those issued, by kind: one query for both."""
    return {receipt.kind: receipt for receipt in Receipt.objects.select_related("organisation").filter(order=order)}


_DOWNLOADS = {ReceiptKind.RECEIPT: "receipt-download", ReceiptKind.CANCELLATION: "receipt-cancellation-download"}


def receipt_describe(*, receipt: Receipt | None, order: Order, request=None) -> dict | None:
    """What the API and the pages say of a receipt: its number, when it was issued, and its PDF
    by the order's unguessable link. None when there is none."""
    if receipt is None:
        return None
    url = reverse(_DOWNLOADS[receipt.kind], kwargs={"token": order.token})
    return {
        "number": receipt.display_number,
        "issued_at": receipt.issued_at,
        "download_url": request.build_absolute_uri(url) if request is not None else url,
    }


def order_receipts_describe(*, order: Order, request=None) -> dict:
    """The order's receipt and cancellation note, as receipt_describe says each (None if none)."""
    found = {receipt.kind: receipt for receipt in Receipt.objects.filter(order=order)}
    return {
        "receipt": receipt_describe(receipt=found.get(ReceiptKind.RECEIPT), order=order, request=request),
        "cancellation": receipt_describe(receipt=found.get(ReceiptKind.CANCELLATION), order=order, request=request),
    }


def campaign_organisation(*, campaign_id: int) -> Organisation | None:
    """The organisation behind a campaign, which receipts its orders; None if none is."""
    return Organisation.objects.filter(campaign_links__campaign_id=campaign_id).first()


def orders_missing_receipt(*, organisation: Organisation | None = None) -> QuerySet:
    """Paid orders of campaigns that have an organisation (of this one, if given) that hold no
    receipt: paid before the campaign was given its organisation, say. Oldest payment first."""
    orders = Order.objects.filter(
        status=OrderStatus.PAID, amount__gt=0, campaign__organisation_link__isnull=False
    ).exclude(receipts__kind=ReceiptKind.RECEIPT)
    if organisation is not None:
        orders = orders.filter(campaign__organisation_link__organisation=organisation)
    return orders.order_by("paid_at", "pk")


def organisations_with_campaigns() -> QuerySet:
    return Organisation.objects.prefetch_related("campaign_links__campaign").order_by("name")


def campaigns_without_organisation() -> QuerySet:
    """Campaigns that issue no receipts: no organisation is behind them."""
    return Campaign.objects.filter(organisation_link__isnull=True).order_by("name")


def donor_receipts_of_year(*, email: str, year: int) -> list[Receipt]:
    """The receipts of a year (their organisation's calendar year) for orders bought with this
    email address, with the notes that cancelled any of them, by organisation and number."""
    return list(
        Receipt.objects.filter(kind=ReceiptKind.RECEIPT, year=year, order__buyer_email__iexact=email.strip())
        .select_related("organisation", "order__campaign", "cancellation")
        .order_by("organisation__name", "number")
    )
