import json
import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Prefetch, Q
from django.shortcuts import get_object_or_404

from .models import Campaign, Scroll, ScrollState, TextEdition, TextLetter

# Positions looked up per query: large enough that an order of 100,000 names needs few
# queries, small enough for any database's limit on query parameters.
TEXT_LOOKUP_BATCH = 5000
# What identifies a letter of the text, in the order the API shows it.
TEXT_FIELDS = ("letter", "word", "book", "book_he", "chapter", "verse", "parsha", "parsha_he")
PARSHA_FIELDS = ("parsha", "parsha_he")


def campaign_list_active():
    """Active campaigns, each with `open_scrolls` (one element) prefetched."""
    return Campaign.objects.filter(active=True).prefetch_related(
        Prefetch(
            "scrolls",
            queryset=Scroll.objects.filter(state=ScrollState.OPEN),
            to_attr="open_scrolls",
        )
    )


def campaigns_with_progress():
    """Every campaign, with `open_scrolls` prefetched and `scrolls_completed` (the scrolls
    whose every letter is written: full, or completed at their siyum) annotated."""
    return (
        Campaign.objects.annotate(
            scrolls_completed=Count("scrolls", filter=Q(scrolls__state__in=[ScrollState.FULL, ScrollState.COMPLETED]))
        )
        .prefetch_related(
            Prefetch("scrolls", queryset=Scroll.objects.filter(state=ScrollState.OPEN), to_attr="open_scrolls")
        )
        .order_by("id")
    )


# --- Progress, served from the cache ------------------------------------------------------
# The public pages, the widget and GET /api/v1/campaigns/ read progress from the cache, so a
# request counts nothing and queries nothing. Allocation refreshes it when it commits
# (scrolls.services.campaign_progress_refresh); a miss rebuilds it from the scroll rows. Each
# process keeps what it read for PROGRESS_CACHE_LOCAL_SECONDS (see settings).
PROGRESS_CACHE_KEY = "scrolls:progress:v1"
# The API's body alone, so the busiest endpoint reads and unpickles only its bytes.
PROGRESS_API_CACHE_KEY = "scrolls:progress:v1:api"
PROGRESS_CACHE_KEYS = (PROGRESS_CACHE_KEY, PROGRESS_API_CACHE_KEY)
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CampaignsProgress:
    # The body of GET /api/v1/campaigns/, rendered once per refresh rather than per request.
    api_json: bytes
    # Every campaign, active or not, as the API describes it, by slug.
    by_slug: dict[str, dict]

    @property
    def active(self) -> list[dict]:
        return [campaign for campaign in self.by_slug.values() if campaign["active"]]


def campaigns_progress_build() -> CampaignsProgress:
    """Progress as it is in the database now (two queries, whatever the number of letters:
    Scroll.letters_allocated is kept by the allocating transaction). Every allocation runs
    this once it commits, so it serializes once: the API's body is the active campaigns of
    the same plain JSON values the pages read."""
    from rest_framework.renderers import JSONRenderer

    from .serializers import CampaignSerializer  # the serializers read this module

    campaigns = list(campaigns_with_progress())
    renderer = JSONRenderer()
    # Plain JSON values (no Decimal, no ReturnDict) for the pages, as the API gives them.
    described = json.loads(renderer.render(CampaignSerializer(campaigns, many=True).data))
    api_json = renderer.render([data for campaign, data in zip(campaigns, described) if campaign.active])
    for campaign, data in zip(campaigns, described):
        data["active"] = campaign.active
    return CampaignsProgress(api_json=api_json, by_slug={data["slug"]: data for data in described})


def campaigns_progress() -> CampaignsProgress:
    """Progress of every campaign, from the cache; built (and cached) on a miss."""
    return _progress_cached(PROGRESS_CACHE_KEY) or _progress_rebuilt()


def campaigns_progress_api_json() -> bytes:
    """The body of GET /api/v1/campaigns/, from the cache; built (and cached) on a miss."""
    return _progress_cached(PROGRESS_API_CACHE_KEY) or _progress_rebuilt().api_json


# This process's copy of what it last read from the cache: {key: (good until, value)}.
_local_copies = {}


def progress_local_forget() -> None:
    """Drop this process's copy of the cached progress (it has just changed)."""
    _local_copies.clear()


