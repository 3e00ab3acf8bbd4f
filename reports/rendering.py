"""A weekly report as a PDF (WeasyPrint, from the same template and charts as the page) and as CSV."""

import csv
import io

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language_bidi
from django.utils.translation import gettext as _
from weasyprint import HTML

from certificates.rendering import STATIC_ORIGIN, StaticOnlyURLFetcher, fonts_check

from .charts import report_charts
from .selectors import WeeklyReport

# The fonts static/reports/report.css asks for (Debian: fonts-noto-core, culmus).
REPORT_FONTS = ("Noto Sans", "Frank Ruehl CLM")
# The email's body lists this many teams (and leaderboard places) at most, then links to the
# page; the attached PDF, the page and the CSV list them all.
TEAMS_IN_EMAIL = 50


def weekly_report_context(report: WeeklyReport) -> dict:
    path = reverse("reports:dashboard", kwargs={"slug": report.campaign.slug})
    return {
        "report": report,
        "charts": report_charts(report),
        "generated_at": timezone.now().astimezone(report.week.zone),
        "dashboard_url": f"{settings.SITE_URL}{path}?week={report.week.ending.isoformat()}",
        "email_teams": report.teams[:TEAMS_IN_EMAIL],
        "email_teams_left_out": max(0, len(report.teams) - TEAMS_IN_EMAIL),
        "email_leaderboard": report.leaderboard[:TEAMS_IN_EMAIL],
        "email_leaderboard_left_out": max(0, len(report.leaderboard) - TEAMS_IN_EMAIL),
    }


def weekly_report_filename(report: WeeklyReport, extension: str) -> str:
    return f"unitysefer-{report.campaign.slug}-week-ending-{report.week.ending.isoformat()}.{extension}"


def weekly_report_pdf(report: WeeklyReport) -> bytes:
    """The report in the active language. WeasyPrint fetches only the project's static files and
    data: URIs (the charts), nothing from the network or the disk."""
    fonts_check(REPORT_FONTS)
    html = render_to_string("reports/report_pdf.html", {**weekly_report_context(report), "rtl": get_language_bidi()})
    return HTML(string=html, base_url=STATIC_ORIGIN + "/", url_fetcher=StaticOnlyURLFetcher()).write_pdf()


_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    """Names and cities are data: a cell that a spreadsheet would run as a formula is quoted.
    Numbers are written as they are (a negative change must stay a number)."""
    if value is None:
        return ""
    if isinstance(value, int | float) or hasattr(value, "quantize"):
        return str(value)
    text = str(value)
    return f"'{text}" if text.startswith(_FORMULA_PREFIXES) else text


def weekly_report_csv_rows(report: WeeklyReport) -> list[list]:
    """Blocks as on the page, each with its own header line, a blank line between them."""
    week = report.week
    weeks = [figures.week.ending.isoformat() for figures in report.trend]
    rows = [
        [_("Campaign"), report.campaign.slug, report.campaign.name],
        [_("Week ending"), week.ending.isoformat(), _("from %(first)s to %(last)s, %(zone)s") % {
            "first": week.first_day.isoformat(), "last": week.last_day.isoformat(), "zone": week.zone.key}],
        [_("Complete"), _("yes") if report.complete else _("no, figures so far")],
        [],
        [_("Measure"), _("This week"), _("Last week"), _("Change (%)"), _("Four-week average")]
        + [_("Week ending %(date)s") % {"date": ending} for ending in weeks],
    ]  # fmt: skip
    for row in report.comparison:
        rows.append([row.label, row.this_week, row.last_week, row.change_percent, row.average, *row.trend])
    rows += [[], [_("Channel"), _("Orders"), _("Names"), _("Orders last week"), _("Names last week")]]
    for channel in report.channels:
        rows.append([channel.label, channel.orders, channel.names, channel.orders_last_week, channel.names_last_week])
    for title, detail, ranked in (
        (_("Shliach"), _("Email"), report.top_shluchim),
        (_("City"), _("Country"), report.top_cities),
        (_("Country"), "", report.top_countries),
    ):
        rows += [[], [_("Rank"), title, detail, _("Names"), _("Orders")]]
        rows += [[rank, item.label, item.detail, item.names, item.orders] for rank, item in enumerate(ranked, 1)]
    rows += [[], [_("Team"), _("Address"), _("This week"), _("Last week"), _("Letters"), _("Goal"),
                  _("Goal (%)"), _("On the leaderboard")]]  # fmt: skip
    for row in report.teams:
        rows.append([row.label, row.team.slug, row.this_week, row.last_week, row.letters, row.goal, row.percent,
                     _("yes") if row.team.leaderboard else _("no")])  # fmt: skip
    rows += [[], [_("Rank"), _("Team"), _("Letters"), _("This week"), _("Rank at the week's start"),
                  _("Places gained")]]  # fmt: skip
    for place in report.leaderboard:
        rows.append([place.rank, place.figures.label, place.figures.letters, place.figures.this_week,
                     place.rank_before if place.rank_before is not None else _("new"),
                     place.change if place.change is not None else ""])  # fmt: skip
    rows.append([])
    if report.open_scroll:
        scroll = report.open_scroll
        rows += [
            [_("Open scroll"), scroll.number],
            [_("Letters written"), scroll.letters_allocated],
            [_("Letters remaining"), scroll.remaining],
            [_("Letters a day (four weeks)"), round(report.pace_per_day, 1)],
            [_("Projected to fill"), report.projected_fill.isoformat() if report.projected_fill else ""],
        ]
    return [[_cell(value) for value in row] for row in rows]


def weekly_report_csv(report: WeeklyReport) -> str:
    """The CSV text, starting with a byte order mark so that Excel reads Hebrew as UTF-8."""
    out = io.StringIO()
    out.write("\ufeff")
    csv.writer(out).writerows(weekly_report_csv_rows(report))
    return out.getvalue()
