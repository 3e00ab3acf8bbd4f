"""A receipt (or cancellation note) as a PDF: WeasyPrint, from templates/receipts/receipt.html,
one part in the order's language and one in English (one part where that is English), the
Hebrew right to left. Fetches only the project's static files and data: URIs (core.rendering).
"""

import base64
import csv
import functools
import io
import logging
import mimetypes
import threading
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils import formats, timezone, translation
from django.utils.translation import get_language, get_language_bidi
from django.utils.translation import gettext as _
from num2words import CONVERTER_CLASSES, num2words
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration

from core.currencies import CURRENCIES, currency_quantize
from core.rendering import STATIC_ORIGIN, StaticOnlyURLFetcher, font_installed, isolated

logger = logging.getLogger(__name__)

TEMPLATE = "receipts/receipt.html"
STYLESHEET = "receipts/receipt.css"
# The fonts receipt.css asks for (Debian: culmus, fonts-noto-core).
FONTS = ("Frank Ruehl CLM", "Noto Serif", "Noto Sans")


# The shekel, which num2words names in Hebrew only: campaigns in Israel are paid in it.
_MORE_CURRENCY_FORMS = {
    "en": {"ILS": (("shekel", "shekels"), ("agora", "agorot"))},
    "ru": {"ILS": (("шекель", "шекеля", "шекелей"), ("агора", "агоры", "агорот"))},
}
for _language, _forms in _MORE_CURRENCY_FORMS.items():
    for _code, _names in _forms.items():
        CONVERTER_CLASSES[_language].CURRENCY_FORMS.setdefault(_code, _names)


def amount_figures(amount: Decimal, currency: str) -> str:
    """118.50 USD; a whole amount without decimals (18 USD, 1,800 JPY)."""
    figures = f"{amount:,.0f}" if amount == amount.to_integral_value() else f"{amount:,.2f}"
    return f"{figures} {currency}"


def amount_words(amount: Decimal, currency: str, language: str) -> str:
    """The amount in words in `language` (en, he, ru), with the currency's name where num2words
    knows it in that language, else the number in words and the currency's code."""
    language = language.split("-")[0]
    whole = amount == amount.to_integral_value()
    try:
        if not whole:
            return num2words(amount, lang=language, to="currency", currency=currency)
        # A marker for the separator, so that a whole amount is said without "and zero cents".
        words = num2words(amount, lang=language, to="currency", currency=currency, separator="\x00")
        return words.split("\x00")[0].strip()
    except (NotImplementedError, KeyError):
        words = num2words(int(amount), lang=language)
        cents = int((amount - int(amount)) * 100)
        return f"{words} {currency}" + ("" if whole else f" {cents:02d}/100")


def _fonts_check():
    for family in FONTS:
        if not font_installed(family):
            logger.error("Receipt font %r is not installed (Debian packages culmus and fonts-noto-core)", family)


@functools.cache
def _stylesheet() -> CSS:
    with open(finders.find(STYLESHEET), encoding="utf-8") as file:
        return CSS(string=file.read(), base_url=STATIC_ORIGIN + "/", url_fetcher=StaticOnlyURLFetcher())


_fonts_loaded = threading.local()


def _font_config() -> FontConfiguration:
    """The fonts, loaded and measured once per thread and kept: WeasyPrint otherwise makes a new
    FontConfiguration for every document and loads them again, about 40% of a receipt's time
    (bench/receipts.py). One per thread, as Pango's font map is not to be shared between threads
    (a web process's threads draw a receipt asked for before its worker did)."""
    config = getattr(_fonts_loaded, "config", None)
    if config is None:
        config = _fonts_loaded.config = FontConfiguration()
    return config


def _logo_uri(organisation) -> str:
    """The logo as a data: URI (the fetcher serves nothing from storage); "" if none or unreadable."""
    if not organisation.logo:
        return ""
    try:
        with organisation.logo.open("rb") as file:
            data = file.read()
    except OSError:
        logger.exception("Logo of %s could not be read", organisation.slug)
        return ""
    content_type = mimetypes.guess_type(organisation.logo.name)[0] or "image/png"
    return f"data:{content_type};base64,{base64.b64encode(data).decode()}"


def receipt_languages(language: str) -> list[str]:
    """The order's language, then English (once, where they are the same)."""
    language = (language or "en").split("-")[0]
    return list(dict.fromkeys([language, "en"]))


