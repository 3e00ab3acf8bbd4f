"""A team's paper cards to print: four A6 cards to an A4 sheet, each with the campaign's fields
to fill by hand in Hebrew beside English or Russian labels, and the team's QR code to its page,
so that names collected on paper come back to the right team.

Drawn by WeasyPrint from templates/fundraising/cards.html (one sheet, laid out once, its page
repeated for more sheets), fetching only the project's static files and data: URIs
(core.rendering). The team's and the campaign's names are data: escaped by the template, their
control characters dropped and each isolated (core.rendering.isolated). The PDF is cached under
a digest of the sheet's HTML and stylesheet, so a changed name, label or template is drawn anew
and never served stale.
"""

import functools
import hashlib
import logging
from dataclasses import dataclass

import segno
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.cache import cache
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from weasyprint import CSS, HTML

from core.rendering import STATIC_ORIGIN, StaticOnlyURLFetcher, font_installed, isolated
from teams.models import Team

logger = logging.getLogger(__name__)

TEMPLATE = "fundraising/cards.html"
STYLESHEET = "fundraising/cards.css"
# The fonts cards.css asks for (Debian: culmus, fonts-noto-core).
FONTS = ("Frank Ruehl CLM", "Noto Sans")
CARDS_PER_SHEET = 4
# One request draws at most this many sheets (40 cards): more is printed by copying a sheet.
SHEETS_MAX = 10
# The languages of the labels beside the Hebrew ones; the first is the fallback.
LABEL_LANGUAGES = ("en", "ru")
CACHE_PREFIX = "team-cards:"
CACHE_SECONDS = 24 * 60 * 60


def team_page_url(team: Team) -> str:
    """The team's public page, absolute: what its QR code opens."""
    return settings.SITE_URL + reverse("team-page", args=[team.slug])


def cards_labels_language(requested: str | None, active: str | None = None) -> str:
    """The language asked for (?labels=) where it is one of LABEL_LANGUAGES; else the active
    language where it is one (Russian for a Russian page); else English. Never an error."""
    for language in (requested, active):
        language = (language or "").split("-")[0].lower()
        if language in LABEL_LANGUAGES:
            return language
    return LABEL_LANGUAGES[0]


def qr_png_uri(url: str) -> str:
    """The QR code, one pixel a module, drawn sharp at any size (image-rendering: pixelated): far
    cheaper for WeasyPrint than the same code as SVG. Black on white, for any printer's camera."""
    return segno.make(url, error="m", micro=False).png_data_uri(border=0)


@dataclass(frozen=True)
class TeamCard:
    """What every card of a team shows, as plain (isolated) text for the template."""

    campaign_name_he: str
    campaign_name: str
    team_name_he: str
    # The team's name in the labels' language, "" where it is the Hebrew one already.
    team_name: str
    page_url: str
    qr_png_uri: str
    parent_is_father: bool
    # The campaign's own label (lazy): read while the sheet is drawn in the labels' language.
    parent_name_label: str
    requires_date_of_birth: bool
    for_the_departed: bool

    @property
    def name_size(self) -> str:
        """Smaller type for a long team name, so that it fits beside the QR code."""
        length = max(len(self.team_name_he), len(self.team_name))
        return "" if length <= 34 else "long" if length <= 70 else "longer"


def team_card(*, team: Team, labels: str) -> TeamCard:
    campaign = team.campaign
    name_he = isolated(team.name_he or team.name)
    name = isolated(team.display_name(labels))
    page_url = team_page_url(team)
    return TeamCard(
        campaign_name_he=isolated(campaign.name_he),
        campaign_name=isolated(campaign.name),
        team_name_he=name_he,
        team_name="" if name == name_he else name,
        page_url=page_url,
        qr_png_uri=qr_png_uri(page_url),
        parent_is_father=campaign.parent_is_father,
        parent_name_label=campaign.parent_name_label,
        requires_date_of_birth=campaign.requires_date_of_birth,
        for_the_departed=campaign.for_the_departed,
    )


def team_cards_html(*, team: Team, labels: str) -> str:
    """One sheet of the team's cards as HTML, the labels in `labels` (cards_labels_language)."""
    labels = cards_labels_language(labels)
    card = team_card(team=team, labels=labels)
    with translation.override(labels):
        return render_to_string(TEMPLATE, {"card": card, "cards": range(CARDS_PER_SHEET), "labels": labels})


@functools.cache
def _stylesheet_text() -> str:
    with open(finders.find(STYLESHEET), encoding="utf-8") as file:
        return file.read()


@functools.cache
def _stylesheet() -> CSS:
    return CSS(string=_stylesheet_text(), base_url=STATIC_ORIGIN + "/", url_fetcher=StaticOnlyURLFetcher())


def _fonts_check():
    for family in FONTS:
        if not font_installed(family):
            logger.error("Card font %r is not installed (Debian packages culmus and fonts-noto-core)", family)


def team_cards_pdf(*, team: Team, labels: str, sheets: int = 1) -> bytes:
    """The team's cards as a PDF: `sheets` A4 pages (1..SHEETS_MAX), four A6 cards each.
    ValueError for a number of sheets out of bounds (the view says so to the person)."""
    if isinstance(sheets, bool) or not isinstance(sheets, int) or not 1 <= sheets <= SHEETS_MAX:
        raise ValueError(f"sheets must be a whole number from 1 to {SHEETS_MAX}")
    html = team_cards_html(team=team, labels=labels)
    digest = hashlib.sha256(f"{html}\x00{_stylesheet_text()}".encode()).hexdigest()
    key = f"{CACHE_PREFIX}{digest}:{sheets}"
    data = cache.get(key)
    if data is not None:
        return data
    _fonts_check()
    document = HTML(string=html, base_url=STATIC_ORIGIN + "/", url_fetcher=StaticOnlyURLFetcher()).render(
        stylesheets=[_stylesheet()]
    )
    if len(document.pages) != 1:
        raise RuntimeError(f"a sheet of cards took {len(document.pages)} pages")
    # Every sheet is the same: laid out once, its page drawn as many times as asked.
    data = document.copy(document.pages * sheets).write_pdf()
    cache.set(key, data, CACHE_SECONDS)
    return data
