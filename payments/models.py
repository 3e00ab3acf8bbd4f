from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from allocation.models import Order


class PaymentProvider(models.TextChoices):
    STRIPE = "stripe", _("Card (Stripe)")
    OFFLINE = "offline", _("Offline (cash, cheque, transfer)")
    DEMO = "demo", _("Demo")


class PaymentStatus(models.TextChoices):
    CREATED = "created", _("Created")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")
    REFUNDED = "refunded", _("Refunded")


class Payment(models.Model):
    """One attempt to pay an order. Attempts are kept forever, failed ones included."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments", verbose_name=_("order"))
    provider = models.CharField(_("provider"), max_length=16, choices=PaymentProvider.choices)
    status = models.CharField(_("status"), max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.CREATED)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    # The provider's id (a PaymentIntent id) or the receipt number of an offline payment.
    reference = models.CharField(_("reference"), max_length=255, blank=True, db_index=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="recorded_payments",
        verbose_name=_("recorded by"),
    )
    # Set when what the provider reports does not match the order; staff must look.
    flagged_reason = models.CharField(_("flagged for staff"), max_length=255, blank=True)
    # Money given back, as Stripe counts it (its dashboard too): all of it makes the attempt refunded.
    amount_refunded = models.DecimalField(_("amount refunded"), max_digits=12, decimal_places=3, default=0)
    # A dispute (chargeback) the card's bank opened, as Stripe last told it. The order stays paid
    # and its letters written, whatever the outcome; staff answer it in Stripe.
    dispute_id = models.CharField(_("dispute"), max_length=255, blank=True)
    dispute_status = models.CharField(_("dispute status"), max_length=32, blank=True)
    dispute_reason = models.CharField(_("dispute reason"), max_length=64, blank=True)
    dispute_amount = models.DecimalField(_("amount disputed"), max_digits=12, decimal_places=3, null=True, blank=True)
    # When Stripe made the event last applied: an older one delivered late changes nothing.
    dispute_updated_at = models.DateTimeField(_("dispute updated"), null=True, blank=True)
    # When the money was received (the attempt succeeded): the treasurer's month counts by it.
    succeeded_at = models.DateTimeField(_("succeeded"), null=True, blank=True, db_index=True)
    # What Stripe reports of the charge's balance transaction: its fee and what is left (net), in
    # the currency of the Stripe balance (which may differ from the payment's). None: not reported.
    stripe_charge_id = models.CharField(_("Stripe charge"), max_length=255, blank=True, db_index=True)
    stripe_balance_transaction_id = models.CharField(
        _("Stripe balance transaction"), max_length=255, blank=True, db_index=True
    )
    stripe_fee = models.DecimalField(_("Stripe fee"), max_digits=12, decimal_places=3, null=True, blank=True)
    stripe_net = models.DecimalField(_("net of the Stripe fee"), max_digits=12, decimal_places=3, null=True, blank=True)
    stripe_balance_currency = models.CharField(_("Stripe balance currency"), max_length=3, blank=True)
    # The Stripe payout the charge was paid out in, once Stripe listed it there.
    payout = models.ForeignKey(
        "StripePayout",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payments",
        verbose_name=_("Stripe payout"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="payment_amount_not_negative"),
            models.CheckConstraint(condition=Q(amount_refunded__gte=0), name="payment_amount_refunded_not_negative"),
            models.CheckConstraint(condition=Q(provider__in=PaymentProvider.values), name="payment_provider_known"),
            models.CheckConstraint(condition=Q(status__in=PaymentStatus.values), name="payment_status_known"),
            models.UniqueConstraint(
                fields=["provider", "reference"],
                condition=Q(provider="stripe") & ~Q(reference=""),
                name="payment_stripe_reference_unique",
            ),
        ]
        permissions = [("record_offline_payment", _("Can record offline payments"))]

    def __str__(self):
        return f"{self.get_provider_display()} {self.amount} {self.currency} ({self.status})"


class StripeEvent(models.Model):
    """Every Stripe event id we accepted, once: a replayed delivery finds its row and stops."""

    event_id = models.CharField(_("event id"), max_length=255, unique=True)
    type = models.CharField(_("type"), max_length=100)
    payment_intent_id = models.CharField(_("PaymentIntent id"), max_length=255, blank=True, db_index=True)
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=255, blank=True)
    # Staff were emailed of it (a refund or dispute made outside the site): once per event.
    alerted_at = models.DateTimeField(_("staff alerted"), null=True, blank=True)

    class Meta:
        verbose_name = _("Stripe event")
        verbose_name_plural = _("Stripe events")
        ordering = ["-id"]

    def __str__(self):
        return f"{self.type} {self.event_id}"


class StripePayout(models.Model):
    """A payout of the Stripe balance to the bank, as Stripe's payout.* events told it. The
    payments it carried are linked once it is paid (balance transactions listed by payout)."""

    payout_id = models.CharField(_("payout id"), max_length=255, unique=True)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=3)
    currency = models.CharField(_("currency"), max_length=3)
    status = models.CharField(_("status"), max_length=32)
    arrival_date = models.DateField(_("arrival date"), null=True, blank=True)
    # When Stripe made the event last applied: an older one delivered late changes nothing.
    stripe_updated_at = models.DateTimeField(_("updated at Stripe"), null=True, blank=True)
    # Its balance transactions were listed (up to a cap of pages: truncated says it was reached).
    transactions_listed_at = models.DateTimeField(_("transactions listed"), null=True, blank=True)
    transactions_truncated = models.BooleanField(_("transactions listed in part"), default=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("Stripe payout")
        verbose_name_plural = _("Stripe payouts")
        ordering = ["-arrival_date", "-id"]

    def __str__(self):
        return f"{self.payout_id} {self.amount} {self.currency} ({self.status})"
