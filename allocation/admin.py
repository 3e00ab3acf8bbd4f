from django.contrib import admin

from .models import Letter, Name, Order


class NameInline(admin.TabularInline):
    model = Name
    extra = 0
    can_delete = False
    fields = ["hebrew_name", "gender", "parent_hebrew_name", "english_name", "deceased", "city", "country"]
    show_change_link = True


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["id", "campaign", "status", "channel", "amount", "currency", "buyer_email", "created_by", "created_at"]
    list_filter = ["status", "channel", "campaign"]
    search_fields = ["id", "buyer_name", "buyer_email", "names__hebrew_name"]
    readonly_fields = ["token", "status", "paid_at", "allocated_at", "created_at"]
    list_select_related = ["campaign", "created_by"]
    inlines = [NameInline]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Name)
class NameAdmin(admin.ModelAdmin):
    list_display = ["display_name", "english_name", "deceased", "city", "country", "order"]
    search_fields = ["hebrew_name", "parent_hebrew_name", "english_name", "family_name"]
    list_filter = ["deceased", "gender"]
    raw_id_fields = ["order"]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Letter)
class LetterAdmin(admin.ModelAdmin):
    """Read-only: a letter once given is never changed or taken back."""

    list_display = ["scroll", "position", "name", "allocated_at"]
    list_filter = ["scroll__campaign"]
    search_fields = ["name__hebrew_name", "name__parent_hebrew_name"]
    list_select_related = ["scroll__campaign", "name"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
