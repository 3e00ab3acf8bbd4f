"""A receipt (or cancellation note) as a PDF: WeasyPrint, from templates/receipts/receipt.html,
one part in the order's language and one in English (one part where that is English), the
Hebrew right to left. Fetches only the project's static files and data: URIs (core.rendering).
"""

import base64
import functools
import logging
import mimetypes
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils import formats, timezone, translation
from django.utils.translation import get_language_bidi
from num2words import CONVERTER_CLASSES, num2words
from weasyprint import CSS, HTML

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
    return document.write_pdf(stylesheets=[_stylesheet()])


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
    return document.write_pdf(stylesheets=[_stylesheet()])
