"""The share images: PNG cards of 1200x630 drawn with Pillow.

Hebrew is laid out by Pillow's raqm layout (FriBiDi for the direction, HarfBuzz for the shaping),
which Pillow's wheels carry: text is drawn with direction="rtl" and language="he", so a name comes
out right to left with its final letters and marks shaped. Without raqm Pillow would draw the
letters left to right, unshaped: drawing refuses rather than publish a mirrored name.

Fonts (Debian: culmus, fonts-noto-core) are found through fontconfig, as WeasyPrint finds them.
"""

import functools
import io

from django.conf import settings
from PIL import Image, ImageDraw, ImageFont, features

from core import rendering as core_rendering

WIDTH, HEIGHT = 1200, 630
MARGIN = 80
BACKGROUND = "#fbf7ee"
INK = "#1f2a44"
MUTED = "#5b6478"
GOLD = "#b08d3c"
BAR_EMPTY = "#e6dfcc"

HEBREW_FONT = ("Frank Ruehl CLM", "Bold")
LATIN_FONT = ("Noto Sans", "Regular")
LATIN_BOLD_FONT = ("Noto Sans", "Bold")
FALLBACK_STAM_FONT = "Stam Sefarad CLM"
SITE_NAME_HE = "ספר תורה הכללי"
SITE_NAME = "UnitySefer"


class SharingUnavailable(RuntimeError):
    """Pillow cannot lay out Hebrew here (no raqm), or a font is missing."""


def font_file(family: str, style: str = "") -> str:
    """The file of an installed font family (and style); refuses fontconfig's silent substitute
    of another family."""
    path = core_rendering.font_file(family, style)
    if path is None:
        raise SharingUnavailable(f"Font {family!r} is not installed (Debian: culmus, fonts-noto-core)")
    return path


@functools.cache
def _font(family: str, style: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(font_file(family, style), size, layout_engine=ImageFont.Layout.RAQM)


def stam_family(custom: str) -> str:
    """The STaM font of a campaign's script custom, the certificates' own (CERTIFICATES_STAM_FONTS)."""
    return settings.CERTIFICATES_STAM_FONTS.get(custom, FALLBACK_STAM_FONT)


def _require_layout():
    if not features.check("raqm"):
        raise SharingUnavailable("Pillow has no raqm layout here: Hebrew would be drawn left to right")


def _hebrew(draw, xy, text, *, size, fill=INK, anchor="mm", family=HEBREW_FONT, max_width=WIDTH - 2 * MARGIN):
    """Hebrew, right to left and shaped, shrunk until it fits max_width."""
    while True:
        font = _font(*family, size)
        box = draw.textbbox(xy, text, font=font, anchor=anchor, direction="rtl", language="he")
        if box[2] - box[0] <= max_width or size <= 24:
            break
        size -= 4
    draw.text(xy, text, font=font, fill=fill, anchor=anchor, direction="rtl", language="he")


def _latin(draw, xy, text, *, size, fill=MUTED, anchor="mm", bold=False, max_width=WIDTH - 2 * MARGIN):
    family = LATIN_BOLD_FONT if bold else LATIN_FONT
    while True:
        font = _font(*family, size)
        box = draw.textbbox(xy, text, font=font, anchor=anchor, direction="ltr")
        if box[2] - box[0] <= max_width or size <= 18:
            break
        size -= 2
    draw.text(xy, text, font=font, fill=fill, anchor=anchor, direction="ltr")


def _canvas():
    _require_layout()
    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 20, WIDTH - 21, HEIGHT - 21), outline=GOLD, width=4)
    # The site, Hebrew at the right and Latin at the left, as a Hebrew page reads.
    _hebrew(draw, (WIDTH - MARGIN, 70), SITE_NAME_HE, size=34, fill=GOLD, anchor="rm", max_width=500)
    _latin(draw, (MARGIN, 70), SITE_NAME, size=30, fill=GOLD, anchor="lm", bold=True, max_width=400)
    return image, draw


def _png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _progress_bar(draw, *, top: int, percent: int):
    """The bar fills from the right, as the scroll is read."""
    left, right, height = MARGIN + 40, WIDTH - MARGIN - 40, 36
    draw.rounded_rectangle((left, top, right, top + height), radius=18, fill=BAR_EMPTY)
    if percent > 0:
        filled = max(int((right - left) * min(percent, 100) / 100), height)
        draw.rounded_rectangle((right - filled, top, right, top + height), radius=18, fill=GOLD)


def site_card_draw() -> bytes:
    """The home page's card: the site's names."""
    image, draw = _canvas()
    _hebrew(draw, (WIDTH // 2, 290), SITE_NAME_HE, size=120)
    _latin(draw, (WIDTH // 2, 430), SITE_NAME, size=56, fill=MUTED, bold=True)
    return _png(image)


def progress_card_draw(*, name_he: str, name: str, percent: int | None, scroll_number: int | None) -> bytes:
    """A campaign's (or one of its scrolls') card: its Hebrew name, its English name and the
    scroll's progress as a bar and a whole percentage (figures only: no words to translate; a
    whole percentage, so the card changes a hundred times a scroll, not at every letter)."""
    image, draw = _canvas()
    _hebrew(draw, (WIDTH // 2, 215), name_he, size=96)
    _latin(draw, (WIDTH // 2, 320), name, size=40)
    if percent is not None:
        _progress_bar(draw, top=400, percent=percent)
        figures = f"{percent}%" if scroll_number is None else f"#{scroll_number}  ·  {percent}%"
        _latin(draw, (WIDTH // 2, 510), figures, size=48, fill=INK, bold=True)
    return _png(image)


def letter_card_draw(*, letter: str, custom: str, name_he: str, lines_he: list[str], figures: str) -> bytes:
    """A letter's card: the letter drawn large in its campaign's STaM font at the left, the
    campaign's Hebrew name, the word and parsha (the Hebrew lines) and its position at the right.
    With no letter (a campaign that discloses only the parsha) the first Hebrew line is drawn large."""
    image, draw = _canvas()
    if letter:
        draw.rounded_rectangle((MARGIN, 130, MARGIN + 380, 560), radius=24, fill="#ffffff", outline=GOLD, width=3)
        _hebrew(draw, (MARGIN + 190, 330), letter, size=300, family=(stam_family(custom), ""), max_width=340)
        column, width = (MARGIN + 420 + WIDTH - MARGIN) // 2, WIDTH - 2 * MARGIN - 440
    else:
        column, width = WIDTH // 2, WIDTH - 2 * MARGIN
    _hebrew(draw, (column, 200), name_he, size=64, max_width=width)
    top = 300
    for line in lines_he:
        _hebrew(draw, (column, top), line, size=52, fill=INK, max_width=width)
        top += 80
    _latin(draw, (column, max(top + 20, 480)), figures, size=40, fill=INK, bold=True, max_width=width)
    return _png(image)
