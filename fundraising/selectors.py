"""What the teams' pages, leaderboards and API read. A team's letters are always counted from its
paid orders (allocation.selectors.teams_with_letters), in the same query as the teams."""

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from allocation.models import Name, OrderStatus
from allocation.selectors import teams_with_letters
from scrolls.models import Campaign
from teams.models import Team

# The leaderboard on the campaign's page and in its widget; the full board pages the rest.
LEADERBOARD_SIZE = 10
LEADERBOARD_PAGE_SIZE = 50
# The listed names shown on a team's page, newest first.
TEAM_RECENT_NAMES = 10


def teams_ranked(*, campaign: Campaign | None = None, campaign_slug: str = "") -> QuerySet:
    """The teams of a campaign that opted into its leaderboard, with their letters, most letters
    first, then by name: one query (each team's count is a correlated count on the orders' team
    index). Slice it: the board shows the top, the API and the full board a page at a time."""
    teams = Team.objects.filter(leaderboard=True)
    teams = teams.filter(campaign=campaign) if campaign is not None else teams.filter(campaign__slug=campaign_slug)
    return teams_with_letters(teams).order_by("-letters", "name", "id")


def team_with_letters(*, slug: str) -> Team | None:
    """A team by its address for its public page, with its campaign and its letters (an inactive
    campaign's team too: its page still shows what it raised)."""
    return teams_with_letters(Team.objects.select_related("campaign", "owner").filter(slug=slug)).first()


def team_recent_names(*, team: Team, limit: int = TEAM_RECENT_NAMES) -> list[Name]:
    """The latest names of the team's paid orders whose buyers listed them publicly, newest
    first; never an unlisted name."""
    return list(
        Name.objects.filter(order__team=team, order__status=OrderStatus.PAID, listed=True).order_by(
            "-order__paid_at", "-id"
        )[:limit]
    )


def team_editable(*, slug: str, user) -> Team | None:
    """The team at this address if `user` may change it (its owner, or staff), else None: another
    shliach's team does not exist for them."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    teams = Team.objects.select_related("campaign", "owner").filter(slug=slug)
    if not user.is_staff:
        teams = teams.filter(owner=user)
    return teams.first()


def users_by_login(*, logins: list[str]) -> tuple[list, list[str]]:
    """The active users named by username or email address (either, any case), and the logins
    that name nobody. One query, whatever the number."""
    wanted = [login.strip() for login in logins if login.strip()]
    if not wanted:
        return [], []
    match = Q()
    for login in wanted:
        match |= Q(username__iexact=login) | Q(email__iexact=login)
    users = list(get_user_model().objects.filter(match, is_active=True).order_by("id"))
    found, unknown = [], []
    for login in wanted:
        lowered = login.lower()
        user = next(
            (user for user in users if user.username.lower() == lowered or (user.email or "").lower() == lowered), None
        )
        if user is None:
            unknown.append(login)
        elif user not in found:
            found.append(user)
    return found, unknown
