from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from allocation.models import Order
from scrolls.models import Campaign


class ImportStatus(models.TextChoices):
    CHECKING = "checking", _("Checking")
    REFUSED = "refused", _("Refused: problems to fix")
    READY = "ready", _("Ready to import")
    IMPORTING = "importing", _("Importing")
    IMPORTED = "imported", _("Imported")
    FAILED = "failed", _("Failed")


class ImportPayment(models.TextChoices):
    OFFLINE = "offline", _("Paid offline (cash, cheque, transfer)")
    CARD = "card", _("Pay by card")
    APPROVAL = "approval", _("Wait for staff approval")


def imports_storage():
    from django.core.files.storage import storages

    return storages["imports"]


def import_upload_path(instance, filename):
    return f"{instance.created_by_id}/{timezone.now():%Y%m%d%H%M%S}-{filename}"


class NameImport(models.Model):
    """One spreadsheet, pasted list or grid of names on its way into a campaign: checked first
    (every problem by row and column), imported all at once when the shliach confirms."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="+", verbose_name=_("campaign"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="name_imports", verbose_name=_("shliach")
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    source_name = models.CharField(_("source"), max_length=200)
    file = models.FileField(_("file"), upload_to=import_upload_path, storage=imports_storage)
    status = models.CharField(_("status"), max_length=16, choices=ImportStatus.choices, default=ImportStatus.CHECKING)
    row_count = models.PositiveIntegerField(_("rows"), default=0)
    # Progress of the step under way (checking or importing), for the progress bar.
    rows_done = models.PositiveIntegerField(_("rows done"), default=0)
    problem_count = models.PositiveIntegerField(_("problems"), default=0)
    # The first problems found, [{"row": 12, "column": "parent_hebrew_name", "message": "..."}].
    problems = models.JSONField(_("problems"), default=list, blank=True)
    # The first rows as read, for the preview.
    preview = models.JSONField(_("preview"), default=list, blank=True)
    payment_method = models.CharField(_("payment"), max_length=16, choices=ImportPayment.choices, blank=True)
    payment_reference = models.CharField(_("payment reference"), max_length=200, blank=True)
    order = models.OneToOneField(
        Order, on_delete=models.PROTECT, null=True, blank=True, related_name="name_import", verbose_name=_("order")
    )
    # What went wrong when a step failed for a reason that is not a problem of a row.
    failure = models.TextField(_("failure"), blank=True)
    # Starts of the step under way (check, then import): a step killed for its limits comes back
    # (late acknowledgement, the sweeper), so it is counted, and failed after IMPORT_MAX_ATTEMPTS.
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # The shliach's consent, for the people registered, to the privacy notice: given with the
    # grid's rows or at the confirmation, and handed to order_place, which records it on the order.
    consent_given_at = models.DateTimeField(_("consent given"), null=True, blank=True, editable=False)
    consent_notice_version = models.CharField(
        _("privacy notice consented to"), max_length=32, blank=True, default="", editable=False
    )

    class Meta:
        verbose_name = _("name import")
        verbose_name_plural = _("name imports")
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=ImportStatus.values), name="name_import_status_known"),
            models.CheckConstraint(
                condition=~Q(status="imported") | Q(order__isnull=False), name="name_import_imported_has_order"
            ),
            models.CheckConstraint(
                condition=Q(consent_given_at__isnull=True, consent_notice_version="")
                | (Q(consent_given_at__isnull=False) & ~Q(consent_notice_version="")),
                name="name_import_consent_has_date_and_version",
            ),
        ]

    def __str__(self):
        return f"{self.source_name} ({self.get_status_display()})"


class NameDraft(models.Model):
    """The rows a shliach has typed into the data-entry grid and not yet sent, saved as they
    type so a closed browser loses nothing."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="name_drafts", verbose_name=_("shliach")
    )
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+", verbose_name=_("campaign"))
    rows = models.JSONField(_("rows"), default=list, blank=True)
    updated_at = models.DateTimeField(_("saved"), auto_now=True)

    class Meta:
        verbose_name = _("draft of names")
        verbose_name_plural = _("drafts of names")
        constraints = [
            models.UniqueConstraint(fields=["created_by", "campaign"], name="name_draft_one_per_campaign"),
        ]
