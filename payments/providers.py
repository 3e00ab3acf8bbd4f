"""Payment providers behind one small interface, chosen by settings.

`card_provider()` is Stripe when a secret key is configured, else the demo provider, which is
refused outright unless DEMO_PAYMENTS is on (it is DEBUG). Offline payments are recorded by
permitted users through payments.services.payment_record_offline and need no provider calls.
"""

from dataclasses import dataclass
from decimal import Decimal

import stripe
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from core.currencies import currency_decimals

from .models import Payment, PaymentProvider


class ProviderUnavailable(Exception):
    """The provider cannot be asked now: unreachable, answering with an error, or asked about
    this order too recently (STRIPE_SYNC_INTERVAL_SECONDS). The pages and the API answer 503."""


def to_minor_units(amount: Decimal, currency: str) -> int:
    """What Stripe calls `amount`: JPY 1000 -> 1000, USD 18 -> 1800, KWD 1.5 -> 1500 (the table is
    core.currencies; KeyError for a currency not in it, which a campaign cannot have)."""
    return int((amount * 10 ** currency_decimals(currency)).to_integral_value())


def from_minor_units(amount_minor: int, currency: str) -> Decimal:
    return Decimal(amount_minor).scaleb(-currency_decimals(currency))


@dataclass(frozen=True)
class ProviderStatus:
    """What the provider says of an attempt, in our terms."""

    status: str  # "succeeded", "failed" or "pending"
    amount_minor: int | None = None
    currency: str = ""


class StripeProvider:
    name = PaymentProvider.STRIPE

    def __init__(self):
        options = {"base_addresses": {"api": settings.STRIPE_API_BASE}} if settings.STRIPE_API_BASE else {}
        self.client = stripe.StripeClient(
            settings.STRIPE_SECRET_KEY,
            max_network_retries=settings.STRIPE_MAX_NETWORK_RETRIES,
            # Stripe's own default waits 80 s, longer than gunicorn lets a request live.
            http_client=stripe.new_default_http_client(timeout=settings.STRIPE_TIMEOUT_SECONDS),
            **options,
        )

    def start(self, *, payment: Payment) -> dict:
        """Create the PaymentIntent; the idempotency key makes a retried request harmless."""
        intent = self.client.v1.payment_intents.create(
            params={
                "amount": to_minor_units(payment.amount, payment.currency),
                "currency": payment.currency.lower(),
                "metadata": {"order_id": str(payment.order_id), "payment_id": str(payment.pk)},
                **self.payment_methods(),
            },
            options={"idempotency_key": f"unitysefer-payment-{payment.pk}"},
        )
        return {"reference": intent.id, "client_secret": intent.client_secret}

    @staticmethod
    def payment_methods() -> dict:
        """Which ways to pay the PaymentIntent offers: with STRIPE_AUTOMATIC_PAYMENT_METHODS (the
        default) those turned on in the Stripe dashboard that fit the currency and the buyer's
        device (cards, Apple Pay, Google Pay, Link...), redirect-based ones too (allow_redirects
        "always": the buyer comes back to the done page, which asks Stripe). Off, the parameter
        is not sent at all, for a stand-in that refuses it (localstripe, in the tests); Stripe
        itself then applies its API version's default."""
        if not settings.STRIPE_AUTOMATIC_PAYMENT_METHODS:
            return {}
        return {"automatic_payment_methods": {"enabled": True, "allow_redirects": "always"}}

    def status(self, *, payment: Payment) -> ProviderStatus:
        intent = self.client.v1.payment_intents.retrieve(payment.reference)
        return self.status_of_intent(intent.to_dict())

    @staticmethod
    def status_of_intent(intent: dict) -> ProviderStatus:
        """Read a PaymentIntent as a plain dict (from the API or a webhook's JSON)."""
        if intent["status"] == "succeeded":
            status = "succeeded"
        elif intent["status"] == "requires_payment_method" and intent.get("last_payment_error"):
            status = "failed"
        else:
            status = "pending"
        received = intent.get("amount_received") or intent.get("amount")
        return ProviderStatus(status=status, amount_minor=received, currency=str(intent["currency"]).upper())

    def cancel(self, *, payment: Payment) -> None:
        """Cancel the PaymentIntent; StripeError when it can no longer be (it succeeded)."""
        self.client.v1.payment_intents.cancel(payment.reference)

    def refund(self, *, payment: Payment) -> str:
        refund = self.client.v1.refunds.create(
            params={"payment_intent": payment.reference},
            options={"idempotency_key": f"unitysefer-refund-{payment.pk}"},
        )
        return refund.id


class DemoProvider:
    """Simulates a card payment on a clearly marked page. Only with DEMO_PAYMENTS (DEBUG, in the
    deployable settings)."""

    name = PaymentProvider.DEMO

    def __init__(self):
        if not settings.DEMO_PAYMENTS:
            raise ImproperlyConfigured("The demo payment provider is refused when DEMO_PAYMENTS is off.")

    def start(self, *, payment: Payment) -> dict:
        return {"reference": f"demo-{payment.pk}", "client_secret": ""}

    def status(self, *, payment: Payment) -> ProviderStatus:
        return ProviderStatus(status="pending")

    def cancel(self, *, payment: Payment) -> None:
        """Nothing to tell: the demo page refuses an attempt once it is cancelled."""

    def refund(self, *, payment: Payment) -> str:
        return f"demo-refund-{payment.pk}"


def card_provider():
    if settings.STRIPE_SECRET_KEY:
        return StripeProvider()
    return DemoProvider()


def provider_for(payment: Payment):
    if payment.provider == PaymentProvider.STRIPE:
        return StripeProvider()
    if payment.provider == PaymentProvider.DEMO:
        return DemoProvider()
    return None
