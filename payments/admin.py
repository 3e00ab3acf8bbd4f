from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from simple_history.admin import SimpleHistoryAdmin

from core.admin import HistoryReadOnlyAdminMixin, ReadOnlyAdminMixin, StaffViewAdminMixin

from .models import Payment, StripeEvent, StripePayout
from .providers import ProviderUnavailable
from .services import payment_refund


@admin.register(Payment)
class PaymentAdmin(HistoryReadOnlyAdminMixin, StaffViewAdminMixin, SimpleHistoryAdmin):
    list_display = [
        "id",
        "order",
        "provider",
        "status",
        "amount",
        "currency",
        "reference",
        "amount_refunded",
        "dispute_status",
        "flagged_reason",
        "created_at",
    ]
    list_filter = ["provider", "status", "dispute_status"]
    search_fields = ["reference", "order__id", "dispute_id"]
    raw_id_fields = ["order", "recorded_by"]
    # What Stripe reported (refunds and disputes made in its dashboard, or by the card's bank).
    readonly_fields = [
        "status",
        "flagged_reason",
        "amount_refunded",
        "dispute_id",
        "dispute_status",
        "dispute_reason",
        "dispute_amount",
        "dispute_updated_at",
        "succeeded_at",
        "stripe_charge_id",
        "stripe_balance_transaction_id",
        "stripe_fee",
        "stripe_net",
        "stripe_balance_currency",
        "payout",
        "created_at",
        "updated_at",
    ]
    # What the money was, where and for which order: fixed once the attempt exists (the database
    # refuses a change too, payments/migrations/0006).
    SETTLED_FIELDS = ["order", "provider", "amount", "currency", "reference", "recorded_by"]
    actions = ["refund"]

    def has_add_permission(self, request):
        return False  # attempts are made by the payment services (the order's approve action offline)

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, *self.SETTLED_FIELDS] if obj is not None else self.readonly_fields

    # Payment attempts are an audit trail: never deleted.
    def has_delete_permission(self, request, obj=None):
        return False

    # A refund changes the payment: staff who may only view it (StaffViewAdminMixin) are not offered it.
    @admin.action(
        description=_("Refund through the payment provider (the letters stay written)"), permissions=["change"]
    )
    def refund(self, request, queryset):
        refunded = 0
        for payment in queryset:
            try:
                payment_refund(payment_id=payment.pk, refunded_by=request.user)
            except ValidationError as error:
                self.message_user(request, f"#{payment.pk}: {' '.join(error.messages)}", messages.ERROR)
            except ProviderUnavailable as error:
                detail = _(
                    "Stripe could not be reached or refused the refund: nothing was recorded. Trying again is safe (%(error)s)."
                ) % {"error": error}
                self.message_user(request, f"#{payment.pk}: {detail}", messages.ERROR)
            except PermissionDenied as error:
                self.message_user(request, f"#{payment.pk}: {error}", messages.ERROR)
            else:
                refunded += 1
        if refunded:
            self.message_user(
                request,
                ngettext("%d payment refunded.", "%d payments refunded.", refunded) % refunded,
                messages.SUCCESS,
            )


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["event_id", "type", "payment_intent_id", "received_at", "processed_at", "outcome"]
    search_fields = ["event_id", "payment_intent_id"]
    list_filter = ["type"]


@admin.register(StripePayout)
class StripePayoutAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["payout_id", "amount", "currency", "status", "arrival_date", "transactions_listed_at"]
    search_fields = ["payout_id"]
    list_filter = ["status", "currency"]
