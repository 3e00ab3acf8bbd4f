"""The organisation behind each campaign, and the receipts (and cancellation notes) it issues.

A receipt is numbered per organisation, series and calendar year (in the organisation's time
zone) from a counter row taken under lock in the transaction that records the payment
(receipts.services); the unique constraint on the number is the guarantee behind it. PostgreSQL
refuses to delete or renumber a receipt or to turn a counter back (migrations/0002).
"""

import re
import secrets

from django.core.exceptions import ValidationError
from django.core.files.storage import storages
from django.core.signals import setting_changed
from django.core.validators import FileExtensionValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.dispatch import receiver
from django.utils import timezone
from django.utils.functional import LazyObject, empty
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from allocation.models import Order
from scrolls.models import Campaign, validate_time_zone


class _ReceiptsStorage(LazyObject):
    """STORAGES["receipts"], looked up when first used and again after STORAGES changes (tests
    point it at a temporary folder)."""

    def _setup(self):
        self._wrapped = storages["receipts"]


_receipts_storage = _ReceiptsStorage()


@receiver(setting_changed)
def _receipts_storage_reset(*, setting, **kwargs):
    if setting == "STORAGES":
        _receipts_storage._wrapped = empty


def receipts_storage():
    return _receipts_storage


class Jurisdiction(models.TextChoices):
    US = "us", _("United States (501(c)(3))")
    IL = "il", _("Israel (section 46)")
    OTHER = "other", _("Elsewhere (a plain acknowledgement)")


# The time zone a new organisation counts its years in, by jurisdiction.
JURISDICTION_TIME_ZONES = {
    Jurisdiction.US: "America/New_York",
    Jurisdiction.IL: "Asia/Jerusalem",
    Jurisdiction.OTHER: "UTC",
}

# Logos: small raster images only (WeasyPrint draws them from a data: URI).
LOGO_MAX_BYTES = 1_000_000
LOGO_MAX_PIXELS = 4000


