"""What payments announce; higher apps listen (monitoring counts it)."""

from django.dispatch import Signal

# Stripe's webhook was answered with an error: reason, one of "not_configured", "bad_signature",
# "not_an_event" (a 400), or "error" (processing raised: a 500, and Stripe tries again).
webhook_failed = Signal()
