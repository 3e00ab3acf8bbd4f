from .models import NameDraft


def name_draft_get(*, user, campaign) -> NameDraft | None:
    """The rows this user has typed into the grid of this campaign and not yet sent."""
    return NameDraft.objects.filter(created_by=user, campaign=campaign).first()
