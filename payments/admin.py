from django.contrib import admin

from .models import Payment


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = ["id", "order", "provider", "status", "amount", "currency", "reference", "flagged_reason", "created_at"]
    list_filter = ["provider", "status"]
    search_fields = ["reference", "order__id"]
    raw_id_fields = ["order", "recorded_by"]
    readonly_fields = ["status", "flagged_reason", "created_at", "updated_at"]

    # Payment attempts are an audit trail: never deleted.
    def has_delete_permission(self, request, obj=None):
        return False
