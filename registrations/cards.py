"""The photos of paper cards: a team's queue and its upload, a card's photo (private to the team
and staff), the card typed beside its photo in the grid's rows, and two entries settled."""

import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from allocation.forms import ConsentForm
from allocation.models import DEDICATION_TEXT_MAX_LENGTH, DedicationKind
from allocation.services import Consent
from teams.models import Team

from .card_selectors import card_may_delete, card_may_see, card_may_settle, card_may_type, card_next, team_cards
from .card_services import (
    CARD_MAX_ROWS,
    card_delete,
    card_entry_differences,
    card_entry_settle,
    card_entry_submit,
    card_photos_upload,
)
from .grid_services import GRID_MAX_VALUE_LENGTH
from .models import CardPhoto, CardState

# How long a browser may keep a card's photo; shared caches never (Cache-Control: private).
CARD_PHOTO_BROWSER_SECONDS = 3600


def _team_for(request, team_slug) -> Team:
    # Another team's cards do not exist for this user: 404, as for anyone else's object.
    team = get_object_or_404(Team.objects.select_related("campaign", "owner"), slug=team_slug)
    if not card_may_see(user=request.user, team=team):
        raise Http404
    return team


def _card_for(request, pk) -> CardPhoto:
    card = get_object_or_404(CardPhoto.objects.select_related("team__campaign", "team__owner"), pk=pk)
    if not card_may_see(user=request.user, team=card.team):
        raise Http404
    return card


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def card_photos(request, team_slug):
    """The team's queue of cards, and the upload of more (several files, or the phone's camera)."""
    team = _team_for(request, team_slug)
    errors = []
    if request.method == "POST":
        files = request.FILES.getlist("photos") + request.FILES.getlist("camera")
        try:
            cards = card_photos_upload(team=team, user=request.user, files=files)
        except ValidationError as error:
            errors = error.messages
        else:
            messages.success(
                request,
                ngettext("%(count)d photo of a card is queued.", "%(count)d photos of cards are queued.", len(cards))
                % {"count": len(cards)},
            )
            return redirect("registrations:card-photos", team_slug=team.slug)
    context = {
        "team": team,
        "cards": team_cards(team=team),
        "next_card": card_next(team=team, user=request.user),
        "errors": errors,
        "per_upload": settings.CARD_PHOTOS_PER_UPLOAD,
        "max_megabytes": f"{settings.CARD_PHOTO_MAX_BYTES / 1_000_000:g}",
        "kept_days": settings.CARD_PHOTOS_KEPT_DAYS,
    }
    for card in context["cards"]["waiting"]:
        card.may_type = card_may_type(user=request.user, card=card)
        card.may_delete = card_may_delete(user=request.user, card=card)
    for card in context["cards"]["to_settle"]:
        card.may_settle = card_may_settle(user=request.user, card=card)
        card.may_delete = card_may_delete(user=request.user, card=card)
    return render(request, "registrations/card_photos.html", context, status=400 if errors else 200)


@require_GET
def card_photo(request, pk):
    """The photo itself, to the team and staff only: everyone else, signed in or not, finds
    nothing (404), as for a card that does not exist."""
    card = CardPhoto.objects.select_related("team").filter(pk=pk).first()
    if card is None or not card.photo or not card_may_see(user=request.user, team=card.team):
        raise Http404
    try:
        handle = card.photo.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(handle, content_type="image/jpeg")
    response["Cache-Control"] = f"private, max-age={CARD_PHOTO_BROWSER_SECONDS}"
    response["Content-Disposition"] = f'inline; filename="card-{card.pk}.jpg"'
    return response


def _grid_context(card: CardPhoto) -> dict:
    campaign = card.team.campaign
    return {
        "card": card,
        "team": card.team,
        "campaign": campaign,
        "label_parent": (
            campaign.parent_name_label
            if campaign.parent_is_father or campaign.for_the_departed
            else _("Parent's Hebrew name")
        ),
        "max_rows": CARD_MAX_ROWS,
        "max_length": GRID_MAX_VALUE_LENGTH,
        "dedication_kinds": DedicationKind.choices,
        "dedication_text_max_length": min(DEDICATION_TEXT_MAX_LENGTH, GRID_MAX_VALUE_LENGTH),
    }


def _rows_posted(request):
    try:
        rows = json.loads(request.POST.get("rows") or "[]")
    except (ValueError, RecursionError):
        raise ValidationError(_("The rows could not be read: type the card again.")) from None
    return rows


