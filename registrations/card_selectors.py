"""Reading the photos of paper cards: who may see a team's cards, and the team's queue."""

from django.db.models import Q

from teams.models import Team

from .models import CardPhoto, CardState

# The saved cards the queue lists, newest first (the older ones are in the team's orders).
SAVED_CARDS_SHOWN = 50


def card_may_see(*, user, team: Team) -> bool:
    """The team's owner and members, and staff: they see the team's photos and type its cards.
    Nobody else learns that a card exists (404)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return user.is_staff or team.is_member(user)


def card_may_settle(*, user, card: CardPhoto) -> bool:
    """Who settles two entries that differ: the second typist (who has just typed it), the
    team's owner and staff."""
    if not card_may_see(user=user, team=card.team):
        return False
    return user.is_staff or user.pk in (card.team.owner_id, card.second_entry_by_id)


def card_may_delete(*, user, card: CardPhoto) -> bool:
    """A card not yet saved (a blurred photo, a card sent twice) may be taken out of the queue by
    whoever uploaded it, the team's owner and staff."""
    if card.state == CardState.SAVED or not card_may_see(user=user, team=card.team):
        return False
    return user.is_staff or user.pk in (card.team.owner_id, card.uploaded_by_id)


def card_may_type(*, user, card: CardPhoto) -> bool:
    """Whether this user may type this card now: one waiting for its first entry, or for its
    second entry from someone who did not type the first."""
    if card.state == CardState.QUEUED:
        return True
    return card.state == CardState.TYPED and card.first_entry_by_id != user.pk


def _typeable_by(user) -> Q:
    return Q(state=CardState.QUEUED) | (Q(state=CardState.TYPED) & ~Q(first_entry_by=user))


def card_next(*, team: Team, user, after: int | None = None) -> CardPhoto | None:
    """The next card of the team this user may type, in the order they were uploaded (after the
    card `after`, else from the start)."""
    cards = CardPhoto.objects.filter(team=team).filter(_typeable_by(user)).order_by("id")
    if after is not None:
        return cards.filter(id__gt=after).first() or cards.exclude(id=after).first()
    return cards.first()


def team_cards(*, team: Team) -> dict:
    """The team's queue: {"waiting": cards to type (a first or a second time), "to_settle":
    cards whose two entries differ, "saved": the newest saved cards, "saved_count": all saved}."""
    cards = CardPhoto.objects.filter(team=team).select_related("uploaded_by", "first_entry_by", "second_entry_by")
    saved = cards.filter(state=CardState.SAVED).select_related("order")
    return {
        "waiting": list(cards.filter(state__in=[CardState.QUEUED, CardState.TYPED]).order_by("id")),
        "to_settle": list(cards.filter(state=CardState.MISMATCH).order_by("id")),
        "saved": list(saved.order_by("-saved_at", "-id")[:SAVED_CARDS_SHOWN]),
        "saved_count": saved.count(),
    }
