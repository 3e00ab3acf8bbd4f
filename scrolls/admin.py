from django.contrib import admin

from .models import Campaign, Scroll


class ScrollInline(admin.TabularInline):
    model = Scroll
    extra = 0
    can_delete = False
    fields = ["number", "state", "total_letters", "letters_allocated", "opened_at", "filled_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "custom", "currency", "price", "allocation_mode", "active"]
    list_filter = ["active", "custom", "allocation_mode"]
    search_fields = ["name", "name_he", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [ScrollInline]


@admin.register(Scroll)
class ScrollAdmin(admin.ModelAdmin):
    list_display = ["__str__", "state", "letters_allocated", "total_letters", "opened_at", "filled_at"]
    list_filter = ["state", "campaign"]
    # Progress and state move only through the allocation service, never by hand.
    readonly_fields = ["letters_allocated", "last_position", "state", "opened_at", "filled_at"]

    def has_delete_permission(self, request, obj=None):
        return False