def _saved_message(request, card: CardPhoto) -> None:
    messages.success(
        request,
        _("Card %(card)d is saved: order %(order)d, credited to the team.") % {"card": card.pk, "order": card.order_id},
    )


def _onward(request, card: CardPhoto):
    """After a card: the next one this user may type, else the queue."""
    following = card_next(team=card.team, user=request.user, after=card.pk)
    if following is not None:
        return redirect("registrations:card-type", pk=following.pk)
    return redirect("registrations:card-photos", team_slug=card.team.slug)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def card_type(request, pk):
    """The card's photo beside the grid's rows. The second typist of a double entry never sees
    the first entry."""
    card = _card_for(request, pk)
    queue = redirect("registrations:card-photos", team_slug=card.team.slug)
    if card.state == CardState.SAVED:
        messages.info(
            request, _("Card %(card)d is saved already (order %(order)d).") % {"card": card.pk, "order": card.order_id}
        )
        return queue
    if card.state == CardState.MISMATCH:
        if card_may_settle(user=request.user, card=card):
            return redirect("registrations:card-settle", pk=card.pk)
        messages.info(
            request, _("Card %(card)d was typed twice; the differences are waiting to be settled.") % {"card": card.pk}
        )
        return queue
    if not card_may_type(user=request.user, card=card):
        messages.info(request, _("You typed card %(card)d: a second person types it again.") % {"card": card.pk})
        return queue
    consent_form = ConsentForm(request.POST or None)
    rows, errors = [], []
    if request.method == "POST":
        try:
            rows = _rows_posted(request)
            if not consent_form.is_valid():
                raise ValidationError(_("Please confirm that the people you register agreed to the privacy notice."))
            card = card_entry_submit(card_id=card.pk, user=request.user, rows=rows, consent=Consent.given_now())
        except ValidationError as error:
            errors = error.messages
        else:
            if card.state == CardState.SAVED:
                _saved_message(request, card)
            elif card.state == CardState.TYPED:
                messages.success(
                    request,
                    _("Card %(card)d is typed: a second person types it again before it is saved.") % {"card": card.pk},
                )
            else:
                messages.warning(
                    request,
                    _("The two entries of card %(card)d differ: choose the right value of each difference.")
                    % {"card": card.pk},
                )
                return redirect("registrations:card-settle", pk=card.pk)
            return _onward(request, card)
    context = {
        **_grid_context(card),
        "rows": [row for row in rows if isinstance(row, dict)] if isinstance(rows, list) else [],
        "errors": errors,
        "consent_form": consent_form,
        "second_entry": card.state == CardState.TYPED,
    }
    return render(request, "registrations/card_type.html", context, status=400 if errors else 200)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def card_settle(request, pk):
    """The two entries' differences, field by field, each settled by choosing its right value."""
    card = _card_for(request, pk)
    if card.state != CardState.MISMATCH or not card_may_settle(user=request.user, card=card):
        if card.state == CardState.SAVED:
            messages.info(
                request,
                _("Card %(card)d is saved already (order %(order)d).") % {"card": card.pk, "order": card.order_id},
            )
            return redirect("registrations:card-photos", team_slug=card.team.slug)
        raise Http404
    differences = card_entry_differences(card=card)
    consent_form = ConsentForm(request.POST or None)
    errors, choices = [], {}
    if request.method == "POST":
        choices = {difference.key: request.POST.get(f"choice-{difference.key}", "") for difference in differences}
        try:
            if not consent_form.is_valid():
                raise ValidationError(_("Please confirm that the people you register agreed to the privacy notice."))
            card = card_entry_settle(card_id=card.pk, user=request.user, choices=choices, consent=Consent.given_now())
        except ValidationError as error:
            errors = error.messages
        else:
            _saved_message(request, card)
            return _onward(request, card)
    context = {
        "card": card,
        "team": card.team,
        # Each with the choice made already, when the form comes back with an error.
        "differences": [{"difference": d, "chosen": choices.get(d.key, "")} for d in differences],
        "errors": errors,
        "consent_form": consent_form,
    }
    return render(request, "registrations/card_settle.html", context, status=400 if errors else 200)


@login_required
@require_POST
def card_remove(request, pk):
    card = _card_for(request, pk)
    try:
        card_delete(card_id=card.pk, user=request.user)
    except PermissionDenied:
        raise Http404 from None
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Card %(card)d is taken out of the queue, with its photo.") % {"card": card.pk})
    return redirect("registrations:card-photos", team_slug=card.team.slug)
