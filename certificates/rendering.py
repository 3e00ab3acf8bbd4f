"""Certificates drawn by WeasyPrint from templates/certificates/certificate.html.

Names are data, never markup: the template escapes them, bidirectional and other invisible
control characters are removed, and every name is isolated (<bdi>) so it cannot reorder the text
around it. WeasyPrint fetches through StaticOnlyURLFetcher, which serves the project's own
static files and data: URIs and refuses everything else (file:, http:, ...).
"""

import datetime
import functools
import logging
from dataclasses import dataclass
from io import BytesIO

import segno
from django.conf import settings
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils import translation
from pyluach.dates import HebrewDate
from pypdf import PdfReader
from weasyprint import CSS, HTML

from allocation.models import DEDICATION_HEBREW, DedicationKind

# Shared with every PDF the project draws; named here too, where they were first written.
from core.rendering import (  # noqa: F401
    STATIC_ORIGIN,
    StaticOnlyURLFetcher,
    URLRefused,
    font_installed,
    isolated,
    plain_text,
)

from .pdf import PdfPageWriter, PdfSource

logger = logging.getLogger(__name__)

# The text fonts certificate.css asks for (Debian: culmus, fonts-noto-core).
TEXT_FONTS = ("Frank Ruehl CLM", "Noto Serif", "Noto Sans")
FALLBACK_STAM_FONT = "Stam Sefarad CLM"
TEMPLATE = "certificates/certificate.html"
STYLESHEET = "certificates/certificate.css"


# --- Fonts -----------------------------------------------------------------------------------


def stam_font(custom: str) -> str:
    """The STaM font of a campaign's script custom (see CERTIFICATES_STAM_FONTS)."""
    return settings.CERTIFICATES_STAM_FONTS.get(custom, FALLBACK_STAM_FONT)


def fonts_check(families) -> list[str]:
    """Log loudly each font that is missing; the certificate is still drawn, with a fallback."""
    missing = sorted(family for family in set(families) if not font_installed(family))
    for family in missing:
        logger.error(
            "Certificate font %r is not installed (Debian packages culmus and fonts-noto-core): "
            "certificates are drawn with a fallback font until it is.",
            family,
        )
    return missing


# --- What a certificate shows -------------------------------------------------------------


_GEMATRIA = [
    (400, "ת"), (300, "ש"), (200, "ר"), (100, "ק"), (90, "צ"), (80, "פ"), (70, "ע"), (60, "ס"),
    (50, "נ"), (40, "מ"), (30, "ל"), (20, "כ"), (10, "י"), (9, "ט"), (8, "ח"), (7, "ז"), (6, "ו"),
    (5, "ה"), (4, "ד"), (3, "ג"), (2, "ב"), (1, "א"),
]  # fmt: skip


def hebrew_numeral(number: int) -> str:
    """1 -> א׳, 15 -> ט״ו, 16 -> ט״ז, 123 -> קכ״ג (chapters and verses: 1..999)."""
    letters = ""
    rest = number
    for value, letter in _GEMATRIA:
        if rest in (15, 16):  # never spell a divine name: ט״ו, ט״ז
            letters += "ט" + ("ו" if rest == 15 else "ז")
            break
        while rest >= value:
            letters += letter
            rest -= value
    return f"{letters}׳" if len(letters) == 1 else f"{letters[:-1]}״{letters[-1]}"