def validate_logo(file):
    if file.size > LOGO_MAX_BYTES:
        raise ValidationError(
            _("The logo is larger than %(limit)s KB: save it smaller."),
            params={"limit": LOGO_MAX_BYTES // 1000},
            code="logo_too_large",
        )
    image = getattr(file, "image", None)  # set by ImageField's form field once Pillow read it
    if image is not None:
        if image.format not in ("PNG", "JPEG"):
            raise ValidationError(_("The logo must be a PNG or JPEG image."), code="logo_format")
        if max(image.size) > LOGO_MAX_PIXELS:
            raise ValidationError(
                _("The logo is wider or taller than %(limit)s pixels."),
                params={"limit": LOGO_MAX_PIXELS},
                code="logo_too_many_pixels",
            )


def logo_upload_to(organisation, filename):
    extension = filename.rsplit(".", 1)[-1].lower()
    return f"logos/{organisation.slug}-{secrets.token_hex(4)}.{extension}"


def _tax_id_digits(value: str) -> str:
    return re.sub(r"[\s-]", "", value or "")


class Organisation(models.Model):
    """The legal body that receives the money of its campaigns and issues their receipts."""

    slug = models.SlugField(_("slug"), max_length=64, unique=True)
    name = models.CharField(_("legal name (English)"), max_length=200)
    name_he = models.CharField(_("legal name (Hebrew)"), max_length=200, blank=True)
    name_ru = models.CharField(_("legal name (Russian)"), max_length=200, blank=True)
    address = models.TextField(_("address"), blank=True)
    address_he = models.TextField(_("address (Hebrew)"), blank=True)
    jurisdiction = models.CharField(_("jurisdiction"), max_length=8, choices=Jurisdiction.choices)
    tax_id = models.CharField(
        _("tax identity"),
        max_length=32,
        blank=True,
        help_text=_("US: the EIN (12-3456789). Israel: the amuta's registration number (58-012345-6)."),
        validators=[RegexValidator(r"^[0-9A-Za-z][0-9A-Za-z -]*$", _("Digits, letters, spaces and hyphens only."))],
    )
    section_46_number = models.CharField(_("section 46 approval number"), max_length=32, blank=True)
    section_46_expires = models.DateField(_("section 46 approval valid until"), null=True, blank=True)
    signatory_name = models.CharField(_("signatory"), max_length=200, blank=True)
    signatory_title = models.CharField(_("signatory's title"), max_length=200, blank=True)
    logo = models.ImageField(
        _("logo"),
        storage=receipts_storage,
        upload_to=logo_upload_to,
        max_length=255,
        blank=True,
        validators=[FileExtensionValidator(["png", "jpg", "jpeg"]), validate_logo],
    )
    # Receipts are numbered per calendar year in this zone.
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="Asia/Jerusalem", validators=[validate_time_zone]
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["slug"]
        # The treasurer's view (/staff/accounts/): staff with this permission only.
        permissions = [("view_accounts", _("Can view the accounts"))]
        constraints = [
            models.CheckConstraint(condition=Q(jurisdiction__in=Jurisdiction.values), name="organisation_jurisdiction"),
            models.CheckConstraint(
                condition=Q(jurisdiction="other") | ~Q(tax_id=""), name="organisation_us_il_has_tax_id"
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        super().clean()
        digits = _tax_id_digits(self.tax_id)
        if self.jurisdiction == Jurisdiction.US and not re.fullmatch(r"\d{9}", digits):
            raise ValidationError(
                {"tax_id": _("A US organisation needs its EIN: nine digits, e.g. 12-3456789.")}, code="ein"
            )
        if self.jurisdiction == Jurisdiction.IL and not re.fullmatch(r"\d{9}", digits):
            raise ValidationError(
                {"tax_id": _("An Israeli organisation needs its registration number: nine digits, e.g. 58-012345-6.")},
                code="amuta_number",
            )
        if bool(self.section_46_number) != bool(self.section_46_expires):
            raise ValidationError(
                {"section_46_expires": _("Give the section 46 approval's number and its expiry together.")},
                code="section_46",
            )

    def legal_name(self, language: str) -> str:
        """The legal name in `language` where there is one, else the English."""
        return {"he": self.name_he, "ru": self.name_ru}.get(language.split("-")[0]) or self.name

    def address_in(self, language: str) -> str:
        return (self.address_he if language.split("-")[0] == "he" else "") or self.address

    def section_46_valid_on(self, day) -> bool:
        return bool(self.section_46_number and self.section_46_expires and day <= self.section_46_expires)


class CampaignOrganisation(models.Model):
    """Which organisation a campaign's money goes to (kept here: scrolls knows nothing of
    receipts). A campaign without a row issues no receipts."""

    campaign = models.OneToOneField(
        Campaign,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="organisation_link",
        verbose_name=_("campaign"),
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="campaign_links", verbose_name=_("organisation")
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("campaign's organisation")
        verbose_name_plural = _("campaigns' organisations")

    def __str__(self):
        return f"{self.campaign_id} → {self.organisation_id}"


class ReceiptKind(models.TextChoices):
    RECEIPT = "receipt", _("Receipt")
    # Refers to the receipt it cancels; numbered in a series of its own.
    CANCELLATION = "cancellation", _("Cancellation note")


class ReceiptCounter(models.Model):
    """The last number given in a series of an organisation's year. Taken under its row lock in
    the paying transaction, so numbers run 1, 2, 3... without a gap (a rolled-back payment rolls
    its number back too) and never repeat; PostgreSQL refuses to delete it or turn it back."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    series = models.CharField(max_length=16, choices=ReceiptKind.choices)
    year = models.PositiveSmallIntegerField()
    last_number = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "series", "year"], name="receipt_counter_unique"),
        ]


def receipt_upload_to(receipt, filename):
    return f"{receipt.organisation_id}/{receipt.year}/{filename}"


class Receipt(models.Model):
    """A receipt for a paid order, or the note cancelling it after a refund. Issued once,
    never deleted or renumbered; its PDF is drawn afterwards by a worker."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="receipts", verbose_name=_("organisation")
    )
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="receipts", verbose_name=_("order"))
    kind = models.CharField(_("kind"), max_length=16, choices=ReceiptKind.choices, default=ReceiptKind.RECEIPT)
    cancels = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="cancellation",
        verbose_name=_("cancels"),
    )
    year = models.PositiveSmallIntegerField(_("year"))
    number = models.PositiveIntegerField(_("number"))
    issued_at = models.DateTimeField(_("issued"), default=timezone.now)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    # As on the paper: the donor's name and the language when it was issued.
    donor_name = models.CharField(_("donor"), max_length=200, blank=True)
    language = models.CharField(_("language"), max_length=8)
    file = models.FileField(_("PDF"), storage=receipts_storage, upload_to=receipt_upload_to, max_length=255, blank=True)
    drawn_at = models.DateTimeField(_("drawn"), null=True, blank=True)
    emailed_at = models.DateTimeField(_("emailed"), null=True, blank=True)

    class Meta:
        verbose_name = _("receipt")
        verbose_name_plural = _("receipts")
        ordering = ["organisation_id", "kind", "year", "number"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "kind", "year", "number"], name="receipt_number_unique"),
            models.UniqueConstraint(fields=["order", "kind"], name="receipt_one_of_each_kind_per_order"),
            models.CheckConstraint(condition=Q(kind__in=ReceiptKind.values), name="receipt_kind_known"),
            models.CheckConstraint(
                condition=Q(kind="receipt", cancels__isnull=True) | Q(kind="cancellation", cancels__isnull=False),
                name="receipt_cancellation_refers_to_receipt",
            ),
            models.CheckConstraint(condition=Q(number__gte=1), name="receipt_number_positive"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="receipt_amount_positive"),
        ]
        indexes = [models.Index(fields=["drawn_at"], name="receipt_drawn_at", condition=Q(drawn_at__isnull=True))]

    def __str__(self):
        return self.display_number

    @property
    def display_number(self) -> str:
        """2026-00042 for a receipt, C-2026-00003 for a cancellation note."""
        prefix = "C-" if self.kind == ReceiptKind.CANCELLATION else ""
        return f"{prefix}{self.year}-{self.number:05d}"

    @property
    def is_cancellation(self) -> bool:
        return self.kind == ReceiptKind.CANCELLATION
