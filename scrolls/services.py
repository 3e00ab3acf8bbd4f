from django.db import transaction
from django.utils import timezone

from .models import Campaign, Scroll, ScrollState


def scroll_open_first(*, campaign: Campaign, total_letters: int | None = None) -> Scroll:
    """Open scroll #1 of a new campaign (or return it if the campaign already has scrolls)."""
    with transaction.atomic():
        existing = campaign.scrolls.order_by("number").first()
        if existing is not None:
            return existing
        fields = {"total_letters": total_letters} if total_letters else {}
        return Scroll.objects.create(campaign=campaign, number=1, **fields)


def scroll_mark_full_and_open_next(*, scroll: Scroll) -> Scroll:
    """Close a filled scroll and open the next one of its campaign, at once.

    The caller holds the campaign's lock (see allocation.services.order_allocate), so no other
    transaction can see the campaign without an open scroll. The next scroll is written from the
    same text as the one it follows, so it has the same number of letters.
    """
    now = timezone.now()
    scroll.state = ScrollState.FULL
    scroll.filled_at = now
    scroll.save(update_fields=["state", "filled_at"])
    return Scroll.objects.create(
        campaign_id=scroll.campaign_id,
        number=scroll.number + 1,
        total_letters=scroll.total_letters,
    )


def campaigns_seed(*, campaigns: list[dict]) -> list[Campaign]:
    """Create the campaigns that do not exist yet, each with scroll #1 open.

    Existing campaigns are left exactly as they are (staff may have edited them).
    Returns the campaigns created.
    """
    created = []
    with transaction.atomic():
        for data in campaigns:
            campaign, was_created = Campaign.objects.get_or_create(
                slug=data["slug"], defaults={k: v for k, v in data.items() if k != "slug"}
            )
            if was_created:
                scroll_open_first(campaign=campaign)
                created.append(campaign)
    return created
