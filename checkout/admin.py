"""Orders and names in the admin: a door like the others. An order added here is placed by
allocation's order_place (the names' rules, the price floor and the campaign's currency, as
everywhere); a name corrected here goes through name_correct; statuses move only through the
lifecycle's actions; the history is there to read, never to revert."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.timezone import localtime
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from simple_history.admin import SimpleHistoryAdmin

from allocation.models import Gender, Letter, Name, Order, OrderCancellation, OrderChannel, OrderStatus
from allocation.services import (
    Buyer,
    OrderNamesInvalid,
    name_correct,
    name_correction_clean,
    order_cancel,
    order_place,
    order_terms_change,
)
from allocation.validators import validate_visible_characters
from core.admin import HistoryReadOnlyAdminMixin, StaffViewAdminMixin
from payments.services import payment_record_offline
from receipts.models import ReceiptKind
from receipts.selectors import campaign_organisation, order_receipts_describe
from scrolls.models import Campaign
from teams.models import Team

# What a line of the add form's names says between the name and the parent's name.
CONNECTORS = {"בן": Gender.MALE, "בת": Gender.FEMALE}


def names_from_lines(text: str) -> list[dict]:
    """One name a line, as written on a certificate: "משה בן אברהם", "שרה בת רבקה". A line
    without ben or bas is given whole as the name, so name_clean says what is missing."""
    names = []
    for line in (text or "").splitlines():
        words = line.split()
        if not words:
            continue
        for index, word in enumerate(words):
            if word in CONNECTORS and 0 < index < len(words) - 1:
                names.append(
                    {
                        "hebrew_name": " ".join(words[:index]),
                        "gender": CONNECTORS[word],
                        "parent_hebrew_name": " ".join(words[index + 1 :]),
                    }
                )
                break
        else:
            names.append({"hebrew_name": " ".join(words), "gender": "", "parent_hebrew_name": ""})
    return names


class OrderPlaceForm(forms.ModelForm):
    """The admin's add form: what a staff member places an order with. It is placed by
    order_place once the form is valid; the admin then only shows the order."""

    names_text = forms.CharField(
        label=_("Names"),
        widget=forms.Textarea(attrs={"dir": "rtl", "rows": 8}),
        help_text=_("One name a line, as on a certificate: משה בן אברהם, or שרה בת רבקה."),
    )

    class Meta:
        model = Order
        fields = ["campaign", "team", "buyer_name", "buyer_email", "buyer_phone", "amount"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["campaign"].queryset = Campaign.objects.filter(active=True)
        self.fields["team"].queryset = Team.objects.filter(campaign__active=True).select_related("campaign")
        self.fields["team"].help_text = _("The team the order counts for, if any: one of the order's campaign.")
        self.fields["amount"].required = False
        self.fields["amount"].help_text = _("Leave empty for the campaign's price per name; never less.")
        self.placed = None

    def _post_clean(self):
        """Placed by the service, not saved by the form: the model's own checks are the service's."""

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            self.placed = order_place(
                campaign=cleaned["campaign"],
                names=names_from_lines(cleaned["names_text"]),
                buyer=Buyer(name=cleaned["buyer_name"], email=cleaned["buyer_email"], phone=cleaned["buyer_phone"]),
                created_by=self.request_user,
                channel=OrderChannel.OFFLINE,
                amount=cleaned.get("amount"),
                team=cleaned.get("team"),
            )
        except OrderNamesInvalid as error:
            for index, fields in error.errors_by_row.items():
                for messages_ in fields.values():
                    for message in messages_:
                        self.add_error(
                            "names_text", _("Line %(line)d: %(message)s") % {"line": index + 1, "message": message}
                        )
        except ValidationError as error:
            for field, messages_ in getattr(error, "message_dict", {None: error.messages}).items():
                target = field if field in self.fields else ("buyer_email" if field == "buyer" else None)
                self.add_error(target, messages_)
        return cleaned


class NameCorrectionForm(forms.ModelForm):
    """A name corrected by staff: checked by the rules it was given under (name_correction_clean),
    then saved by name_correct, which keeps its history and draws its certificate again."""

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None or not self.has_changed() or self.errors:
            return cleaned
        try:
            corrected = name_correction_clean(
                name=self.instance, data={field: cleaned.get(field) for field in self.changed_data}
            )
        except ValidationError as error:
            for field, messages_ in error.message_dict.items():
                self.add_error(field if field in self.fields else None, messages_)
            return cleaned
        # One of deceased and the dedication's kind changed alone: the other follows (name_clean),
        # before the database's rule that they agree is checked on the instance.
        for field in ("deceased", "dedication_kind"):
            if field in self.fields:
                cleaned[field] = corrected[field]
        return cleaned


def _names_correct(request, forms_):
    """Correct each changed name through name_correct; returns (name, fields) of those changed."""
    corrected = []
    for form in forms_:
        if form.instance.pk is not None and form.has_changed():
            name_correct(
                name_id=form.instance.pk,
                data={field: form.cleaned_data.get(field) for field in form.changed_data},
                corrected_by=request.user,
            )
            corrected.append((form.instance, form.changed_data))
    return corrected


class NameInline(StaffViewAdminMixin, admin.TabularInline):
    model = Name
    form = NameCorrectionForm
    extra = 0
    can_delete = False
    fields = [
        "hebrew_name",
        "gender",
        "parent_hebrew_name",
        "english_name",
        "deceased",
        "dedication_kind",
        "dedication_text",
        "listed",
        "city",
        "country",
    ]
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False  # names come with their order, through order_place


@admin.register(Order)
class OrderAdmin(HistoryReadOnlyAdminMixin, StaffViewAdminMixin, SimpleHistoryAdmin):
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
    readonly_fields = [
        "token",
        "status",
        "currency",
        "paid_at",
        "cancelled_at",
        "cancellation",
        "allocated_at",
        "created_at",
    ]
    list_select_related = ["campaign", "created_by"]
    inlines = [NameInline]
    actions = ["approve", "cancel"]
    # A shliach's order can hold 200,000 names: past this many they are listed on their own page.
    INLINE_NAMES_MAX = 200
    # Once paid (or refunded, or cancelled), what the money and the letters rest on stays as it is:
    # its letters are in a scroll of this campaign, and its payments were for this amount.
    SETTLED_FIELDS = ["campaign", "amount", "channel", "created_by", "referred_by"]

    def has_delete_permission(self, request, obj=None):
        return False

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:  # adding: the order is placed by the service
            kwargs["form"] = OrderPlaceForm
            kwargs["fields"] = [*OrderPlaceForm.Meta.fields, "names_text"]
            form = super().get_form(request, obj, change=change, **kwargs)
            form.request_user = request.user
            return form
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": [*OrderPlaceForm.Meta.fields, "names_text"]})]
        return super().get_fieldsets(request, obj)

    def get_inlines(self, request, obj):
        if obj is None or obj.names.count() > self.INLINE_NAMES_MAX:
            return []
        return self.inlines

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name in ("buyer_name", "buyer_phone"):  # as order_place refuses them
            field.validators = [*field.validators, validate_visible_characters]
        return field

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        settled = self.SETTLED_FIELDS if obj.status != OrderStatus.PENDING else []
        # Whom it was for was erased (the privacy app), and stays so: PostgreSQL refuses it too.
        erased = ["buyer_name", "buyer_email", "buyer_phone"] if obj.erased_at else []
        privacy = ["consent_at", "privacy_notice_version", "erased_at"]
        return [
            *self.readonly_fields,
            "team",  # chosen when the order is placed (order_place checks its campaign)
            *settled,
            *erased,
            *privacy,
            "names_link",
            "payments_summary",
            "receipts_summary",
        ]

    def save_model(self, request, obj, form, change):
        if change:
            terms = {"campaign", "amount"} & set(form.changed_data)
            super().save_model(request, obj, form, change)  # the buyer's details; the terms are the service's
            if terms:
                order_terms_change(order_id=obj.pk, campaign=obj.campaign, amount=obj.amount, changed_by=request.user)
            return
        # Placed already by order_place (OrderPlaceForm.clean): show that order.
        obj.pk = form.placed.pk
        obj.refresh_from_db()

    def save_formset(self, request, form, formset, change):
        if formset.model is Name:
            # What formset.save() would have left for the admin's change message (its LogEntry).
            formset.changed_objects = _names_correct(request, formset.forms)
            formset.new_objects, formset.deleted_objects = [], []
            return
        super().save_formset(request, form, formset, change)

    @admin.display(description=_("names"))
    def names_link(self, order):
        if order.pk is None:
            return "—"
        url = reverse("admin:allocation_name_changelist") + f"?order__id__exact={order.pk}"
        return format_html('<a href="{}">{}</a>', url, _("All the names of this order"))

    @admin.display(description=_("payments"))
    def payments_summary(self, order):
        """Every attempt, with what Stripe reported of it since: refunds and disputes made outside
        the site (payments records them; the order stays paid through a dispute)."""
        if order.pk is None:
            return "—"
        lines = []
        for payment in order.payments.order_by("id"):
            told = []
            if payment.amount_refunded:
                told.append(_("refunded %(amount)s") % {"amount": payment.amount_refunded})
            if payment.dispute_id:
                told.append(
                    _("dispute %(dispute)s: %(status)s (%(reason)s), %(amount)s")
                    % {
                        "dispute": payment.dispute_id,
                        "status": payment.dispute_status,
                        "reason": payment.dispute_reason,
                        "amount": payment.dispute_amount,
                    }
                )
            lines.append(
                format_html(
                    '<a href="{}">#{}</a> {} {} {}: {}{}',
                    reverse("admin:payments_payment_change", args=[payment.pk]),
                    payment.pk,
                    payment.get_provider_display(),
                    payment.amount,
                    payment.currency,
                    payment.get_status_display(),
                    "; " + "; ".join(told) if told else "",
                )
            )
        return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines)) or "—"

    @admin.display(description=_("receipt"))
    def receipts_summary(self, order):
        """The order's receipt and the note that cancelled it: number, when issued, its PDF (the
        donor's link; drawn now if its worker has not yet). Else why there is none."""
        if order.pk is None:
            return "—"
        described = order_receipts_describe(order=order)
        lines = []
        for kind, title in ((ReceiptKind.RECEIPT, _("Receipt")), (ReceiptKind.CANCELLATION, _("Cancellation note"))):
            receipt = described[kind]
            if receipt is not None:
                lines.append(
                    format_html(
                        '{} {}, {} <a href="{}">{}</a>',
                        title,
                        receipt["number"],
                        date_format(localtime(receipt["issued_at"]), "DATETIME_FORMAT"),
                        receipt["download_url"],
                        _("PDF"),
                    )
                )
        if lines:
            return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines))
        if campaign_organisation(campaign_id=order.campaign_id) is None:
            return _("No receipt: the campaign has no organisation.")
        if order.status in (OrderStatus.PENDING, OrderStatus.CANCELLED):
            return _("No receipt: the order is not paid.")
        if order.amount <= 0:
            return _("No receipt: nothing was paid.")
        if order.status == OrderStatus.REFUNDED:
            return _("No receipt: the order was refunded before it was given one.")
        return _(
            "No receipt yet: the order was paid before its campaign had an organisation (manage.py issue_missing_receipts)."
        )

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

    @admin.action(
        description=_("Cancel unpaid orders (money that arrives later still pays them)"), permissions=["change"]
    )
    def cancel(self, request, queryset):
        cancelled = 0
        for order in queryset:
            try:
                order_cancel(order_id=order.pk, by=request.user, cancellation=OrderCancellation.STAFF)
            except ValidationError as error:
                self.message_user(request, f"#{order.pk}: {' '.join(error.messages)}", messages.ERROR)
            else:
                cancelled += 1
        if cancelled:
            self.message_user(
                request,
                ngettext("%d order cancelled.", "%d orders cancelled.", cancelled) % cancelled,
                messages.SUCCESS,
            )


@admin.register(Name)
class NameAdmin(HistoryReadOnlyAdminMixin, StaffViewAdminMixin, SimpleHistoryAdmin):
    form = NameCorrectionForm
    list_display = ["display_name", "english_name", "dedication_kind", "listed", "city", "country", "order"]
    search_fields = ["hebrew_name", "parent_hebrew_name", "english_name", "family_name"]
    list_filter = ["deceased", "dedication_kind", "listed", "gender"]
    # A name may be corrected (its history keeps every spelling), never moved to another order:
    # its letter would go with it (the database refuses too, allocation/migrations/0010).
    readonly_fields = ["order", "letter_held"]

    def has_add_permission(self, request):
        return False  # names come with their order, through order_place

    def save_model(self, request, obj, form, change):
        _names_correct(request, [form])

    @admin.display(description=_("letter"))
    def letter_held(self, name):
        letter = Letter.objects.filter(name=name).select_related("scroll").first()
        return str(letter) if letter else "—"

    def has_delete_permission(self, request, obj=None):
        return False
