from django.contrib import admin

from allocation.models import Gift
from core.admin import ReadOnlyAdminMixin, StaffViewAdminMixin


@admin.register(Gift)
class GiftAdmin(StaffViewAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: a gift is written with its order and delivered by the gifts' services; the
    buyer corrects an address on the order's page. The recipient's link (its token) is not
    shown: it is the recipient's."""

    list_display = ["__str__", "name", "recipient_email", "language", "deliver_on", "state", "delivered_at"]
    list_filter = ["state", "language"]
    search_fields = ["recipient_email", "recipient_name", "name__order__id", "name__order__buyer_email"]
    list_select_related = ["name"]
    exclude = ["token"]
    readonly_fields = [field.name for field in Gift._meta.fields if field.name != "token"]
