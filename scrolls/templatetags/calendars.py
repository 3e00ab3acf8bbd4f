from django import template

from ..calendars import civil_day
from ..calendars import hebrew_date as hebrew_date_format

register = template.Library()


@register.filter
def hebrew_date(value, zone=None):
    """{{ moment|hebrew_date:campaign.time_zone }}: the Hebrew date of a date, or of a moment's
    civil day in that time zone (else the current one), in the active language. Empty for None."""
    if not value:
        return ""
    return hebrew_date_format(civil_day(value, zone or None))
