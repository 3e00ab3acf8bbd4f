import secrets

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from allocation.models import Order
from scrolls.models import Campaign
from teams.models import Team, teams_storage


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


class CardState(models.TextChoices):
    QUEUED = "queued", _("Waiting to be typed")
    TYPED = "typed", _("Typed once: waiting for a second person to type it again")
    MISMATCH = "mismatch", _("The two entries differ: waiting to be settled")
    SAVED = "saved", _("Saved")


def card_photo_path(card, filename):
    # A random name: the path says nothing of the card, and a guessed one finds nothing.
    return f"cards/{card.team.slug}/{secrets.token_hex(16)}.jpg"


class CardPhoto(models.Model):
    """A photo (or scan) of a filled paper card, queued for its team until someone types its names
    beside it. Without the team's double entry the first entry becomes the order; with it a second
    person types the card again, and the order is placed once both agree (or their differences are
    settled). The photo is deleted CARD_PHOTOS_KEPT_DAYS after the order was placed; the card's
    record, its entries and its order stay."""

    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="card_photos", verbose_name=_("team"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="card_photos_uploaded",
        verbose_name=_("uploaded by"),
    )
    uploaded_at = models.DateTimeField(_("uploaded"), default=timezone.now)
    # Re-encoded by core.images.photo_clean (EXIF gone); private, served only to the team and staff.
    photo = models.ImageField(_("photo"), upload_to=card_photo_path, storage=teams_storage, blank=True)
    state = models.CharField(_("state"), max_length=16, choices=CardState.choices, default=CardState.QUEUED)
    # Each entry is the rows as typed, [{"hebrew_name": ..., "gender": "m", ...}], as the grid keeps them.
    first_entry = models.JSONField(_("first entry"), null=True, blank=True)
    first_entry_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("first entry typed by"),
    )
    first_entry_at = models.DateTimeField(_("first entry typed"), null=True, blank=True)
    second_entry = models.JSONField(_("second entry"), null=True, blank=True)
    second_entry_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("second entry typed by"),
    )
    second_entry_at = models.DateTimeField(_("second entry typed"), null=True, blank=True)
    # One order per card and one card per order: nothing on a card is saved twice.
    order = models.OneToOneField(
        Order, on_delete=models.PROTECT, null=True, blank=True, related_name="card_photo", verbose_name=_("order")
    )
    saved_at = models.DateTimeField(_("saved"), null=True, blank=True)

    class Meta:
        verbose_name = _("photo of a card")
        verbose_name_plural = _("photos of cards")
        ordering = ["id"]
        indexes = [models.Index(fields=["team", "state"], name="card_photo_team_state")]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=CardState.values), name="card_photo_state_known"),
            # Queued: nobody typed it yet. Typed, mismatch or saved: a first entry, its typist and its time.
            models.CheckConstraint(
                condition=Q(
                    state=CardState.QUEUED,
                    first_entry__isnull=True,
                    first_entry_by__isnull=True,
                    first_entry_at__isnull=True,
                )
                | (
                    ~Q(state=CardState.QUEUED)
                    & Q(first_entry__isnull=False, first_entry_by__isnull=False, first_entry_at__isnull=False)
                ),
                name="card_photo_first_entry_unless_queued",
            ),
            models.CheckConstraint(
                condition=Q(second_entry__isnull=True, second_entry_by__isnull=True, second_entry_at__isnull=True)
                | Q(second_entry__isnull=False, second_entry_by__isnull=False, second_entry_at__isnull=False),
                name="card_photo_second_entry_whole",
            ),
            # A second entry only once the first is in; a mismatch has both.
            models.CheckConstraint(
                condition=Q(second_entry__isnull=True) | Q(state__in=[CardState.MISMATCH, CardState.SAVED]),
                name="card_photo_second_entry_after_first",
            ),
            models.CheckConstraint(
                condition=~Q(state=CardState.MISMATCH) | Q(second_entry__isnull=False),
                name="card_photo_mismatch_has_two_entries",
            ),
            # Double entry is two people: the second typist is never the first.
            models.CheckConstraint(
                condition=Q(second_entry_by__isnull=True) | ~Q(second_entry_by=F("first_entry_by")),
                name="card_photo_second_typist_differs",
            ),
            # Saved: its order and when; before, neither.
            models.CheckConstraint(
                condition=Q(state=CardState.SAVED, order__isnull=False, saved_at__isnull=False)
                | (~Q(state=CardState.SAVED) & Q(order__isnull=True, saved_at__isnull=True)),
                name="card_photo_saved_has_order",
            ),
            # The photo goes only once its names are saved (retention).
            models.CheckConstraint(
                condition=Q(state=CardState.SAVED) | ~Q(photo=""), name="card_photo_kept_until_saved"
            ),
        ]

    def __str__(self):
        return f"{self.team} #{self.pk} ({self.get_state_display()})"