def _part(receipt, language: str, logo: str) -> str:
    organisation = receipt.organisation
    day = timezone.localtime(receipt.issued_at, ZoneInfo(organisation.time_zone)).date()
    with translation.override(language):
        context = {
            "receipt": receipt,
            "language": language,
            "rtl": get_language_bidi(),
            "logo": logo,
            "organisation": organisation,
            "organisation_name": isolated(organisation.legal_name(language)),
            "address_lines": [
                isolated(line) for line in organisation.address_in(language).splitlines() if line.strip()
            ],
            "donor": isolated(receipt.donor_name),
            "campaign_name": isolated(
                receipt.order.campaign.name_he if language == "he" else receipt.order.campaign.name
            ),
            "day": formats.date_format(day, "DATE_FORMAT"),
            "figures": amount_figures(receipt.amount, receipt.currency),
            "words": amount_words(receipt.amount, receipt.currency, language),
            "section_46_valid": organisation.section_46_valid_on(day),
            "section_46_expires": formats.date_format(organisation.section_46_expires, "DATE_FORMAT")
            if organisation.section_46_expires
            else "",
            "cancelled_day": formats.date_format(
                timezone.localtime(receipt.cancels.issued_at, ZoneInfo(organisation.time_zone)).date(), "DATE_FORMAT"
            )
            if receipt.cancels_id
            else "",
        }
        return render_to_string("receipts/receipt_part.html", context)


def receipt_pdf(receipt) -> bytes:
    """The receipt's PDF: a part per language (receipt_languages), each on its own page."""
    _fonts_check()
    logo = _logo_uri(receipt.organisation)
    parts = [_part(receipt, language, logo) for language in receipt_languages(receipt.language)]
    html = render_to_string(TEMPLATE, {"parts": parts, "receipt": receipt})
    document = HTML(string=html, base_url=STATIC_ORIGIN + "/", url_fetcher=StaticOnlyURLFetcher())
    return document.write_pdf(stylesheets=[_stylesheet()], font_config=_font_config())


def statement_pdf(*, email: str, year: int, receipts, language: str) -> bytes:
    """Every receipt of the year, by organisation, each marked if a note cancelled it, and the
    totals of what was given (cancelled gifts left out) per organisation and currency."""
    _fonts_check()
    groups: dict = {}
    for receipt in receipts:
        group = groups.setdefault(
            receipt.organisation_id, {"organisation": receipt.organisation, "rows": [], "totals": {}}
        )
        cancelled = getattr(receipt, "cancellation", None)
        group["rows"].append(
            {
                "number": receipt.display_number,
                "day": formats.date_format(
                    timezone.localtime(receipt.issued_at, ZoneInfo(receipt.organisation.time_zone)).date(),
                    "DATE_FORMAT",
                ),
                "campaign": isolated(
                    receipt.order.campaign.name_he if language == "he" else receipt.order.campaign.name
                ),
                "figures": amount_figures(receipt.amount, receipt.currency),
                "cancelled_by": cancelled.display_number if cancelled else "",
            }
        )
        if not cancelled:
            group["totals"][receipt.currency] = group["totals"].get(receipt.currency, Decimal("0")) + receipt.amount
    with translation.override(language):
        for group in groups.values():
            group["name"] = isolated(group["organisation"].legal_name(language))
            group["totals"] = [amount_figures(amount, currency) for currency, amount in sorted(group["totals"].items())]
        html = render_to_string(
            "receipts/statement.html",
            {"groups": list(groups.values()), "year": year, "email": isolated(email), "language": language,
             "rtl": get_language_bidi()},
        )  # fmt: skip
    document = HTML(string=html, base_url=STATIC_ORIGIN + "/", url_fetcher=StaticOnlyURLFetcher())
    return document.write_pdf(stylesheets=[_stylesheet()], font_config=_font_config())


# --- The treasurer's view (receipts.accounts): the same tables on the page, in CSV and in PDF ---


def _money(amount, currency: str):
    """An amount to its currency's decimals (refunds and fees are kept to three); None stays."""
    if amount is None:
        return None
    return currency_quantize(amount, currency) if currency in CURRENCIES else amount


