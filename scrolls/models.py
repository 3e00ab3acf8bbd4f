from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

# The figure campaigns quote (Koren); used until a text edition is loaded.
DEFAULT_TOTAL_LETTERS = 304_805


class ScriptCustom(models.TextChoices):
    ASHKENAZ = "ashkenaz", _("Ashkenaz (Beis Yosef script)")
    ARI = "ari", _("Ari (Chabad)")
    SEFARD = "sefard", _("Sefard (Velish script)")
    TEIMAN = "teiman", _("Teiman (Yemenite)")


class AllocationMode(models.TextChoices):
    SEQUENTIAL = "sequential", _("Sequential")
    LOTTERY = "lottery", _("Lottery")


class Campaign(models.Model):
    slug = models.SlugField(_("slug"), max_length=64, unique=True)
    name = models.CharField(_("name (English)"), max_length=200)
    name_he = models.CharField(_("name (Hebrew)"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    description_he = models.TextField(_("description (Hebrew)"), blank=True)
    custom = models.CharField(_("script custom"), max_length=16, choices=ScriptCustom.choices)
    currency = models.CharField(_("currency"), max_length=3, default="USD")
    price = models.DecimalField(
        _("price per letter"),
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.00"))],
    )
    allocation_mode = models.CharField(
        _("allocation mode"),
        max_length=16,
        choices=AllocationMode.choices,
        default=AllocationMode.SEQUENTIAL,
    )
    time_zone = models.CharField(_("time zone"), max_length=64, default="America/New_York")
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="campaign_price_not_negative"),
            models.CheckConstraint(
                condition=Q(custom__in=ScriptCustom.values), name="campaign_custom_known"
            ),
            models.CheckConstraint(
                condition=Q(allocation_mode__in=AllocationMode.values),
                name="campaign_allocation_mode_known",
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="campaign_currency_iso"
            ),
        ]

    def __str__(self):
        return self.name


class ScrollState(models.TextChoices):
    OPEN = "open", _("Open")
    FULL = "full", _("Full")
    COMPLETED = "completed", _("Completed (siyum held)")


class Scroll(models.Model):
    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="scrolls", verbose_name=_("campaign")
    )
    number = models.PositiveIntegerField(_("number"))
    total_letters = models.PositiveIntegerField(_("total letters"), default=DEFAULT_TOTAL_LETTERS)
    state = models.CharField(
        _("state"), max_length=16, choices=ScrollState.choices, default=ScrollState.OPEN
    )
    # Kept by the allocation service inside the transaction that holds the campaign lock, so
    # reading progress never counts letters; a Celery task can recompute it from the letters.
    letters_allocated = models.PositiveIntegerField(_("letters allocated"), default=0)
    last_position = models.PositiveIntegerField(_("last position given"), default=0)
    opened_at = models.DateTimeField(_("opened"), auto_now_add=True)
    filled_at = models.DateTimeField(_("filled"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)

    class Meta:
        verbose_name = _("scroll")
        verbose_name_plural = _("scrolls")
        ordering = ["campaign_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "number"], name="scroll_number_unique"),
            # At most one open scroll per campaign; the allocation service opens the next one
            # in the same transaction that fills the last, so there is always exactly one.
            models.UniqueConstraint(
                fields=["campaign"],
                condition=Q(state="open"),
                name="scroll_one_open_per_campaign",
            ),
            models.CheckConstraint(condition=Q(number__gte=1), name="scroll_number_positive"),
            models.CheckConstraint(
                condition=Q(total_letters__gte=1), name="scroll_total_letters_positive"
            ),
            models.CheckConstraint(
                condition=Q(letters_allocated__lte=F("total_letters")),
                name="scroll_allocated_within_total",
            ),
            models.CheckConstraint(
                condition=Q(last_position__lte=F("total_letters")),
                name="scroll_last_position_within_total",
            ),
            models.CheckConstraint(
                condition=Q(state__in=ScrollState.values), name="scroll_state_known"
            ),
            models.CheckConstraint(
                condition=Q(state="open") | Q(filled_at__isnull=False),
                name="scroll_filled_has_date",
            ),
        ]

    def __str__(self):
        return f"{self.campaign} #{self.number}"

    @property
    def letters_remaining(self):
        return self.total_letters - self.letters_allocated

    @property
    def percent_allocated(self):
        return round(100 * self.letters_allocated / self.total_letters, 2)
