"""A team's public page and photo, its owner's forms, and a campaign's full leaderboard."""

import posixpath

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from accounts.selectors import user_is_shliach
from scrolls.models import Campaign
from teams.selectors import team_public
from teams.services import TEAM_FIELDS, team_create, team_may_change, team_members_set, team_update

from .forms import TeamEditForm, TeamForm
from .selectors import LEADERBOARD_PAGE_SIZE, team_editable, team_recent_names, team_with_letters, teams_ranked

# A photo's name changes with each upload, so a browser may keep one as long as it likes.
PHOTO_CACHE_SECONDS = 365 * 24 * 3600


def _form_errors_from_service(form, error: ValidationError):
    for field, field_messages in error.message_dict.items():
        form.add_error(field if field in form.fields else None, field_messages)


@login_required
def team_new(request):
    """A shliach opens a team for a campaign (`?campaign=<slug>` chooses it)."""
    if not user_is_shliach(user=request.user):
        raise PermissionDenied
    campaign = Campaign.objects.filter(slug=request.GET.get("campaign", ""), active=True).first()
    form = TeamForm(request.POST or None, request.FILES or None, initial={"campaign": campaign})
    if request.method == "POST" and form.is_valid():
        try:
            team = team_create(
                campaign=form.cleaned_data["campaign"],
                owner=request.user,
                photo=form.cleaned_data["photo"],
                **form.team_fields(),
            )
        except ValidationError as error:
            _form_errors_from_service(form, error)
        else:
            messages.success(request, _("Your team is open. Share its page: every letter bought through it counts."))
            return redirect("team-page", slug=team.slug)
    return render(request, "fundraising/team_form.html", {"form": form, "team": None})


@login_required
def team_edit(request, slug):
    """The owner (or staff) changes the team: raising its goal tells the owner again at the new one."""
    team = team_editable(slug=slug, user=request.user)
    if team is None:
        raise Http404
    initial = {
        **{field: getattr(team, field) for field in TEAM_FIELDS},
        "members": "\n".join(team.members.order_by("username").values_list("username", flat=True)),
    }
    form = TeamEditForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():  # the members and the rest together, or nothing
                team_members_set(team=team, by=request.user, members=form.cleaned_data["members"])
                team = team_update(
                    team=team,
                    by=request.user,
                    photo=form.cleaned_data["photo"],
                    photo_remove=form.cleaned_data["photo_remove"],
                    **form.team_fields(),
                )
        except ValidationError as error:
            _form_errors_from_service(form, error)
        else:
            messages.success(request, _("The team is saved."))
            return redirect("team-page", slug=team.slug)
    return render(request, "fundraising/team_form.html", {"form": form, "team": team})


def team_page(request, slug):
    """A team's public page: its name, photo, message, goal and letters, the latest listed names,
    and the buy button that credits it."""
    team = team_with_letters(slug=slug)
    if team is None:
        raise Http404
    user = request.user
    context = {
        "team": team,
        "campaign": team.campaign,
        "recent_names": team_recent_names(team=team),
        "percent": min(100, team.letters * 100 / team.goal_letters),
        "goal_reached": team.letters >= team.goal_letters,
        "may_change": team_may_change(team=team, user=user),
        "is_member": team.is_member(user) or getattr(user, "is_staff", False),
    }
    return render(request, "fundraising/team_page.html", context)


@require_GET
def team_photo(request, slug, filename):
    """The team's current photo (the "teams" storage is private): only the file its team holds
    now, by its name, so that an old or a card's photo is never served from here."""
    team = team_public(slug=slug)
    if team is None or not team.photo or posixpath.basename(team.photo.name) != filename:
        raise Http404
    try:
        file = team.photo.storage.open(team.photo.name, "rb")
    except FileNotFoundError as error:
        raise Http404 from error
    response = FileResponse(file, content_type="image/jpeg")
    response["Cache-Control"] = f"public, max-age={PHOTO_CACHE_SECONDS}, immutable"
    return response


def campaign_teams(request, slug):
    """A campaign's whole leaderboard: its teams that opted in, by letters, 50 a page."""
    campaign = get_object_or_404(Campaign, slug=slug)
    page = Paginator(teams_ranked(campaign=campaign), LEADERBOARD_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "fundraising/campaign_teams.html", {"campaign": campaign, "page": page})
