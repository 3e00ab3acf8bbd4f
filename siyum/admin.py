from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from core.admin import ReadOnlyAdminMixin, StaffViewAdminMixin

from .models import Siyum, SiyumNotice


@admin.register(Siyum)
class SiyumAdmin(StaffViewAdminMixin, SimpleHistoryAdmin):
    """Held on the staff's page (/staff/siyum/), which gives the honour letters and completes
    the scroll; here the place and notes may be corrected, with their history."""

    list_display = ["scroll", "held_on", "place", "held_by", "created_at"]
    list_select_related = ["scroll__campaign", "held_by"]
    readonly_fields = ["scroll", "held_by", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SiyumNotice)
class SiyumNoticeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["siyum", "email", "letters", "sent_at"]
    list_filter = ["siyum"]
    search_fields = ["email"]
    readonly_fields = ["siyum", "email", "letters", "sent_at"]
