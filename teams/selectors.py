from django.db.models import Q, QuerySet

from scrolls.models import Campaign

from .models import Team


def teams_of_user(*, user, campaign: Campaign | None = None) -> QuerySet:
    """The teams a user owns or belongs to (of one campaign, if given), oldest first."""
    if not getattr(user, "is_authenticated", False):
        return Team.objects.none()
    teams = Team.objects.filter(Q(owner=user) | Q(members=user)).distinct().select_related("campaign")
    if campaign is not None:
        teams = teams.filter(campaign=campaign)
    return teams.order_by("id")


def team_public(*, slug: str, campaign: Campaign | None = None) -> Team | None:
    """A team by its address (of one campaign, if given), on the public pages: an inactive
    campaign's team too, whose page still shows what it raised."""
    teams = Team.objects.select_related("campaign").filter(slug=slug)
    if campaign is not None:
        teams = teams.filter(campaign=campaign)
    return teams.first()


def team_credited(*, campaign: Campaign, team: Team | None = None, users=()) -> Team | None:
    """The team an order of `campaign` credits: the one asked for, else the first team of this
    campaign of the first of `users` who has one (the shliach whose link brought the buyer, then
    the shliach registering the names), else none."""
    if team is not None:
        return team
    for user in users:
        found = teams_of_user(user=user, campaign=campaign).first() if user is not None else None
        if found is not None:
            return found
    return None
