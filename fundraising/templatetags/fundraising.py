"""The teams' tags: a campaign's leaderboard ({% team_leaderboard campaign %}, on its page and in its
widget) and a team photo's address ({% team_photo_url team %})."""

import posixpath

from django import template
from django.conf import settings
from django.urls import reverse

from ..selectors import LEADERBOARD_SIZE, teams_ranked

register = template.Library()


def _percent(letters: int, goal: int) -> float:
    return min(100.0, letters * 100 / goal) if goal else 0.0


def teams_with_rank(teams) -> list[dict]:
    """Teams already in order (most letters first, then by name), with their place and their bar."""
    return [
        {
            "team": team,
            "rank": position,
            "percent": _percent(team.letters, team.goal_letters),
            "goal_reached": team.letters >= team.goal_letters,
        }
        for position, team in enumerate(teams, start=1)
    ]


@register.inclusion_tag("fundraising/_leaderboard.html", takes_context=True)
def team_leaderboard(context, campaign, absolute=False, size=LEADERBOARD_SIZE):
    """The campaign's teams that opted into its leaderboard: the first `size` by letters, each
    linked to its page (absolute addresses in the widget, which lives on other sites), with a link
    to the whole board when there are more. One query. `campaign`: a Campaign or the widget's
    cached campaign (a dict)."""
    slug = campaign["slug"] if isinstance(campaign, dict) else campaign.slug
    teams = list(teams_ranked(campaign_slug=slug)[: size + 1])
    prefix = settings.SITE_URL if absolute else ""
    entries = teams_with_rank(teams[:size])
    for entry in entries:
        entry["url"] = prefix + reverse("team-page", kwargs={"slug": entry["team"].slug})
    return {
        "entries": entries,
        "more_url": prefix + reverse("campaign-teams", kwargs={"slug": slug}) if len(teams) > size else "",
        "absolute": absolute,
        "campaign_slug": slug,
        "LANGUAGE_CODE": context.get("LANGUAGE_CODE"),
    }


@register.simple_tag
def team_photo_url(team) -> str:
    """Where the team's current photo is served ("" without one): its file's own name, which
    changes with each upload, so it may be cached for long."""
    if team is None or not team.photo:
        return ""
    return reverse("team-photo", kwargs={"slug": team.slug, "filename": posixpath.basename(team.photo.name)})