def accounts_report_sections(report) -> list[dict]:
    """The report as titled tables (a header line and rows of values), then a note, in the
    active language: what the page, the CSV and the PDF all show."""
    not_reported = _("not reported")
    sections = [
        {
            "key": "received",
            "title": _("Payments received, by provider and currency"),
            "headers": [_("Provider"), _("Currency"), _("Payments"), _("Received"), _("Refunds"), _("Refunded"),
                        _("Disputes"), _("Disputed")],
            "rows": [
                [row["provider_label"], row["currency"], row["count"], _money(row["amount"], row["currency"]),
                 row["refunds"], _money(row["refunded"], row["currency"]), row["disputes"],
                 _money(row["disputed"], row["currency"])]
                for row in report.received
            ],
            "empty": _("No payments were received this month."),
        },
        {
            "key": "totals",
            "title": _("Totals by currency"),
            "headers": [_("Currency"), _("Payments"), _("Received"), _("Refunded"), _("Received less refunds")],
            "rows": [
                [row["currency"], row["count"], _money(row["amount"], row["currency"]),
                 _money(row["refunded"], row["currency"]), _money(row["kept"], row["currency"])]
                for row in report.totals
            ],
            "empty": _("No payments were received this month."),
        },
        {
            "key": "disputes",
            "title": _("Disputes of these payments"),
            "headers": [_("Currency"), _("Dispute status"), _("Disputes"), _("Disputed")],
            "rows": [
                [row["currency"], row["dispute_status"] or not_reported, row["count"],
                 _money(row["amount"], row["currency"])]
                for row in report.disputes
            ],
            "empty": _("No disputes."),
        },
        {
            "key": "fees",
            "title": _("Stripe's fees, in the currency of the Stripe balance"),
            "headers": [_("Balance currency"), _("Payments"), _("Fee"), _("Net")],
            "rows": [
                [row["stripe_balance_currency"], row["count"], _money(row["fee"], row["stripe_balance_currency"]),
                 _money(row["net"], row["stripe_balance_currency"])]
                for row in report.fees
            ],
            "empty": _("Stripe has reported no fee of these payments."),
            "note": _("Card payments whose fee Stripe has not reported: %(count)s.") % {"count": report.fees_not_reported}
            if report.fees_not_reported
            else "",
        },
        {
            "key": "payouts",
            "title": _("Stripe's payouts that carried these payments"),
            "headers": [_("Payout"), _("Arrival date"), _("Status"), _("Payout amount"), _("Currency"),
                        _("Payments of this month in it"), _("Their net")],
            "rows": [
                [row["payout_ref"], row["arrival_date"].isoformat() if row["arrival_date"] else not_reported,
                 row["payout_status"], _money(row["payout_amount"], row["payout_currency"]), row["payout_currency"],
                 row["count"], _money(row["net"], row["balance_currency"]) if row["net"] is not None else not_reported]
                for row in report.payouts
            ],
            "empty": _("Stripe has reported no payout of these payments."),
            "note": _("Card payments not yet reported in a payout: %(count)s.") % {"count": report.payouts_not_reported}
            if report.payouts_not_reported
            else "",
        },
    ]  # fmt: skip
    if report.flagged:
        sections[0]["note"] = _("Payments flagged for staff (counted above): %(count)s.") % {"count": report.flagged}
    return sections


def accounts_report_filename(report, extension: str) -> str:
    return f"accounts-{report.organisation.slug}-{report.month_label}.{extension}"


_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value) -> str:
    """Text is data: a cell a spreadsheet would run as a formula is quoted. Numbers are written
    as they are."""
    if value is None:
        return ""
    if isinstance(value, int | Decimal):
        return str(value)
    text = str(value)
    return f"'{text}" if text.startswith(_FORMULA_PREFIXES) else text


def accounts_report_csv(report) -> str:
    """The CSV text, starting with a byte order mark so that Excel reads Hebrew as UTF-8: the
    organisation and month, then each table with its title and header line."""
    organisation = report.organisation
    rows = [
        [_("Organisation"), organisation.slug, organisation.legal_name(get_language() or "en")],
        [_("Month"), report.month_label, _("from %(start)s to %(end)s, %(zone)s") % {
            "start": report.start.isoformat(), "end": report.end.isoformat(), "zone": organisation.time_zone}],
    ]  # fmt: skip
    for section in accounts_report_sections(report):
        rows += [[], [section["title"]], section["headers"], *section["rows"]]
        if section.get("note"):
            rows.append([section["note"]])
    out = io.StringIO()
    out.write("\ufeff")
    csv.writer(out).writerows([[_csv_cell(value) for value in row] for row in rows])
    return out.getvalue()


def accounts_report_pdf(report) -> bytes:
    """The report in the active language, right to left in Hebrew, with the receipts' fonts and
    stylesheet."""
    _fonts_check()
    language = get_language() or "en"
    html = render_to_string(
        "receipts/accounts_report_pdf.html",
        {
            "report": report,
            "sections": accounts_report_sections(report),
            "organisation_name": isolated(report.organisation.legal_name(language)),
            "language": language,
            "rtl": get_language_bidi(),
            "generated_at": f"{timezone.localtime(timezone.now(), ZoneInfo(report.organisation.time_zone)):%Y-%m-%d %H:%M}",
        },
    )
    document = HTML(string=html, base_url=STATIC_ORIGIN + "/", url_fetcher=StaticOnlyURLFetcher())
    return document.write_pdf(stylesheets=[_stylesheet()])
