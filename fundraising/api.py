from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import user_is_shliach
from scrolls.models import Campaign
from teams.services import team_create

from .selectors import LEADERBOARD_PAGE_SIZE, teams_ranked
from .serializers import TeamCreateSerializer, TeamRankedSerializer, TeamSerializer


class TeamsPagination(PageNumberPagination):
    # A page of teams per request, whatever their number (?page=2 for the next).
    page_size = LEADERBOARD_PAGE_SIZE


class CampaignTeamsView(generics.ListAPIView):
    """A campaign's teams on its leaderboard (those that opted in), most letters first, then by
    name, 50 a page. Public. A team's name is in the request's language (Accept-Language) where it
    has one. 404 for an unknown campaign."""

    permission_classes = [AllowAny]
    authentication_classes = []  # public: no credentials are read
    serializer_class = TeamRankedSerializer
    pagination_class = TeamsPagination

    def get_queryset(self):
        campaign = get_object_or_404(Campaign, slug=self.kwargs["slug"])
        return teams_ranked(campaign=campaign)


class TeamCreateView(APIView):
    """Open a team for a campaign: a shliach's token (401 without one, 403 for anyone else who is
    not a shliach). At most TEAMS_PER_SHLIACH teams a campaign, a goal of at most
    TEAM_GOAL_MAX_LETTERS; a refusal is 400 naming the field."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=TeamCreateSerializer,
        responses={
            201: TeamSerializer,
            400: OpenApiResponse(description="A field refused: its name, with why."),
            401: OpenApiResponse(description="No token, or an unknown one."),
            403: OpenApiResponse(description="Not a shliach."),
        },
        examples=[
            OpenApiExample(
                "A shul's team",
                request_only=True,
                value={
                    "campaign": "idf",
                    "name": "Beth Chabad of the Valley",
                    "name_he": "בית חב״ד העמק",
                    "goal_letters": 250,
                    "message": "Every letter we write together protects a soldier.",
                    "kind": "institution",
                    "leaderboard": True,
                },
            )
        ],
    )
    def post(self, request):
        if not user_is_shliach(user=request.user):
            raise PermissionDenied()  # before reading the body: 403, not 400
        serializer = TeamCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        try:
            team = team_create(
                campaign=data.pop("campaign"),
                owner=request.user,
                name=data.pop("name"),
                goal_letters=data.pop("goal_letters"),
                **data,
            )
        except DjangoPermissionDenied as error:
            raise PermissionDenied(*error.args) from error
        except DjangoValidationError as error:
            raise ValidationError(error.message_dict) from error
        team.letters = 0  # a team just opened has no orders
        return Response(TeamSerializer(team).data, status=status.HTTP_201_CREATED)
