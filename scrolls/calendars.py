"""The Hebrew date (pyluach) beside the civil one, in the reader's language."""

import datetime
from zoneinfo import ZoneInfo

from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop
from pyluach.dates import HebrewDate

# pyluach's English month names, with our spelling, marked for the catalogues.
HEBREW_MONTHS = {
    "Nissan": gettext_noop("Nissan"),
    "Iyar": gettext_noop("Iyar"),
    "Sivan": gettext_noop("Sivan"),
    "Tammuz": gettext_noop("Tammuz"),
    "Av": gettext_noop("Av"),
    "Elul": gettext_noop("Elul"),
    "Tishrei": gettext_noop("Tishrei"),
    "Cheshvan": gettext_noop("Cheshvan"),
    "Kislev": gettext_noop("Kislev"),
    "Teves": gettext_noop("Teves"),
    "Shevat": gettext_noop("Shevat"),
    "Adar": gettext_noop("Adar"),
    "Adar 1": gettext_noop("Adar I"),
    "Adar 2": gettext_noop("Adar II"),
}


def civil_day(value, zone: str | None = None) -> datetime.date:
    """The civil day of a date, or of a moment in `zone` (a time zone name; else the current one)."""
    if isinstance(value, datetime.datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value, ZoneInfo(zone) if zone else None)
        return value.date()
    return value


def hebrew_date(day: datetime.date, *, language: str | None = None) -> str:
    """The Hebrew date of a civil day: in Hebrew letters for Hebrew readers ("כ״א אדר א׳
    תשפ״ד"), else the day, the month's name in the reader's language and the year ("21 Adar I
    5784"). The civil day's date: the evening before, which begins it in the Hebrew calendar, is
    not told apart (a page or a certificate names the day, not the hour)."""
    hebrew = HebrewDate.from_pydate(day)
    language = language or translation.get_language() or ""
    if language.split("-")[0] == "he":
        return hebrew.hebrew_date_string()
    with translation.override(language):
        month = gettext(HEBREW_MONTHS[hebrew.month_name()])
    return f"{hebrew.day} {month} {hebrew.year}"