@dataclass(frozen=True)
class CertificatePage:
    """Everything one certificate shows, as plain values for the template."""

    code: str
    display_code: str
    verify_url: str
    qr_png_uri: str
    name_he: str
    english_name: str
    deceased: bool
    # The dedication (allocation.models.DedicationKind's value) and its text, isolated.
    dedication_kind: str
    dedication_text: str
    campaign_name: str
    campaign_name_he: str
    stam_font: str
    scroll_number: int
    # None where the campaign discloses only the parsha (or no text is loaded).
    position: int | None
    total: int | None
    letter: str | None
    word: str | None
    book: str | None
    book_he: str | None
    chapter: int | None
    verse: int | None
    chapter_he: str | None
    verse_he: str | None
    parsha: str | None
    parsha_he: str | None
    parsha_only: bool
    civil_date: datetime.date
    hebrew_date_he: str

    @property
    def kind(self) -> str:
        """What the panel shows: the letter and its word, the parsha only, the position only
        (no text loaded for the scroll), or nothing."""
        if self.letter:
            return "letter"
        if self.parsha_only and self.parsha_he:
            return "parsha"
        return "position" if self.position else "none"

    @property
    def dedication_he(self) -> str:
        """The kind's customary Hebrew words; "" for none."""
        return DEDICATION_HEBREW.get(self.dedication_kind, "")

    @property
    def dedication_label(self) -> str:
        """The kind in the certificate's language (read while the page is drawn in it)."""
        if self.dedication_kind in ("", DedicationKind.NONE):
            return ""
        return str(DedicationKind(self.dedication_kind).label)

    @property
    def detail_rules(self) -> list[str]:
        """Where the rule under each line of details goes (mm), one line per detail shown."""
        lines = 2 + bool(self.position) + bool(self.verse) + bool(self.parsha)
        return [f"{8.4 * line - 0.3:.1f}" for line in range(1, lines + 1)]

    @property
    def background(self) -> tuple:
        """Certificates with the same background (all they share) are drawn over one copy."""
        return (self.kind, self.deceased, bool(self.position), bool(self.verse), bool(self.parsha))

    @property
    def name_size(self) -> str:
        """Smaller type for long names, so that every name fits its line."""
        length = len(self.name_he)
        return "" if length <= 36 else "long" if length <= 54 else "longer"

    @property
    def english_name_size(self) -> str:
        return "" if len(self.english_name) <= 64 else "long"


def qr_png_uri(url: str) -> str:
    """The QR code, one pixel a module (drawn sharp at any size, image-rendering: pixelated):
    a few hundred bytes, and far cheaper for WeasyPrint to draw than the same code as SVG."""
    # A fixed mask: scoring all eight (segno's default) costs more than the rest of the code.
    return segno.make(url, error="m", mask=0, micro=False).png_data_uri(border=0, dark="#1d2f55")


def certificate_page(*, name, letter: dict | None, campaign, code: str, display_code: str, verify_url: str,
                     day: datetime.date) -> CertificatePage:  # fmt: skip
    """The page of one name. `letter` is what allocation.selectors describes for the public
    (only the parsha where the campaign discloses no more); `day` is the day the letter was
    written, in the campaign's time zone."""
    letter = letter or {}
    hebrew_day = HebrewDate.from_pydate(day)
    english_name = isolated(" ".join(part for part in (name.english_name, name.family_name) if part))
    chapter, verse = letter.get("chapter"), letter.get("verse")
    return CertificatePage(
        code=code,
        display_code=display_code,
        verify_url=verify_url,
        qr_png_uri=qr_png_uri(verify_url),
        # "<name> ben/bas <parent>", each name isolated, so neither can move the other.
        name_he=f"{isolated(name.hebrew_name)} {name.connector} {isolated(name.parent_hebrew_name)}",
        english_name=english_name,
        deceased=name.deceased,
        dedication_kind=name.dedication_kind,
        dedication_text=isolated(name.dedication_text) if name.dedication_text else "",
        campaign_name=isolated(campaign.name),
        campaign_name_he=isolated(campaign.name_he),
        stam_font=stam_font(campaign.custom),
        scroll_number=letter.get("scroll_number"),
        position=letter.get("position"),
        total=letter.get("total"),
        letter=letter.get("letter"),
        word=letter.get("word"),
        book=letter.get("book"),
        book_he=letter.get("book_he"),
        chapter=chapter,
        verse=verse,
        chapter_he=hebrew_numeral(chapter) if chapter else None,
        verse_he=hebrew_numeral(verse) if verse else None,
        parsha=letter.get("parsha"),
        parsha_he=letter.get("parsha_he"),
        parsha_only="position" not in letter,
        civil_date=day,
        hebrew_date_he=hebrew_day.hebrew_date_string(),
    )


