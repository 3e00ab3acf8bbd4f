from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from scrolls.models import Campaign
from teams.models import TEAM_MESSAGE_MAX_LENGTH, TEAM_NAME_MAX_LENGTH, Team, TeamKind


def team_url(team: Team) -> str:
    return settings.SITE_URL + reverse("team-page", kwargs={"slug": team.slug})


class TeamRankedSerializer(serializers.ModelSerializer):
    """A team on its campaign's list: its name in the request's language (Accept-Language; its
    own name where it has none in that language), its goal, its letters and its page."""

    name = serializers.SerializerMethodField()
    letters = serializers.IntegerField(read_only=True, help_text=_("The letters of its paid orders."))
    url = serializers.SerializerMethodField(help_text=_("The team's public page."))

    class Meta:
        model = Team
        fields = ["slug", "name", "goal_letters", "letters", "url"]
        read_only_fields = fields

    def get_name(self, team) -> str:
        return team.display_name()

    def get_url(self, team) -> str:
        return team_url(team)


class TeamCreateSerializer(serializers.Serializer):
    """A team to open: its campaign (an active one), its name and its goal; the rest may be left out.
    The service checks the limits again (teams.services.team_create)."""

    campaign = serializers.SlugRelatedField(slug_field="slug", queryset=Campaign.objects.filter(active=True))
    name = serializers.CharField(max_length=TEAM_NAME_MAX_LENGTH)
    name_he = serializers.CharField(max_length=TEAM_NAME_MAX_LENGTH, required=False, allow_blank=True, default="")
    name_en = serializers.CharField(
        max_length=TEAM_NAME_MAX_LENGTH,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("The team's address (slug) is made from it, else from its name."),
    )
    name_ru = serializers.CharField(max_length=TEAM_NAME_MAX_LENGTH, required=False, allow_blank=True, default="")
    kind = serializers.ChoiceField(choices=TeamKind.choices, required=False, default=TeamKind.SHLIACH)
    goal_letters = serializers.IntegerField(min_value=1, help_text=_("At most TEAM_GOAL_MAX_LETTERS."))
    message = serializers.CharField(
        max_length=TEAM_MESSAGE_MAX_LENGTH, required=False, allow_blank=True, default="", trim_whitespace=False
    )
    leaderboard = serializers.BooleanField(
        required=False, default=False, help_text=_("Show the team on the campaign's leaderboard and its list of teams.")
    )
    double_entry = serializers.BooleanField(
        required=False, default=False, help_text=_("Each paper card is typed twice, by two people.")
    )


class TeamSerializer(serializers.ModelSerializer):
    """A team as its owner opened it, with its address and its page."""

    campaign = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    letters = serializers.IntegerField(read_only=True, help_text=_("The letters of its paid orders."))
    url = serializers.SerializerMethodField(help_text=_("The team's public page."))

    class Meta:
        model = Team
        fields = [
            "slug",
            "url",
            "campaign",
            "kind",
            "name",
            "name_he",
            "name_en",
            "name_ru",
            "message",
            "goal_letters",
            "letters",
            "leaderboard",
            "double_entry",
            "created_at",
        ]
        read_only_fields = fields

    def get_url(self, team) -> str:
        return team_url(team)
