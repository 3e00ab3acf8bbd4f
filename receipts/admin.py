from django.contrib import admin

from core.admin import ReadOnlyAdminMixin, StaffViewAdminMixin

from .models import Receipt


@admin.register(Receipt)
class ReceiptAdmin(StaffViewAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: a receipt, once issued, stands (PostgreSQL refuses the rest). Organisations
    are edited on the staff's own page, /staff/organisations/."""

    list_display = ["__str__", "kind", "organisation", "order", "amount", "currency", "issued_at", "drawn_at"]
    list_filter = ["kind", "organisation", "year"]
    search_fields = ["order__id", "donor_name", "order__buyer_email"]
    list_select_related = ["organisation", "order"]
    readonly_fields = [field.name for field in Receipt._meta.fields]
