"""The charts of a weekly report: SVG drawn on the server by pygal, shown as the same data: URIs
in the page and in the PDF (an <img> runs no script, and WeasyPrint draws SVG itself)."""

import base64

import pygal
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from pygal.style import Style

from .selectors import WeeklyReport

# The fonts the PDF has (fonts-noto-core, culmus); a browser falls back to its own.
FONT_FAMILY = "'Noto Sans', 'Frank Ruehl CLM', 'DejaVu Sans', sans-serif"
STYLE = Style(
    font_family=FONT_FAMILY,
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#333333",
    foreground_strong="#1c1c1c",
    foreground_subtle="#cccccc",
    guide_stroke_color="#e2e2e2",
    major_guide_stroke_color="#c8c8c8",
    guide_stroke_dasharray="0",
    major_guide_stroke_dasharray="0",
    colors=("#1d2f55", "#c8a046", "#6c8ebf", "#8a8a8a"),
    title_font_size=15,
    label_font_size=11,
    major_label_font_size=11,
    legend_font_size=12,
    value_font_size=11,
)
CONFIG = {
    "style": STYLE,
    "width": 640,
    "height": 300,
    "js": [],  # no tooltip script fetched from the network
    "disable_xml_declaration": True,
    "explicit_size": True,
    "print_values": True,
    "legend_at_bottom": True,
    "legend_at_bottom_columns": 2,
    "margin": 12,
    "value_formatter": lambda value: f"{value:,.0f}",
}


def _count_axis(values) -> list[int]:
    """Whole, round steps for an axis of counts (pygal would step an axis of 0..3 by 0.2)."""
    top = max([*values, 1])
    step, scale = 1, 1
    while top / step > 6:  # 1, 2, 5, 10, 20, 50, 100, ...
        for multiple in (1, 2, 5):
            step = multiple * scale
            if top / step <= 6:
                break
        else:
            scale *= 10
    return list(range(0, top + step, step))


def _data_uri(chart) -> str:
    svg = chart.render(is_unicode=True)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _week_label(report_week) -> str:
    return date_format(report_week.ending, "j M")


def letters_trend_chart(report: WeeklyReport) -> str:
    chart = pygal.Bar(title=_("Letters and names, by week ending"), **CONFIG)
    chart.x_labels = [_week_label(figures.week) for figures in report.trend]
    letters, names = [figures.letters for figures in report.trend], [figures.names for figures in report.trend]
    chart.y_labels = _count_axis(letters + names)
    chart.add(_("Letters written"), letters)
    chart.add(_("Names registered"), names)
    return _data_uri(chart)


def channels_chart(report: WeeklyReport) -> str:
    chart = pygal.Bar(title=_("Orders by channel"), **CONFIG)
    chart.x_labels = [str(channel.label) for channel in report.channels]
    this_week = [channel.orders for channel in report.channels]
    last_week = [channel.orders_last_week for channel in report.channels]
    chart.y_labels = _count_axis(this_week + last_week)
    chart.add(_("This week"), this_week)
    chart.add(_("Last week"), last_week)
    return _data_uri(chart)


def report_charts(report: WeeklyReport) -> dict[str, str]:
    return {"letters": letters_trend_chart(report), "channels": channels_chart(report)}