def certificate_language(language: str | None = None) -> str:
    """The language of the certificate's non-Hebrew side: the order's (else the site's), or
    English where that is Hebrew (the other side is Hebrew already)."""
    language = language or settings.LANGUAGE_CODE
    return "en" if language.split("-")[0] == "he" else language


@dataclass
class RenderedCertificates:
    """Certificates drawn in two layers: `pdf` has each name's own page, `background_pdf` one
    page per kind of certificate with everything they share, drawn under them."""

    pdf: bytes
    background_pdf: bytes
    # For each certificate, the index of its page in `pdf` (as a list: [index]) ...
    page_groups: list[list[int]]
    # ... and of its background in `background_pdf`.
    backgrounds: list[int]

    def write_to(self, writer: PdfPageWriter, indexes=None, *, readers=None, leaves=None) -> None:
        """Add the certificates (all, or those at `indexes`) to a PDF being written."""
        foreground_reader, background_reader = readers or self.readers()
        leaves = leaves or ({}, {})
        foreground = PdfSource(foreground_reader, leaves=leaves[0])
        background = PdfSource(background_reader, leaves=leaves[1])
        for index in range(len(self.page_groups)) if indexes is None else indexes:
            for page_index in self.page_groups[index]:
                writer.add_page(foreground, page_index, underlay=(background, self.backgrounds[index]))

    def readers(self) -> tuple[PdfReader, PdfReader]:
        return PdfReader(BytesIO(self.pdf)), PdfReader(BytesIO(self.background_pdf))

    def split(self, *, titles: list[str]) -> list[bytes]:
        """One PDF per certificate."""
        readers, leaves = self.readers(), ({}, {})
        parts = []
        for index, title in enumerate(titles):
            out = BytesIO()
            writer = PdfPageWriter(out, title=title)
            self.write_to(writer, [index], readers=readers, leaves=leaves)
            writer.close()
            parts.append(out.getvalue())
        return parts


@functools.cache
def _stylesheet() -> CSS:
    """certificate.css, read from the static files and parsed once per process."""
    with open(finders.find(STYLESHEET), encoding="utf-8") as file:
        return CSS(string=file.read(), base_url=STATIC_ORIGIN + "/", url_fetcher=StaticOnlyURLFetcher())


def _render(pages, *, layer, fetcher, language=None):
    with translation.override(certificate_language(language)):
        html = render_to_string(TEMPLATE, {"pages": pages, "layer": layer})
    return HTML(string=html, base_url=STATIC_ORIGIN + "/", url_fetcher=fetcher).render(stylesheets=[_stylesheet()])


def certificates_render(
    pages: list[CertificatePage], *, fetcher: StaticOnlyURLFetcher | None = None, language: str | None = None
) -> RenderedCertificates:
    """Draw certificates: each name's own page, and once each background they are laid over.
    `language`: the order's (accounts.selectors.order_language), for the non-Hebrew side."""
    fetcher = fetcher or StaticOnlyURLFetcher()
    fonts_check({page.stam_font for page in pages} | set(TEXT_FONTS))
    kinds = {}
    for page in pages:
        kinds.setdefault(page.background, page)
    background = _render(list(kinds.values()), layer="background", fetcher=fetcher, language=language)
    document = _render(pages, layer="foreground", fetcher=fetcher, language=language)
    if len(background.pages) != len(kinds):
        raise RuntimeError("a certificate background took more than one page")
    anchors = {f"certificate-{page.code}": index for index, page in enumerate(pages)}
    groups: list[list[int]] = [[] for _ in pages]
    current = None
    for page_index, page in enumerate(document.pages):
        for anchor in page.anchors:
            if anchor in anchors:
                current = anchors[anchor]
        if current is None:
            raise RuntimeError("a certificate page without its anchor")
        groups[current].append(page_index)
    if any(len(group) != 1 for group in groups):
        raise RuntimeError("a certificate was not drawn on exactly one page")
    return RenderedCertificates(
        pdf=document.write_pdf(),
        background_pdf=background.write_pdf(),
        page_groups=groups,
        backgrounds=[list(kinds).index(page.background) for page in pages],
    )
