from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from core.admin import HistoryReadOnlyAdminMixin, ReadOnlyAdminMixin, StaffViewAdminMixin

from .models import Letter, Reservation
from .selectors import letters_with_text


@admin.register(Letter)
class LetterAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: a letter once given is never changed or taken back."""

    list_display = ["scroll", "position", "written_letter", "verse", "name", "allocated_at"]
    list_filter = ["scroll__campaign"]
    search_fields = ["name__hebrew_name", "name__parent_hebrew_name"]
    list_select_related = ["scroll__campaign", "name"]
    readonly_fields = ["scroll", "position", "written_letter", "verse", "name", "allocated_at"]

    def get_queryset(self, request):
        return letters_with_text(super().get_queryset(request))

    @admin.display(description=_("letter"))
    def written_letter(self, letter):
        if letter.text_letter is None:
            return "—"
        return f"{letter.text_letter} ({letter.text_word})"

    @admin.display(description=_("verse"))
    def verse(self, letter):
        if letter.text_book is None:
            return "—"
        return f"{letter.text_book} {letter.text_chapter}:{letter.text_verse}"


@admin.register(Reservation)
class ReservationAdmin(HistoryReadOnlyAdminMixin, StaffViewAdminMixin, SimpleHistoryAdmin):
    """Honour letters are reserved and given on the staff's page (/staff/honours/), through the
    services; here staff may say who one not yet given is for, and read its history."""

    list_display = ["scroll", "position", "honouree", "is_default", "reached_at", "name", "given_at"]
    list_filter = ["scroll__campaign", "scroll__state"]
    search_fields = ["honouree", "note"]
    list_select_related = ["scroll__campaign", "name"]
    fields = ["scroll", "position", "honouree", "note", "is_default", "reached_at", "name", "given_at", "given_by",
              "created_by", "created_at"]  # fmt: skip
    readonly_fields = ["scroll", "position", "is_default", "reached_at", "name", "given_at", "given_by", "created_by",
                       "created_at"]  # fmt: skip

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_given:
            return [*self.readonly_fields, "honouree", "note"]
        return self.readonly_fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
