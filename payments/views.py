import json
import logging

import stripe
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ImproperlyConfigured
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from allocation.models import Order, OrderStatus

from .models import PaymentProvider, PaymentStatus
from .services import (
    order_sync_card_payments,
    payment_demo_complete,
    payment_start_card,
    stripe_event_process,
)

logger = logging.getLogger(__name__)

# Stripe's own default: a signature older than five minutes is stale.
WEBHOOK_TOLERANCE_SECONDS = 300


@csrf_exempt
@require_POST
def stripe_webhook(request):
    payload = request.body
    signature = request.headers.get("Stripe-Signature", "")
    if not settings.STRIPE_WEBHOOK_SECRET:
        return HttpResponseBadRequest("webhook not configured")
    try:
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"), signature, settings.STRIPE_WEBHOOK_SECRET, WEBHOOK_TOLERANCE_SECONDS
        )
        event = json.loads(payload)
    except (stripe.SignatureVerificationError, ValueError, UnicodeDecodeError):
        logger.warning("Stripe webhook refused: bad or stale signature")
        return HttpResponseBadRequest("bad signature")
    if not isinstance(event, dict) or "id" not in event:
        return HttpResponseBadRequest("not an event")
    outcome = stripe_event_process(event=event)
    return HttpResponse(outcome, content_type="text/plain")


def order_pay(request, token):
    order = get_object_or_404(Order.objects.select_related("campaign"), token=token)
    if order.status != OrderStatus.PENDING:
        return redirect("order-done", token=order.token)
    try:
        payment, client_secret = payment_start_card(order_id=order.pk)
    except ImproperlyConfigured:
        return render(request, "payments/unavailable.html", {"order": order}, status=503)
    except stripe.StripeError:
        logger.exception("Could not start a card payment for order %s", order.pk)
        return render(request, "payments/unavailable.html", {"order": order}, status=503)
    failed_before = order.payments.filter(status=PaymentStatus.FAILED).exists()
    context = {
        "order": order,
        "payment": payment,
        "failed_before": failed_before,
        "names": order.names.all(),
    }
    if payment.provider == PaymentProvider.DEMO:
        return render(request, "payments/pay_demo.html", context)
    context.update(
        {
            "client_secret": client_secret,
            "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
            "stripe_js_url": settings.STRIPE_JS_URL,
            "return_url": request.build_absolute_uri(f"/orders/{order.token}/"),
        }
    )
    return render(request, "payments/pay_stripe.html", context)


@require_POST
def order_pay_demo(request, token):
    order = get_object_or_404(Order, token=token)
    payment = order.payments.filter(provider=PaymentProvider.DEMO, status=PaymentStatus.CREATED).order_by("-id").first()
    if payment is None:
        raise Http404
    try:
        payment = payment_demo_complete(payment_id=payment.pk, succeeded=request.POST.get("outcome") == "succeed")
    except ImproperlyConfigured:
        raise Http404 from None
    if payment.status == PaymentStatus.FAILED:
        messages.error(request, _("The payment was declined. Please try again."))
        return redirect("order-pay", token=order.token)
    return redirect("order-done", token=order.token)


def order_sync_on_return(order, payment_intent=""):
    """The buyer came back from paying: ask the provider, so a late webhook delays nothing."""
    order_sync_card_payments(order_id=order.pk, payment_intent=payment_intent)
