from django.contrib import admin

from core.admin import StaffViewAdminMixin

from .models import Team
from .services import TEAM_FIELDS, team_update


@admin.register(Team)
class TeamAdmin(StaffViewAdminMixin, admin.ModelAdmin):
    """Staff correct a team's name, message, goal and choices, through team_update like its owner
    (a raised goal is told again when reached). Teams are opened by their shluchim (/teams/new/,
    the API), and never deleted while orders count for them."""

    list_display = ["__str__", "campaign", "owner", "goal_letters", "leaderboard", "double_entry", "goal_reached_at"]
    list_filter = ["campaign", "leaderboard", "double_entry", "kind"]
    search_fields = ["slug", "name", "name_he", "name_en", "name_ru", "owner__username", "owner__email"]
    list_select_related = ["campaign", "owner"]
    fields = ["campaign", "slug", "owner", *TEAM_FIELDS, "members", "photo", "goal_reached_at", "created_at"]
    readonly_fields = ["campaign", "slug", "owner", "photo", "goal_reached_at", "created_at"]
    filter_horizontal = ["members"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        team_update(team=obj, by=request.user, **{field: form.cleaned_data[field] for field in TEAM_FIELDS})

    def save_related(self, request, form, formsets, change):
        # Members are set as the form says (shluchim only is the owner's rule; staff choose here).
        form.save_m2m()
