from rest_framework import generics
from rest_framework.permissions import AllowAny

from .selectors import campaign_list_active
from .serializers import CampaignSerializer


class CampaignListView(generics.ListAPIView):
    """Active campaigns with the progress of their open scroll. Public."""

    permission_classes = [AllowAny]
    authentication_classes = []
    serializer_class = CampaignSerializer
    pagination_class = None

    def get_queryset(self):
        return campaign_list_active()
