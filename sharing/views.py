from django.http import HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_safe

from .selectors import campaign_card, letter_card, position_card, scroll_card, site_card
from .services import share_image_get

# A version's picture never changes (the version is a digest of it): kept a year.
IMMUTABLE = "public, max-age=31536000, immutable"
# An old version is sent on to the current one, which may change soon.
MOVED = "public, max-age=300"


def _image_response(card, version):
    """The card's PNG when the URL asks for its current version; else a redirect to it, so
    nothing is drawn but what a public page shows now."""
    if version != card.version:
        response = redirect(card.path)
        response["Cache-Control"] = MOVED
        return response
    response = HttpResponse(share_image_get(card=card), content_type="image/png")
    response["Cache-Control"] = IMMUTABLE
    return response


@require_safe
def site_image(request, version):
    return _image_response(site_card(), version)


@require_safe
def campaign_image(request, slug, version):
    return _image_response(campaign_card(slug=slug), version)


@require_safe
def scroll_image(request, slug, number, version):
    return _image_response(scroll_card(slug=slug, number=number), version)


@require_safe
def letter_image(request, code, version):
    return _image_response(letter_card(code=code), version)


@require_safe
def position_image(request, slug, number, position, version):
    return _image_response(position_card(slug=slug, number=number, position=position), version)
