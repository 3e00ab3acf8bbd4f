import json
import logging

import stripe
from django.conf import settings
from django.http import HttpResponse, HttpResponseBadRequest
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

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
