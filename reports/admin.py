from django.contrib import admin

from .models import WeeklyReportSent


@admin.register(WeeklyReportSent)
class WeeklyReportSentAdmin(admin.ModelAdmin):
    list_display = ["campaign", "week_ending", "sent_at"]
    list_filter = ["campaign"]
    readonly_fields = ["campaign", "week_ending", "sent_at", "recipients"]

    def has_add_permission(self, request):
        return False
