from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from .selectors import campaigns_progress_api_json, scroll_position_describe
from .serializers import CampaignSerializer, PositionSerializer


class CampaignListView(APIView):
    """Active campaigns with the progress of their open scroll. Public.

    Served from the progress cache as it was rendered at the last refresh: no database query
    and no serializing per request (see scrolls.selectors.campaigns_progress)."""

    permission_classes = [AllowAny]
    authentication_classes = []

    def dispatch(self, request, *args, **kwargs):
        # The busiest public endpoint: a GET skips DRF's request wrapping, negotiation and checks,
        # every one of which is a no-op here (public, no credentials read, JSON only), and which
        # would otherwise cost about as much as reading the cache.
        if request.method == "GET":
            return self.get(request)
        return super().dispatch(request, *args, **kwargs)

    @extend_schema(responses={200: CampaignSerializer(many=True)})
    def get(self, request):
        return HttpResponse(campaigns_progress_api_json(), content_type="application/json")


class ScrollPositionView(APIView):
    """The letter written at a position of a scroll: letter, word, verse and parsha. Public;
    never says who holds it. Campaigns that tell buyers only the parsha answer only the parsha
    (staff see everything). 404 outside 1..total, or while no text is loaded for the scroll."""

    # Public, but authenticated when credentials are given, so staff can be recognised.
    permission_classes = [AllowAny]

    @extend_schema(responses={200: PositionSerializer})
    def get(self, request, slug, number, position):
        described = scroll_position_describe(
            campaign_slug=slug, scroll_number=number, position=position, viewer=request.user
        )
        if described is None:
            raise NotFound()
        return Response(described)
