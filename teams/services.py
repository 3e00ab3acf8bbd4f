"""Opening and changing a team. Who may: a shliach (or staff) opens teams; a team's owner and
staff change it. Its letters and pages are the fundraising app's."""

import secrets

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _

from accounts.selectors import user_is_shliach
from core.images import photo_clean
from core.validators import validate_visible_characters
from scrolls.models import Campaign

from .models import TEAM_MESSAGE_MAX_LENGTH, TEAM_NAME_MAX_LENGTH, TEAM_SLUG_MAX_LENGTH, Team, TeamKind

TEAM_FIELDS = (
    "name",
    "name_he",
    "name_en",
    "name_ru",
    "kind",
    "message",
    "goal_letters",
    "leaderboard",
    "double_entry",
)
TEAM_PHOTO_MAX_SIDE = 1200


def team_may_change(*, team: Team, user) -> bool:
    return getattr(user, "is_authenticated", False) and user.is_active and (user.is_staff or team.owner_id == user.pk)


# Addresses under /teams/ that are pages of their own, never a team's.
TEAM_SLUGS_RESERVED = frozenset({"new"})


def _slug_new(name: str) -> str:
    base = slugify(name)[: TEAM_SLUG_MAX_LENGTH - 9].strip("-") or "team"
    if base not in TEAM_SLUGS_RESERVED and not Team.objects.filter(slug=base).exists():
        return base
    return f"{base}-{secrets.token_hex(4)}"


def _fields_clean(fields: dict) -> dict:
    errors = {}
    cleaned = {}
    for field, value in fields.items():
        if field not in TEAM_FIELDS:
            raise TypeError(f"not a team field: {field}")
        if field in ("name", "name_he", "name_en", "name_ru", "message"):
            value = (value or "").strip()
            if field == "message":  # a message has lines: its line breaks are the one control character let in
                value = value.replace("\r\n", "\n").replace("\r", "\n")
            limit = TEAM_MESSAGE_MAX_LENGTH if field == "message" else TEAM_NAME_MAX_LENGTH
            if len(value) > limit:
                errors[field] = [_("At most %(limit)d characters.") % {"limit": limit}]
                continue
            try:
                validate_visible_characters(value.replace("\n", "") if field == "message" else value)
            except ValidationError as error:
                errors[field] = error.messages
                continue
        elif field == "goal_letters":
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                errors[field] = [_("The goal is a whole number of letters, at least 1.")]
                continue
            if value > settings.TEAM_GOAL_MAX_LETTERS:
                errors[field] = [
                    _("The goal can be at most %(limit)d letters.") % {"limit": settings.TEAM_GOAL_MAX_LETTERS}
                ]
                continue
        elif field == "kind" and value not in TeamKind.values:
            errors[field] = [_("Choose a kind of team.")]
            continue
        cleaned[field] = value
    if "name" in cleaned and not cleaned["name"]:
        errors["name"] = [_("Give the team a name.")]
    if errors:
        raise ValidationError(errors)
    return cleaned


def team_create(*, campaign: Campaign, owner, name: str, goal_letters: int, photo=None, **fields) -> Team:
    """Open a team for `campaign`, owned by a shliach (or staff); ValidationError naming each
    refused field, PermissionDenied for anyone else. At most TEAMS_PER_SHLIACH teams a campaign."""
    if not user_is_shliach(user=owner):
        raise PermissionDenied
    if not campaign.active:
        raise ValidationError({"campaign": [_("This campaign is not taking names now.")]})
    cleaned = _fields_clean({"name": name, "goal_letters": goal_letters, **fields})
    limit = settings.TEAMS_PER_SHLIACH
    if Team.objects.filter(campaign=campaign, owner=owner).count() >= limit:
        raise ValidationError(
            {"campaign": [_("You can open at most %(limit)d teams in one campaign.") % {"limit": limit}]}
        )
    photo_file = _photo(photo) if photo else None
    for _attempt in range(3):
        team = Team(
            campaign=campaign, owner=owner, slug=_slug_new(cleaned.get("name_en") or cleaned["name"]), **cleaned
        )
        try:
            with transaction.atomic():
                if photo_file is not None:
                    team.photo.save("photo.jpg", photo_file, save=False)
                team.save(force_insert=True)
            return team
        except IntegrityError:  # two teams took the same address at once: another one
            if photo_file is not None and team.photo:
                team.photo.delete(save=False)
            continue
    raise ValidationError({"name": [_("Please try again.")]})


def team_update(*, team: Team, by, photo=None, photo_remove: bool = False, **fields) -> Team:
    """Change a team's name, message, goal and choices (its owner or staff). Raising the goal of
    a team that reached it clears goal_reached_at: the owner is told again when it reaches the new one."""
    if not team_may_change(team=team, user=by):
        raise PermissionDenied
    cleaned = _fields_clean(fields)
    photo_file = _photo(photo) if photo else None
    old_photo = team.photo.name if (photo_file is not None or photo_remove) else ""
    with transaction.atomic():
        team = Team.objects.select_for_update().get(pk=team.pk)
        if cleaned.get("goal_letters", 0) > team.goal_letters:
            team.goal_reached_at = None  # a new goal, to be told of again
        for field, value in cleaned.items():
            setattr(team, field, value)
        if photo_file is not None:
            team.photo.save("photo.jpg", photo_file, save=False)
        elif photo_remove:
            team.photo = ""
        team.save()
    if old_photo:
        transaction.on_commit(lambda: team.photo.storage.delete(old_photo))
    return team


def team_members_set(*, team: Team, by, members) -> None:
    """The shluchim who collect for the team beside its owner: shluchim only."""
    if not team_may_change(team=team, user=by):
        raise PermissionDenied
    members = [user for user in members if user.pk != team.owner_id]
    refused = [str(user) for user in members if not user_is_shliach(user=user)]
    if refused:
        raise ValidationError({"members": [_("Not a shliach: %(users)s.") % {"users": ", ".join(refused)}]})
    team.members.set(members)


def _photo(file):
    try:
        return photo_clean(file=file, max_bytes=settings.TEAM_PHOTO_MAX_BYTES, max_side=TEAM_PHOTO_MAX_SIDE)
    except ValidationError as error:
        raise ValidationError({"photo": error.messages}) from error
