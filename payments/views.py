import functools
import json
import logging
import os

import stripe
from django.conf import settings
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.views.decorators.cache import cache_control
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from .services import (
    stripe_event_process,
)
from .signals import webhook_failed

logger = logging.getLogger(__name__)

# Stripe's own default: a signature older than five minutes is stale.
WEBHOOK_TOLERANCE_SECONDS = 300


@csrf_exempt
@require_POST
def stripe_webhook(request):
    payload = request.body
    signature = request.headers.get("Stripe-Signature", "")
    if not settings.STRIPE_WEBHOOK_SECRET:
        webhook_failed.send_robust(sender=stripe_webhook, reason="not_configured")
        return HttpResponseBadRequest("webhook not configured")
    try:
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"), signature, settings.STRIPE_WEBHOOK_SECRET, WEBHOOK_TOLERANCE_SECONDS
        )
        event = json.loads(payload)
    except (stripe.SignatureVerificationError, ValueError, UnicodeDecodeError):
        logger.warning("Stripe webhook refused: bad or stale signature")
        webhook_failed.send_robust(sender=stripe_webhook, reason="bad_signature")
        return HttpResponseBadRequest("bad signature")
    if not isinstance(event, dict) or "id" not in event:
        webhook_failed.send_robust(sender=stripe_webhook, reason="not_an_event")
        return HttpResponseBadRequest("not an event")
    try:
        outcome = stripe_event_process(event=event)
    except Exception:
        webhook_failed.send_robust(sender=stripe_webhook, reason="error")
        raise
    return HttpResponse(outcome, content_type="text/plain")


@functools.lru_cache(maxsize=4)
def _file_read(path: str, modified_ns: int, size: int) -> bytes:
    """The file's bytes, read once per process and version of the file (its time and size)."""
    with open(path, "rb") as file:
        return file.read()


@require_GET
@cache_control(public=True, max_age=3600)
def apple_pay_domain_association(request):
    """The domain association file Stripe gives the account for Apple Pay, as Apple fetches it
    when the domain is registered (APPLE_PAY_DOMAIN_ASSOCIATION_FILE; 404 while unset)."""
    path = settings.APPLE_PAY_DOMAIN_ASSOCIATION_FILE
    if not path:
        raise Http404
    try:
        found = os.stat(path)
        body = _file_read(path, found.st_mtime_ns, found.st_size)
    except OSError:
        logger.error("APPLE_PAY_DOMAIN_ASSOCIATION_FILE %r cannot be read", path)
        raise Http404 from None
    return HttpResponse(body, content_type="text/plain")
