"""The transliteration helper's JSON (GET /names/transliterate/?q=...), for
static/js/hebrew_input.js: public, limited per IP address (RATELIMIT_TRANSLITERATE)."""

import logging

from django.conf import settings
from django.http import JsonResponse
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from django_ratelimit.core import get_usage

from .transliteration import TransliterationInputInvalid, name_transliterate

logger = logging.getLogger(__name__)


def _transliterate_rate(group, request):
    return settings.RATELIMIT_TRANSLITERATE or None  # empty: no limit


@require_GET
def names_transliterate(request):
    try:
        usage = get_usage(
            request, group="names-transliterate:ip", key="ip", rate=_transliterate_rate, method="GET", increment=True
        )
    except Exception:  # Redis unreachable: the helper still answers (the limit is against abuse)
        logger.exception("Could not count a transliteration against its address")
        usage = None
    if usage is not None and usage["should_limit"]:
        response = JsonResponse(
            {"error": _("Too many requests from this address. Please try again later.")}, status=429
        )
        response["Retry-After"] = str(max(int(usage["time_left"]), 1))
        return response
    try:
        result = name_transliterate(text=request.GET.get("q", ""))
    except TransliterationInputInvalid as error:
        return JsonResponse({"error": str(error)}, status=400)
    response = JsonResponse({"suggestions": result.suggestions, "unknown": result.unknown})
    # The same text gets the same answer until the table changes, at a deploy.
    patch_cache_control(response, public=True, max_age=3600)
    return response
