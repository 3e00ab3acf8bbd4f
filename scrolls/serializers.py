from rest_framework import serializers

from .models import Campaign, Scroll
from .selectors import campaign_open_scroll


class ActiveScrollSerializer(serializers.ModelSerializer):
    letters_remaining = serializers.IntegerField(read_only=True)
    percent_allocated = serializers.FloatField(read_only=True)

    class Meta:
        model = Scroll
        fields = ["number", "total_letters", "letters_allocated", "letters_remaining", "percent_allocated"]


class CampaignSerializer(serializers.ModelSerializer):
    active_scroll = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = [
            "slug",
            "name",
            "name_he",
            "description",
            "custom",
            "currency",
            "price",
            "allocation_mode",
            "time_zone",
            "active_scroll",
        ]

    def get_active_scroll(self, campaign) -> ActiveScrollSerializer(allow_null=True):
        scroll = campaign_open_scroll(campaign=campaign)
        return ActiveScrollSerializer(scroll).data if scroll else None
