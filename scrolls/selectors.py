from django.db.models import Prefetch

from .models import Campaign, Scroll, ScrollState


def campaign_list_active():
    """Active campaigns, each with `open_scrolls` (one element) prefetched."""
    return Campaign.objects.filter(active=True).prefetch_related(
        Prefetch(
            "scrolls",
            queryset=Scroll.objects.filter(state=ScrollState.OPEN),
            to_attr="open_scrolls",
        )
    )


def campaign_open_scroll(*, campaign: Campaign) -> Scroll | None:
    prefetched = getattr(campaign, "open_scrolls", None)
    if prefetched is not None:
        return prefetched[0] if prefetched else None
    return campaign.scrolls.filter(state=ScrollState.OPEN).first()