def _progress_cached(key):
    keep = settings.PROGRESS_CACHE_LOCAL_SECONDS
    if keep > 0:
        held = _local_copies.get(key)
        if held is not None and held[0] > time.monotonic():
            return held[1]
    try:
        value = cache.get(key)
    except Exception:  # Redis unreachable: the pages still answer, from the database
        logger.exception("Could not read the cached progress")
        return None
    if value is not None and keep > 0:
        _local_copies[key] = (time.monotonic() + keep, value)
    return value


def _progress_rebuilt() -> CampaignsProgress:
    """`add`, not `set`: a refresh that ran meanwhile holds newer figures than this read, and wins."""
    progress = campaigns_progress_build()
    try:
        cache.add(PROGRESS_CACHE_KEY, progress, timeout=None)
        cache.add(PROGRESS_API_CACHE_KEY, progress.api_json, timeout=None)
    except Exception:
        logger.exception("Could not cache the progress")
    return progress


def campaign_open_scroll(*, campaign: Campaign) -> Scroll | None:
    prefetched = getattr(campaign, "open_scrolls", None)
    if prefetched is not None:
        return prefetched[0] if prefetched else None
    return campaign.scrolls.filter(state=ScrollState.OPEN).first()


def text_edition_default() -> TextEdition | None:
    return TextEdition.objects.filter(is_default=True).first()


def viewer_sees_exact_letter(*, campaign: Campaign, viewer) -> bool:
    """A campaign that discloses only the parsha hides the exact letter from all but staff."""
    return not campaign.discloses_parsha_only or bool(getattr(viewer, "is_staff", False))


def text_letters_at(*, wanted: Iterable[tuple[int, int]]) -> dict[tuple[int, int], TextLetter]:
    """The letters of the text at (edition id, position) pairs, in a few batched queries."""
    positions_by_edition = defaultdict(set)
    for edition_id, position in wanted:
        positions_by_edition[edition_id].add(position)
    found = {}
    for edition_id, positions in positions_by_edition.items():
        ordered = sorted(positions)
        for start in range(0, len(ordered), TEXT_LOOKUP_BATCH):
            batch = ordered[start : start + TEXT_LOOKUP_BATCH]
            for text_letter in TextLetter.objects.filter(edition_id=edition_id, position__in=batch):
                found[(edition_id, text_letter.position)] = text_letter
    return found


def letter_identity(*, text_letter: TextLetter | None, exact: bool) -> dict:
    """The letter, word, verse and parsha of a position, or only its parsha when the exact
    letter is not disclosed. Values are None where no text is loaded for the scroll."""
    fields = TEXT_FIELDS if exact else PARSHA_FIELDS
    return {field: getattr(text_letter, field) if text_letter else None for field in fields}


def scroll_position_describe(*, campaign_slug: str, scroll_number: int, position: int, viewer) -> dict | None:
    """What is written at a position of a scroll, or None when there is no such position (or
    no text is loaded for the scroll). Never says who holds it."""
    scroll = (
        Scroll.objects.select_related("campaign").filter(campaign__slug=campaign_slug, number=scroll_number).first()
    )
    if scroll is None or scroll.edition_id is None or not 1 <= position <= scroll.total_letters:
        return None
    text_letter = TextLetter.objects.filter(edition_id=scroll.edition_id, position=position).first()
    if text_letter is None:
        return None
    exact = viewer_sees_exact_letter(campaign=scroll.campaign, viewer=viewer)
    return {
        "position": position,
        "total": scroll.total_letters,
        **letter_identity(text_letter=text_letter, exact=exact),
    }


def campaign_public(*, slug: str) -> tuple[Campaign, list[Scroll]]:
    """A campaign and its scrolls, past and present, newest first, each with its siyum (the
    siyum app's, read through its relation: scrolls imports nothing of it)."""
    campaign = get_object_or_404(Campaign, slug=slug)
    scrolls = list(campaign.scrolls.select_related("siyum").order_by("-number"))
    return campaign, scrolls


def scroll_public(*, slug: str, number: int) -> Scroll:
    """One scroll of a campaign, with its siyum. The names written in it are
    `letters_allocated`, kept by allocation, so nothing is counted."""
    return get_object_or_404(
        Scroll.objects.select_related("campaign", "siyum", "edition"), campaign__slug=slug, number=number
    )
