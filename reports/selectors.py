"""The weekly figures of a campaign, by aggregate SQL over one week at a time (never a count
per letter in Python). A letter counts in the week it was written (Letter.allocated_at); an
order, its names and its money in the week it was paid (Order.paid_at). Refunded orders keep
their names and letters (a letter is never erased), so they count as orders and names, but their
money does not count as revenue.
"""

import datetime
import logging
import math
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import Case, Count, F, IntegerField, Max, Q, Sum, Value, When
from django.db.models.functions import Coalesce, Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.selectors import REPORTS_PERMISSION, campaigns_visible_to, users_with_permission
from allocation.models import Letter, Name, Order, OrderChannel, OrderStatus
from allocation.selectors import teams_with_letters
from core.weeks import Week, campaign_zone, week_last_ended
from scrolls.models import Campaign, Scroll
from teams.models import Team

from .models import WeeklyReportSent

logger = logging.getLogger(__name__)

TREND_WEEKS = 4
TOP = 10
# Orders whose names hold (or are about to hold) letters.
COUNTED_STATUSES = [OrderStatus.PAID, OrderStatus.REFUNDED]


@dataclass
class WeekFigures:
    week: Week
    letters: int = 0
    names: int = 0
    orders: int = 0
    revenue: dict[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class ChannelFigures:
    channel: str
    label: str
    orders: int
    names: int
    orders_last_week: int
    names_last_week: int


@dataclass(frozen=True)
class Ranked:
    """One line of a "top" table: a shliach, a city or a country."""

    label: str
    detail: str
    names: int
    orders: int


@dataclass(frozen=True)
class OpenScrollFigures:
    number: int
    total_letters: int
    letters_allocated: int  # when the week ended

    @property
    def remaining(self) -> int:
        return self.total_letters - self.letters_allocated

    @property
    def percent(self) -> float:
        return round(100 * self.letters_allocated / self.total_letters, 2)


@dataclass(frozen=True)
class ComparisonRow:
    label: str
    this_week: int | Decimal
    last_week: int | Decimal
    average: float | Decimal  # over the four weeks ending with this one
    trend: list  # the four weeks, oldest first

    @property
    def change_percent(self) -> float | None:
        if not self.last_week:
            return None
        return round(100 * (self.this_week - self.last_week) / self.last_week, 1)


@dataclass(frozen=True)
class TeamWeek:
    """One team of the campaign in the report's week. Its letters are counted as the team's page
    counts them (allocation.selectors.teams_with_letters: the names of its paid orders), in the
    week their order was paid."""

    team: Team
    label: str  # its name in the language the report is drawn in
    letters: int  # in all, at the week's end
    this_week: int
    last_week: int

    @property
    def goal(self) -> int:
        return self.team.goal_letters

    @property
    def percent(self) -> float:
        return round(100 * self.letters / self.goal, 1)

    @property
    def goal_reached(self) -> bool:
        return self.letters >= self.goal


@dataclass(frozen=True)
class LeaderboardPlace:
    """A team on the campaign's leaderboard: its rank by letters at the week's end against its
    rank at the week's start (teams with as many letters share a rank: 1, 2, 2, 4)."""

    figures: TeamWeek
    rank: int
    rank_before: int | None  # None: the team was opened during the week

    @property
    def is_new(self) -> bool:
        return self.rank_before is None

    @property
    def places_up(self) -> int:
        return max(0, (self.rank_before or self.rank) - self.rank)

    @property
    def places_down(self) -> int:
        return max(0, self.rank - (self.rank_before or self.rank))

    @property
    def change(self) -> int | None:
        """Places gained (negative: lost); None for a new team."""
        return None if self.rank_before is None else self.rank_before - self.rank


@dataclass
class WeeklyReport:
    campaign: Campaign
    week: Week
    # The four weeks ending with this one, oldest first.
    trend: list[WeekFigures]
    channels: list[ChannelFigures]
    top_shluchim: list[Ranked]
    top_cities: list[Ranked]
    top_countries: list[Ranked]
    open_scroll: OpenScrollFigures | None
    # Letters a day over the trend's four weeks (up to now for a week still running).
    pace_per_day: float
    projected_fill: datetime.date | None
    # False for the week still running: its figures are so far.
    complete: bool
    # Every team of the campaign opened before the week's end, most letters first.
    teams: list[TeamWeek] = field(default_factory=list)
    # The teams on the public leaderboard (opted in), by rank, with the week's movement.
    leaderboard: list[LeaderboardPlace] = field(default_factory=list)

    @property
    def this_week(self) -> WeekFigures:
        return self.trend[-1]

    @property
    def last_week(self) -> WeekFigures:
        return self.trend[-2]

    @property
    def currencies(self) -> list[str]:
        return sorted({currency for figures in self.trend for currency in figures.revenue})

    @property
    def comparison(self) -> list[ComparisonRow]:
        """This week against last week and the four-week trend: letters, names, orders, and
        revenue in each currency."""
        rows = []
        measures = [
            (_("Letters written"), lambda figures: figures.letters),
            (_("Names registered"), lambda figures: figures.names),
            (_("Orders"), lambda figures: figures.orders),
        ] + [
            (_("Revenue (%(currency)s)") % {"currency": currency},
             lambda figures, currency=currency: figures.revenue.get(currency, Decimal("0.00")))
            for currency in self.currencies
        ]  # fmt: skip
        for label, measure in measures:
            values = [measure(figures) for figures in self.trend]
            total = sum(values)
            average = total / len(values)
            average = average.quantize(Decimal("0.01")) if isinstance(average, Decimal) else round(average, 1)
            rows.append(ComparisonRow(label, values[-1], values[-2], average, values))
        return rows


def _week_bucket(field_name: str, weeks: list[Week]) -> Case:
    """Which of `weeks` a moment falls in (0 = the oldest), computed in SQL."""
    return Case(
        *[When(**{f"{field_name}__gte": week.start, f"{field_name}__lt": week.end}, then=Value(index))
          for index, week in enumerate(weeks)],
        output_field=IntegerField(),
    )  # fmt: skip


def _names_paid_in(campaign: Campaign, start: datetime.datetime, end: datetime.datetime):
    # No ordering: a model's default ordering would otherwise join the GROUP BY.
    return Name.objects.filter(
        order__campaign=campaign,
        order__status__in=COUNTED_STATUSES,
        order__paid_at__gte=start,
        order__paid_at__lt=end,
    ).order_by()


# The channels through which the account that registers an order is a shliach's (not a buyer
# buying online, nor staff giving an honour letter).
SHLIACH_CHANNELS = [OrderChannel.SHLIACH, OrderChannel.OFFLINE, OrderChannel.API]


def _credited_shliach():
    """The shliach an order is credited to: the one whose referral link brought it, else the
    account that registered it through one of SHLIACH_CHANNELS."""
    return Coalesce(
        "order__referred_by",
        Case(When(order__channel__in=SHLIACH_CHANNELS, then=F("order__created_by"))),
    )


def _user_label(user) -> str:
    return user.get_full_name() or user.get_username()


def weekly_report(*, campaign: Campaign, week_ending: datetime.date) -> WeeklyReport:
    """The figures of a campaign's week ending at 00:00 (local) of the Friday `week_ending`
    (see core.weeks), with the three weeks before it for comparison."""
    week = Week(ending=week_ending, zone=campaign_zone(campaign))
    weeks = [week.shifted(offset) for offset in range(1 - TREND_WEEKS, 1)]
    start, end = weeks[0].start, week.end
    trend = [WeekFigures(week=each) for each in weeks]
    scroll_ids = list(Scroll.objects.filter(campaign=campaign).values_list("id", flat=True))

    # Letters: one index range per scroll on (scroll_id, allocated_at), counted in the index
    # (so the count is of allocated_at, never null, rather than of the id the index lacks).
    letters = Letter.objects.filter(scroll_id__in=scroll_ids, allocated_at__gte=start, allocated_at__lt=end)
    counts = letters.aggregate(
        **{f"week{index}": Count("allocated_at", filter=Q(allocated_at__gte=each.start, allocated_at__lt=each.end))
           for index, each in enumerate(weeks)}
    )  # fmt: skip
    for index, figures in enumerate(trend):
        figures.letters = counts[f"week{index}"] or 0

    # Orders and revenue by week, channel and currency.
    orders_by_channel = defaultdict(lambda: [0] * TREND_WEEKS)
    order_rows = (
        Order.objects.filter(campaign=campaign, status__in=COUNTED_STATUSES, paid_at__gte=start, paid_at__lt=end)
        .order_by()
        .annotate(bucket=_week_bucket("paid_at", weeks))
        .values("bucket", "channel", "currency")
        .annotate(orders=Count("*"), revenue=Sum("amount", filter=Q(status=OrderStatus.PAID)))
    )
    for row in order_rows:
        figures = trend[row["bucket"]]
        figures.orders += row["orders"]
        orders_by_channel[row["channel"]][row["bucket"]] += row["orders"]
        if row["revenue"] is not None:
            figures.revenue[row["currency"]] = figures.revenue.get(row["currency"], Decimal("0.00")) + row["revenue"]

    # Names by week and channel.
    names_by_channel = defaultdict(lambda: [0] * TREND_WEEKS)
    name_rows = (
        _names_paid_in(campaign, start, end)
        .annotate(bucket=_week_bucket("order__paid_at", weeks))
        .values("bucket", "order__channel")
        .annotate(names=Count("*"))
    )
    for row in name_rows:
        trend[row["bucket"]].names += row["names"]
        names_by_channel[row["order__channel"]][row["bucket"]] += row["names"]

    channels = [
        ChannelFigures(
            channel=channel,
            label=label,
            orders=orders_by_channel[channel][-1],
            names=names_by_channel[channel][-1],
            orders_last_week=orders_by_channel[channel][-2],
            names_last_week=names_by_channel[channel][-2],
        )
        for channel, label in OrderChannel.choices
    ]

    this_week_names = _names_paid_in(campaign, week.start, week.end)
    top_shluchim = _top_shluchim(this_week_names)
    top_cities = [
        Ranked(label=row["spelling"], detail=row["country"], names=row["names"], orders=row["orders"])
        for row in this_week_names.exclude(city="")
        .annotate(city_key=Lower("city"))
        .values("city_key", "country")
        .annotate(spelling=Max("city"), names=Count("*"), orders=Count("order", distinct=True))
        .order_by("-names", "city_key", "country")[:TOP]
    ]
    top_countries = [
        Ranked(label=row["country"], detail="", names=row["names"], orders=row["orders"])
        for row in this_week_names.exclude(country="")
        .values("country")
        .annotate(names=Count("*"), orders=Count("order", distinct=True))
        .order_by("-names", "country")[:TOP]
    ]

    now = timezone.now()
    open_scroll = _open_scroll_at(campaign=campaign, moment=min(end, now))
    pace_days = (min(end, now) - start).total_seconds() / 86400
    pace = sum(figures.letters for figures in trend) / pace_days if pace_days > 0 else 0.0
    projected = None
    if open_scroll is not None and pace > 0:
        from_day = min(end, now).astimezone(week.zone).date()
        projected = from_day + datetime.timedelta(days=math.ceil(open_scroll.remaining / pace))

    return WeeklyReport(
        campaign=campaign,
        week=week,
        trend=trend,
        channels=channels,
        top_shluchim=top_shluchim,
        top_cities=top_cities,
        top_countries=top_countries,
        open_scroll=open_scroll,
        pace_per_day=pace,
        projected_fill=projected,
        complete=end <= now,
        **_teams_of_week(campaign=campaign, week=week),
    )


def _ranks(letters_by_team: dict[int, int]) -> dict[int, int]:
    """Competition ranks by letters, most first: teams with as many letters share a rank."""
    first_place = {}
    for place, letters in enumerate(sorted(letters_by_team.values(), reverse=True), 1):
        first_place.setdefault(letters, place)
    return {team_id: first_place[letters] for team_id, letters in letters_by_team.items()}


def _teams_of_week(*, campaign: Campaign, week: Week) -> dict:
    """The campaign's teams with their letters at the week's end, at its start and at the
    previous week's start (three queries, whatever the number of teams), and the leaderboard
    ranked at both ends of the week."""
    teams = Team.objects.filter(campaign=campaign, created_at__lt=week.end).order_by()
    at_end = list(teams_with_letters(teams, paid_before=week.end))
    at_start = dict(teams_with_letters(teams, paid_before=week.start).values_list("pk", "letters"))
    previous_start = week.shifted(-1).start
    at_previous_start = dict(teams_with_letters(teams, paid_before=previous_start).values_list("pk", "letters"))
    figures = [
        TeamWeek(
            team=team,
            label=team.display_name(),
            letters=team.letters,
            this_week=team.letters - at_start.get(team.pk, 0),
            last_week=at_start.get(team.pk, 0) - at_previous_start.get(team.pk, 0),
        )
        for team in at_end
    ]
    figures.sort(key=lambda row: (-row.letters, -row.this_week, row.label.casefold(), row.team.pk))

    on_board = [row for row in figures if row.team.leaderboard]
    rank_now = _ranks({row.team.pk: row.letters for row in on_board})
    rank_before = _ranks(
        {row.team.pk: row.letters - row.this_week for row in on_board if row.team.created_at < week.start}
    )
    leaderboard = [
        LeaderboardPlace(figures=row, rank=rank_now[row.team.pk], rank_before=rank_before.get(row.team.pk))
        for row in on_board
    ]
    return {"teams": figures, "leaderboard": leaderboard}


def _top_shluchim(names) -> list[Ranked]:
    rows = list(
        names.annotate(shliach=_credited_shliach())
        .filter(shliach__isnull=False)
        .values("shliach")
        .annotate(names=Count("*"), orders=Count("order", distinct=True))
        .order_by("-names", "shliach")[:TOP]
    )
    users = get_user_model().objects.in_bulk([row["shliach"] for row in rows])
    return [
        Ranked(label=_user_label(users[row["shliach"]]), detail=users[row["shliach"]].email,
               names=row["names"], orders=row["orders"])
        for row in rows
    ]  # fmt: skip


def _open_scroll_at(*, campaign: Campaign, moment: datetime.datetime) -> OpenScrollFigures | None:
    """The scroll that was open at `moment`, with the letters it held then."""
    scroll = (
        Scroll.objects.filter(campaign=campaign, opened_at__lte=moment)
        .filter(Q(filled_at__isnull=True) | Q(filled_at__gt=moment))
        .order_by("number")
        .first()
    )
    if scroll is None:
        return None
    # The kept count when nothing was written since; else a count in the (scroll_id,
    # allocated_at) index of the letters written before.
    if not scroll.letters.filter(allocated_at__gte=moment).exists():
        held = scroll.letters_allocated
    else:
        held = scroll.letters.filter(allocated_at__lt=moment).count()
    return OpenScrollFigures(number=scroll.number, total_letters=scroll.total_letters, letters_allocated=held)


# --- Who sees what, and who receives it --------------------------------------------------------


def report_campaigns_for(*, user):
    """The campaigns whose reports a user may read (staff: all; hanhala: their own)."""
    return campaigns_visible_to(user=user).order_by("name")


def weekly_report_recipients(*, campaign: Campaign) -> list[str]:
    """The hanhala of a campaign: the active users with the hanhala's permission whose profile
    lists it, with an address."""
    return list(
        users_with_permission(permission=REPORTS_PERMISSION)
        .filter(profile__campaigns=campaign)
        .exclude(email="")
        .order_by("email")
        .values_list("email", flat=True)
        .distinct()
    )


def weekly_reports_due(*, now: datetime.datetime | None = None) -> list[tuple[int, datetime.date]]:
    """(campaign id, week ending) of each active campaign with a hanhala whose week that has
    just ended (in the campaign's own time zone) has not been sent."""
    due = []
    campaigns = Campaign.objects.filter(active=True, hanhala_profiles__isnull=False).distinct().order_by("id")
    for campaign in campaigns:
        try:
            zone = campaign_zone(campaign)
        except (ValueError, zoneinfo.ZoneInfoNotFoundError):
            # The field refuses such a zone; one set around it must not stop the other campaigns.
            logger.error("Campaign %s has no valid time zone (%r): no weekly report", campaign.slug, campaign.time_zone)
            continue
        week = week_last_ended(zone=zone, now=now)
        if not WeeklyReportSent.objects.filter(campaign=campaign, week_ending=week.ending).exists():
            due.append((campaign.pk, week.ending))
    return due
