from functools import cached_property

from rest_framework import serializers

from core.serializers import ModelSerializerFieldsOnce

from .models import Campaign, Scroll, ScrollState
from .selectors import campaign_open_scroll


class ActiveScrollSerializer(ModelSerializerFieldsOnce):
    letters_remaining = serializers.IntegerField(read_only=True)
    percent_allocated = serializers.FloatField(read_only=True)

    class Meta:
        model = Scroll
        fields = ["number", "total_letters", "letters_allocated", "letters_remaining", "percent_allocated"]


class CampaignSerializer(ModelSerializerFieldsOnce):
    requires_date_of_birth = serializers.BooleanField(read_only=True)
    scrolls_completed = serializers.SerializerMethodField()
    active_scroll = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = [
            "slug",
            "name",
            "name_he",
            "description",
            "description_he",
            "custom",
            "currency",
            "price",
            "allocation_mode",
            "time_zone",
            "discloses_parsha_only",
            "requires_date_of_birth",
            "boys_under_age",
            "girls_under_age",
            "for_the_departed",
            "parent_is_father",
            "scrolls_completed",
            "active_scroll",
        ]

    def get_scrolls_completed(self, campaign) -> int:
        """Scrolls whose every letter is written (full, or completed at their siyum)."""
        annotated = getattr(campaign, "scrolls_completed", None)
        if annotated is not None:
            return annotated
        return campaign.scrolls.filter(state__in=[ScrollState.FULL, ScrollState.COMPLETED]).count()

    def get_active_scroll(self, campaign) -> ActiveScrollSerializer(allow_null=True):
        scroll = campaign_open_scroll(campaign=campaign)
        return self._active_scroll_serializer.to_representation(scroll) if scroll else None

    @cached_property
    def _active_scroll_serializer(self):
        # One for every campaign of a list: building a ModelSerializer's fields is the costly part.
        return ActiveScrollSerializer()


class PositionSerializer(serializers.Serializer):
    """A position of a scroll. Only position, total, parsha and parsha_he where the campaign
    tells buyers only the parsha (for everyone but staff)."""

    position = serializers.IntegerField()
    total = serializers.IntegerField()
    letter = serializers.CharField(required=False)
    word = serializers.CharField(required=False)
    book = serializers.CharField(required=False)
    book_he = serializers.CharField(required=False)
    chapter = serializers.IntegerField(required=False)
    verse = serializers.IntegerField(required=False)
    parsha = serializers.CharField()
    parsha_he = serializers.CharField()
