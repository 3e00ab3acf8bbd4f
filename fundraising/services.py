"""Telling a team's owner that the team reached its goal: once per goal (raising the goal clears
goal_reached_at: teams.services.team_update), and never twice for one, whatever runs it twice."""

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.selectors import user_language
from allocation.models import Order
from allocation.selectors import teams_with_letters
from teams.models import Team

logger = logging.getLogger(__name__)


def team_goal_check(*, order_id: int) -> bool:
    """After an order is paid: if its team now has at least its goal in letters and was not told
    for this goal, mark the moment (goal_reached_at) and email the owner, in the owner's language;
    True if told now. The mark is a conditional UPDATE (the row lock is held until the email is
    handed to the mail server): a second run, or a second worker, finds it marked and does
    nothing; a mail server that cannot be reached undoes the mark, and the task's retry tells."""
    team_id = Order.objects.filter(pk=order_id).values_list("team_id", flat=True).first()
    if team_id is None:
        return False
    team = teams_with_letters(Team.objects.select_related("campaign", "owner").filter(pk=team_id)).first()
    if team is None or team.goal_reached_at is not None or team.letters < team.goal_letters:
        return False
    with transaction.atomic():
        marked = Team.objects.filter(pk=team.pk, goal_reached_at__isnull=True, goal_letters__lte=team.letters).update(
            goal_reached_at=timezone.now()
        )
        if not marked:  # told already, or the goal was raised meanwhile
            return False
        team.refresh_from_db(fields=["goal_letters", "goal_reached_at"])
        if team.owner.email:
            team_goal_message(team=team, letters=team.letters).send()
    logger.info("Team %s reached its goal of %s letters", team.slug, team.goal_letters)
    return True


def team_goal_message(*, team: Team, letters: int) -> EmailMultiAlternatives:
    """The email telling the owner the team reached its goal, with its page and where to raise it."""
    language = user_language(user=team.owner)
    with translation.override(language):
        context = {
            "team": team,
            "team_name": team.display_name(language),
            "campaign_name": team.campaign.name_he if language == "he" else team.campaign.name,
            "letters": letters,
            "owner": team.owner,
            "page_url": settings.SITE_URL + reverse("team-page", kwargs={"slug": team.slug}),
            "edit_url": settings.SITE_URL + reverse("team-edit", kwargs={"slug": team.slug}),
        }
        message = EmailMultiAlternatives(
            subject=_("Your team %(team)s reached its goal of %(goal)s letters")
            % {"team": context["team_name"], "goal": team.goal_letters},
            body=render_to_string("emails/team_goal_reached.txt", context),
            to=[team.owner.email],
        )
        message.attach_alternative(render_to_string("emails/team_goal_reached.html", context), "text/html")
    return message
