"""Share images: drawn once per version (what they show), kept in the cache."""

import logging

from django.core.cache import cache

from . import drawing
from .selectors import ShareCard

logger = logging.getLogger(__name__)

# How long a drawn card is kept. A card that is shared is fetched by the networks within hours;
# one drawn again after this costs a few tens of milliseconds.
SHARE_IMAGE_CACHE_SECONDS = 7 * 24 * 3600


def share_image_cache_key(*, card: ShareCard) -> str:
    return f"sharing:png:{card.kind}:{card.version}"


def share_image_draw(*, card: ShareCard) -> bytes:
    """The PNG of a card (1200x630), drawn from its content alone."""
    if card.kind == "site":
        return drawing.site_card_draw()
    if card.kind in ("campaign", "scroll"):
        return drawing.progress_card_draw(**card.content)
    if card.kind in ("letter", "position"):
        return drawing.letter_card_draw(**card.content)
    raise ValueError(f"No share card of kind {card.kind!r}")


def share_image_get(*, card: ShareCard) -> bytes:
    """The card's PNG from the cache, drawn (and kept) on a miss. A cache that cannot be
    reached costs a drawing, not the image."""
    key = share_image_cache_key(card=card)
    try:
        png = cache.get(key)
    except Exception:
        logger.exception("Could not read a share image from the cache")
        png = None
    if png is not None:
        return png
    png = share_image_draw(card=card)
    try:
        cache.set(key, png, timeout=SHARE_IMAGE_CACHE_SECONDS)
    except Exception:
        logger.exception("Could not keep a share image in the cache")
    return png
