"""Weeks as the campaigns count them: Friday to Friday, in the campaign's time zone.

A week is named by the Friday it ends on, and it ends at the *start* of that Friday (00:00 local):
"the week ending 2025-01-10" runs from Friday 3 January 00:00 to Friday 10 January 00:00, so its
last day is Thursday 9 January. The report of a week can thus be sent on its Friday morning,
before Shabbos, and "this Friday against last Friday" compares two whole weeks. Seven local days
are 167 or 169 hours across a change of daylight saving time.
"""

import datetime
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.utils import timezone

FRIDAY = 4  # date.weekday()
WEEK = datetime.timedelta(days=7)


def campaign_zone(campaign) -> ZoneInfo:
    return ZoneInfo(campaign.time_zone)


def is_week_ending(day: datetime.date) -> bool:
    return day.weekday() == FRIDAY


@dataclass(frozen=True)
class Week:
    ending: datetime.date  # a Friday: the week ends as it begins
    zone: ZoneInfo

    def __post_init__(self):
        if not is_week_ending(self.ending):
            raise ValueError(f"a week ends on a Friday, not on {self.ending:%A %Y-%m-%d}")

    @property
    def first_day(self) -> datetime.date:
        return self.ending - WEEK

    @property
    def last_day(self) -> datetime.date:
        return self.ending - datetime.timedelta(days=1)

    @property
    def start(self) -> datetime.datetime:
        return _local_midnight(self.first_day, self.zone)

    @property
    def end(self) -> datetime.datetime:
        return _local_midnight(self.ending, self.zone)

    def shifted(self, weeks: int) -> "Week":
        return Week(ending=self.ending + weeks * WEEK, zone=self.zone)

    def contains(self, moment: datetime.datetime) -> bool:
        return self.start <= moment < self.end


def _local_midnight(day: datetime.date, zone: ZoneInfo) -> datetime.datetime:
    """00:00 of a local day, in UTC. Where a zone's clocks jump past midnight, zoneinfo's
    reading (fold=0) gives the first moment the day has (01:00), which is what a week wants.
    Midnight repeated by a change back to winter time: the first of the two."""
    return datetime.datetime.combine(day, datetime.time(0), tzinfo=zone).astimezone(datetime.UTC)


def week_containing(moment: datetime.datetime, *, zone: ZoneInfo) -> Week:
    local_day = moment.astimezone(zone).date()
    return Week(ending=local_day + datetime.timedelta(days=(FRIDAY - local_day.weekday()) % 7 or 7), zone=zone)


def week_last_ended(*, zone: ZoneInfo, now: datetime.datetime | None = None) -> Week:
    """The most recent week whose end (a Friday at 00:00 local) has passed."""
    return week_containing(now or timezone.now(), zone=zone).shifted(-1)
