"""The reports' weeks, Friday to Friday in the campaign's time zone: core.weeks, where the
shliach's dashboard reads them too (registrations may not import reports)."""

from core.weeks import FRIDAY, WEEK, Week, campaign_zone, is_week_ending, week_containing, week_last_ended

__all__ = ["FRIDAY", "WEEK", "Week", "campaign_zone", "is_week_ending", "week_containing", "week_last_ended"]
