import secrets

from django.conf import settings
from django.core.files.storage import storages
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from scrolls.models import Campaign

TEAM_NAME_MAX_LENGTH = 120
TEAM_MESSAGE_MAX_LENGTH = 2000
TEAM_SLUG_MAX_LENGTH = 60


def teams_storage():
    # The "teams" storage of settings.STORAGES: the team's photo, and its cards' photos (private).
    return storages["teams"]


def team_photo_path(team, filename):
    # A fresh name each upload: a cached old photo never stands in for the new one.
    return f"photos/{team.slug}-{secrets.token_hex(4)}.jpg"


class TeamKind(models.TextChoices):
    SHLIACH = "shliach", _("A shliach")
    INSTITUTION = "institution", _("An institution (a school, a shul, a yeshiva)")


class Team(models.Model):
    """Who collects names together for one campaign, under a name and toward a goal in letters.
    Its owner opened it; its members are the other shluchim collecting for it (an institution's).
    Its letters are counted from its paid orders (allocation.Order.team), never stored here."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="teams", verbose_name=_("campaign"))
    slug = models.SlugField(_("address"), max_length=TEAM_SLUG_MAX_LENGTH, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=TeamKind.choices, default=TeamKind.SHLIACH)
    name = models.CharField(_("name"), max_length=TEAM_NAME_MAX_LENGTH)
    name_he = models.CharField(_("name (Hebrew)"), max_length=TEAM_NAME_MAX_LENGTH, blank=True)
    name_en = models.CharField(_("name (English)"), max_length=TEAM_NAME_MAX_LENGTH, blank=True)
    name_ru = models.CharField(_("name (Russian)"), max_length=TEAM_NAME_MAX_LENGTH, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="teams_owned", verbose_name=_("owner")
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="teams_joined", verbose_name=_("members")
    )
    # Re-encoded by teams.services.team_photo_clean: resized, EXIF gone; in the "teams" storage.
    photo = models.ImageField(_("photo"), upload_to=team_photo_path, storage=teams_storage, blank=True)
    message = models.TextField(_("message"), max_length=TEAM_MESSAGE_MAX_LENGTH, blank=True)
    goal_letters = models.PositiveIntegerField(_("goal in letters"))
    leaderboard = models.BooleanField(
        _("on the leaderboard"),
        default=False,
        help_text=_("Show this team on the campaign's leaderboard, its widget and its reports."),
    )
    double_entry = models.BooleanField(
        _("double entry of cards"),
        default=False,
        help_text=_("Each paper card is typed twice, by two people, and saved only when both agree."),
    )
    # When the owner was told the team reached its goal; cleared when the goal is raised.
    goal_reached_at = models.DateTimeField(_("goal reached"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(goal_letters__gte=1), name="team_goal_positive"),
            models.CheckConstraint(condition=Q(slug__regex=r"^[a-z0-9][a-z0-9-]*$"), name="team_slug_plain"),
            models.CheckConstraint(condition=Q(kind__in=TeamKind.values), name="team_kind_known"),
        ]

    def __str__(self):
        return self.display_name()

    def display_name(self, language: str | None = None) -> str:
        """Its name in the language asked (the active one by default), else its own name."""
        language = (language or get_language() or "").split("-")[0]
        return {"he": self.name_he, "en": self.name_en, "ru": self.name_ru}.get(language) or self.name

    def is_member(self, user) -> bool:
        if not getattr(user, "is_authenticated", False):
            return False
        return user.pk == self.owner_id or self.members.filter(pk=user.pk).exists()
