from collections import defaultdict
from decimal import Decimal

from django.core.paginator import Page, Paginator
from django.db.models import Count, Q, QuerySet, Sum

from allocation.models import Name, Order, OrderStatus
from scrolls.models import Campaign

# The shliach's dashboard lists their orders this many a page.
ORDERS_PER_PAGE = 50

REGISTER_PERMISSION = "accounts.register_names"


def user_may_register_names(*, user) -> bool:
    """Shluchim (the permission comes with the group) and staff register names in bulk."""
    return bool(user.is_authenticated and (user.is_staff or user.has_perm(REGISTER_PERMISSION)))


# --- The shliach's dashboard -----------------------------------------------------------------


def shliach_orders(*, user) -> QuerySet:
    """The orders a shliach registered and those their referral link brought."""
    return Order.objects.filter(Q(created_by=user) | Q(referred_by=user))


def shliach_orders_page(*, user, number) -> Page:
    """One page of a shliach's orders, newest first, each with `name_count`, `letter_count`
    and `certificate_count`: two queries per page, however many orders there are."""
    queryset = shliach_orders(user=user).select_related("campaign").order_by("-id")
    page = Paginator(queryset, ORDERS_PER_PAGE).get_page(number)
    orders = list(page.object_list)
    counts = {
        row["order_id"]: row
        for row in Name.objects.filter(order_id__in=[order.pk for order in orders])
        .values("order_id")
        .annotate(names=Count("id"), letters=Count("letter"), certificates=Count("certificate"))
        .order_by()
    }
    for order in orders:
        row = counts.get(order.pk, {})
        order.name_count = row.get("names", 0)
        order.letter_count = row.get("letters", 0)
        order.certificate_count = row.get("certificates", 0)
    page.object_list = orders
    return page


def shliach_campaign_totals(*, user) -> dict:
    """A shliach's numbers per campaign and in all: orders (cancelled ones left out) and how many
    are paid, names, letters allocated, certificates issued, and the amount paid per currency.
    Three aggregate queries and one for the campaigns.

    {"campaigns": [{"campaign", "orders", "paid_orders", "names", "letters", "certificates",
    "amounts": [(currency, amount), ...]}, ...], "total": {the same without "campaign"}}"""
    orders = shliach_orders(user=user).exclude(status=OrderStatus.CANCELLED)
    empty = {"orders": 0, "paid_orders": 0, "names": 0, "letters": 0, "certificates": 0}
    by_campaign = defaultdict(lambda: {**empty, "amounts": defaultdict(Decimal)})
    for row in (
        orders.values("campaign_id", "currency")
        .annotate(
            orders=Count("id"),
            paid_orders=Count("id", filter=Q(status=OrderStatus.PAID)),
            amount=Sum("amount", filter=Q(status=OrderStatus.PAID)),
        )
        .order_by()
    ):
        totals = by_campaign[row["campaign_id"]]
        totals["orders"] += row["orders"]
        totals["paid_orders"] += row["paid_orders"]
        if row["amount"]:
            totals["amounts"][row["currency"]] += row["amount"]
    for row in (
        Name.objects.filter(order__in=orders.values("id"))
        .values("order__campaign_id")
        .annotate(names=Count("id"), letters=Count("letter"), certificates=Count("certificate"))
        .order_by()
    ):
        totals = by_campaign[row["order__campaign_id"]]
        for key in ("names", "letters", "certificates"):
            totals[key] += row[key]

    campaigns = Campaign.objects.in_bulk(list(by_campaign))
    total = {**empty, "amounts": defaultdict(Decimal)}
    rows = []
    for campaign_id, totals in by_campaign.items():
        for key in empty:
            total[key] += totals[key]
        for currency, amount in totals["amounts"].items():
            total["amounts"][currency] += amount
        rows.append({"campaign": campaigns[campaign_id], **totals, "amounts": sorted(totals["amounts"].items())})
    rows.sort(key=lambda row: row["campaign"].name)
    return {"campaigns": rows, "total": {**total, "amounts": sorted(total["amounts"].items())}}
