from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from simple_history.admin import SimpleHistoryAdmin

from payments.services import payment_record_offline
from unitysefer.admin import ReadOnlyAdminMixin, StaffViewAdminMixin

from .models import Letter, Name, Order, OrderStatus, Reservation
from .selectors import letters_with_text


def _certificates_redraw_for(forms):
    """A name whose printed parts were corrected gets its certificate drawn again on commit."""
    from certificates.services import CERTIFICATE_NAME_FIELDS
    from certificates.tasks import certificates_redraw_enqueue

    corrected = [form.instance.pk for form in forms if CERTIFICATE_NAME_FIELDS & set(form.changed_data)]
    certificates_redraw_enqueue(name_ids=[name_id for name_id in corrected if name_id is not None])


class NameInline(StaffViewAdminMixin, admin.TabularInline):
    model = Name
    extra = 0
    can_delete = False
    fields = ["hebrew_name", "gender", "parent_hebrew_name", "english_name", "deceased", "city", "country"]
    show_change_link = True


@admin.register(Order)
class OrderAdmin(StaffViewAdminMixin, SimpleHistoryAdmin):
    list_display = [
        "id",
        "campaign",
        "status",
        "channel",
        "amount",
        "currency",
        "buyer_email",
        "created_by",
        "created_at",
    ]
    list_filter = ["status", "channel", "campaign"]
    search_fields = ["id", "buyer_name", "buyer_email", "names__hebrew_name"]
    readonly_fields = ["token", "status", "paid_at", "allocated_at", "created_at"]
    list_select_related = ["campaign", "created_by"]
    inlines = [NameInline]
    actions = ["approve"]
    # A shliach's order can hold 200,000 names: past this many they are listed on their own page.
    INLINE_NAMES_MAX = 200

    def has_delete_permission(self, request, obj=None):
        return False

    def get_inlines(self, request, obj):
        if obj is not None and obj.names.count() > self.INLINE_NAMES_MAX:
            return []
        return self.inlines

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        if formset.model is Name:
            _certificates_redraw_for(formset.forms)

    # Once paid (or refunded, or cancelled), what the money and the letters rest on stays as it is:
    # its letters are in a scroll of this campaign, and its payments were for this amount.
    SETTLED_FIELDS = ["campaign", "amount", "currency", "channel", "created_by", "referred_by"]

    def get_readonly_fields(self, request, obj=None):
        settled = self.SETTLED_FIELDS if obj is not None and obj.status != OrderStatus.PENDING else []
        return [*self.readonly_fields, *settled, "names_link"]

    @admin.display(description=_("names"))
    def names_link(self, order):
        if order.pk is None:
            return "—"
        url = reverse("admin:allocation_name_changelist") + f"?order__id__exact={order.pk}"
        return format_html('<a href="{}">{}</a>', url, _("All the names of this order"))

    @admin.action(description=_("Approve: record as paid offline (cash, cheque or transfer received)"))
    def approve(self, request, queryset):
        approved = 0
        for order in queryset:
            try:
                payment_record_offline(order=order, reference=f"approved by {request.user}", recorded_by=request.user)
            except (ValidationError, PermissionDenied) as error:
                detail = " ".join(getattr(error, "messages", [str(error)]))
                self.message_user(request, f"#{order.pk}: {detail}", messages.ERROR)
            else:
                approved += 1
        if approved:
            self.message_user(
                request,
                ngettext("%d order approved.", "%d orders approved.", approved) % approved,
                messages.SUCCESS,
            )


@admin.register(Name)
class NameAdmin(StaffViewAdminMixin, SimpleHistoryAdmin):
    list_display = ["display_name", "english_name", "deceased", "city", "country", "order"]
    search_fields = ["hebrew_name", "parent_hebrew_name", "english_name", "family_name"]
    list_filter = ["deceased", "gender"]
    # A name may be corrected (its history keeps every spelling), never moved to another order:
    # its letter would go with it (the database refuses too, allocation/migrations/0010).
    readonly_fields = ["order", "letter_held"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        _certificates_redraw_for([form])

    @admin.display(description=_("letter"))
    def letter_held(self, name):
        letter = Letter.objects.filter(name=name).select_related("scroll").first()
        return str(letter) if letter else "—"

    def has_delete_permission(self, request, obj=None):
        return False


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
class ReservationAdmin(StaffViewAdminMixin, SimpleHistoryAdmin):
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
