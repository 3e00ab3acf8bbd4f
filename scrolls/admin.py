from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from core.admin import HistoryReadOnlyAdminMixin, ReadOnlyAdminMixin, StaffViewAdminMixin

from .models import Campaign, Scroll, TextEdition
from .services import scroll_open_first, scroll_open_refresh


class ScrollInline(StaffViewAdminMixin, admin.TabularInline):
    model = Scroll
    extra = 0
    can_delete = False
    fields = ["number", "state", "edition", "total_letters", "letters_allocated", "opened_at", "filled_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Campaign)
class CampaignAdmin(StaffViewAdminMixin, SimpleHistoryAdmin):
    list_display = ["name", "slug", "custom", "currency", "price", "allocation_mode", "discloses_parsha_only", "active"]
    list_filter = ["active", "custom", "allocation_mode"]
    search_fields = ["name", "name_he", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [ScrollInline]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        scroll_open_first(campaign=obj)
        # A new allocation mode applies at once to an open scroll that holds no letter yet.
        scroll_open_refresh(campaign=obj)


@admin.register(Scroll)
class ScrollAdmin(HistoryReadOnlyAdminMixin, StaffViewAdminMixin, SimpleHistoryAdmin):
    list_display = ["__str__", "state", "edition", "letters_allocated", "total_letters", "opened_at", "filled_at"]
    list_filter = ["state", "campaign"]
    list_select_related = ["campaign", "edition"]
    # Progress, state and text move only through the services, never by hand.
    readonly_fields = [
        "edition",
        "total_letters",
        "letters_allocated",
        "steps_walked",
        "state",
        "opened_at",
        "filled_at",
        "completed_at",
    ]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(TextEdition)
class TextEditionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Loaded by `manage.py load_torah_text`; read-only here."""

    list_display = ["name", "slug", "letter_count", "is_default", "source", "loaded_at"]
