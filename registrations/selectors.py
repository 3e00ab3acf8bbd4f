import operator
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from functools import reduce
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from allocation.models import Name, Order, OrderStatus
from allocation.selectors import teams_with_letters
from core.weeks import campaign_zone, week_containing
from scrolls.models import Campaign
from teams.models import Team
from teams.selectors import teams_of_user

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


# --- The shliach's teams on the dashboard ----------------------------------------------------


@dataclass(frozen=True)
class TeamNumbers:
    """A team's numbers against its goal, as its page counts them (the names of its paid orders)."""

    team: Team
    letters: int
    this_week: int  # paid since the start of its campaign's running week (Friday, its time zone)

    @property
    def percent(self) -> float:
        return round(100 * self.letters / self.team.goal_letters, 1)

    @property
    def bar_percent(self) -> float:
        return min(100.0, self.percent)

    @property
    def goal_reached(self) -> bool:
        return self.letters >= self.team.goal_letters


def _campaign_zone_or_default(campaign: Campaign) -> ZoneInfo:
    # The field refuses an unknown zone; one set around it (SQL) must not break the dashboard.
    try:
        return campaign_zone(campaign)
    except (ValueError, ZoneInfoNotFoundError):
        return ZoneInfo(settings.TIME_ZONE)


def shliach_teams(*, user) -> list[TeamNumbers]:
    """The teams a shliach owns or belongs to, oldest first, with their letters in all and this
    week (Friday to Friday in each campaign's time zone, as the weekly reports count weeks).
    Two queries, whatever the number of teams."""
    teams = list(teams_with_letters(teams_of_user(user=user)))
    if not teams:
        return []
    now = timezone.now()
    week_starts = {
        team.campaign_id: week_containing(now, zone=_campaign_zone_or_default(team.campaign)).start for team in teams
    }
    since_week_start = reduce(
        operator.or_,
        (Q(order__campaign_id=campaign_id, order__paid_at__gte=start) for campaign_id, start in week_starts.items()),
    )
    # Counted as allocation.selectors.teams_with_letters counts: the names of paid orders.
    this_week = dict(
        Name.objects.filter(order__team__in=[team.pk for team in teams], order__status=OrderStatus.PAID)
        .filter(since_week_start)
        .order_by()
        .values("order__team")
        .annotate(count=Count("pk"))
        .values_list("order__team", "count")
    )
    return [TeamNumbers(team=team, letters=team.letters, this_week=this_week.get(team.pk, 0)) for team in teams]
