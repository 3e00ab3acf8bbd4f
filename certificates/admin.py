from django.contrib import admin

from core.admin import ReadOnlyAdminMixin

from .models import Certificate, OrderCertificates


@admin.register(Certificate)
class CertificateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: a certificate, once issued, stands (its code is printed on paper)."""

    list_display = ["code", "name", "issued_at", "size"]
    search_fields = ["code", "name__hebrew_name", "name__order__id"]
    list_select_related = ["name"]
    readonly_fields = ["code", "name", "file", "size", "issued_at"]


@admin.register(OrderCertificates)
class OrderCertificatesAdmin(admin.ModelAdmin):
    list_display = ["order", "completed_at", "emailed_at", "emailed_as_attachments", "booklet_built_at"]
    readonly_fields = ["order", "completed_at", "emailed_at", "emailed_as_attachments", "booklet", "booklet_built_at"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
