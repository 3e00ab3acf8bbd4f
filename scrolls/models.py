import zoneinfo
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.currencies import CURRENCIES, CURRENCY_CHOICES, currency_amount_exact

from .torah_text import LONGEST_WORD


def validate_time_zone(value):
    """An IANA zone name such as Asia/Jerusalem: weeks, reports and dates are counted in it, and
    a misspelt one would stop every campaign's Friday report."""
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            _("%(value)s is not a time zone: use a name such as Asia/Jerusalem or America/New_York."),
            params={"value": value},
            code="invalid_time_zone",
        )


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
    # Only currencies whose minor units the code knows (core.currencies): Stripe is sent the
    # amount in them, and a guess would charge 100 times the price, or a hundredth of it.
    currency = models.CharField(_("currency"), max_length=3, default="USD", choices=CURRENCY_CHOICES)
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
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="America/New_York", validators=[validate_time_zone]
    )
    discloses_parsha_only = models.BooleanField(
        _("tells buyers only the parsha"),
        default=False,
        help_text=_("Buyers learn the parsha of their letter, not the letter itself (staff see it all)."),
    )
    # Eligibility, enforced for every name by allocation.services.name_clean.
    boys_under_age = models.PositiveSmallIntegerField(
        _("boys must be under (years)"),
        null=True,
        blank=True,
        help_text=_("Age on the day of purchase; empty for no limit. A limit makes the date of birth required."),
    )
    girls_under_age = models.PositiveSmallIntegerField(
        _("girls must be under (years)"),
        null=True,
        blank=True,
        help_text=_("Age on the day of purchase; empty for no limit. A limit makes the date of birth required."),
    )
    for_the_departed = models.BooleanField(
        _("for the departed only"),
        default=False,
        help_text=_("Every name is written in memory of someone who has passed away."),
    )
    parent_is_father = models.BooleanField(
        _("parent is the father"),
        default=False,
        help_text=_("Names are given with the father's name (customary for the departed), not the mother's."),
    )
    # Honour letters: positions of every new scroll reserved for honourees, as at the first
    # siyum of 5742 (the first two letters, and the last two written at the siyum itself).
    honour_letters_first = models.PositiveSmallIntegerField(
        _("honour letters at the start"),
        default=2,
        help_text=_("The first letters of each new scroll are reserved for honourees."),
    )
    honour_letters_last = models.PositiveSmallIntegerField(
        _("honour letters at the end"),
        default=2,
        help_text=_("The last letters of each new scroll are reserved for honourees, given at the siyum."),
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="campaign_price_not_negative"),
            models.CheckConstraint(condition=Q(custom__in=ScriptCustom.values), name="campaign_custom_known"),
            models.CheckConstraint(
                condition=Q(allocation_mode__in=AllocationMode.values),
                name="campaign_allocation_mode_known",
            ),
            models.CheckConstraint(condition=Q(currency__regex=r"^[A-Z]{3}$"), name="campaign_currency_iso"),
            models.CheckConstraint(condition=Q(currency__in=CURRENCIES), name="campaign_currency_known"),
            models.CheckConstraint(
                condition=Q(boys_under_age__isnull=True) | Q(boys_under_age__gte=1),
                name="campaign_boys_age_limit_positive",
            ),
            models.CheckConstraint(
                condition=Q(girls_under_age__isnull=True) | Q(girls_under_age__gte=1),
                name="campaign_girls_age_limit_positive",
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        super().clean()
        if (
            self.currency in CURRENCIES
            and self.price is not None
            and not currency_amount_exact(self.price, self.currency)
        ):
            raise ValidationError(
                {"price": _("%(currency)s has no fractions: give a whole amount.") % {"currency": self.currency}}
            )

    @property
    def requires_date_of_birth(self):
        return self.boys_under_age is not None or self.girls_under_age is not None

    @property
    def parent_name_label(self):
        return _("Father's Hebrew name") if self.parent_is_father else _("Mother's Hebrew name")


class TextEdition(models.Model):
    """One text of the Torah, letter by letter as a sofer writes it (see scrolls.torah_text).

    Loaded whole by `manage.py load_torah_text`; its letters never change once a scroll uses it.
    """

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=64, unique=True)
    source = models.CharField(_("source"), max_length=500)
    letter_count = models.PositiveIntegerField(_("letters"))
    # SHA-256 of the text, so loading the same text again changes nothing.
    checksum = models.CharField(_("checksum"), max_length=64, editable=False)
    loaded_at = models.DateTimeField(_("loaded"), default=timezone.now)
    is_default = models.BooleanField(
        _("default"), default=False, help_text=_("New scrolls are written from the default edition.")
    )

    class Meta:
        verbose_name = _("text edition")
        verbose_name_plural = _("text editions")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="text_edition_one_default"
            ),
            models.CheckConstraint(condition=Q(letter_count__gte=1), name="text_edition_has_letters"),
        ]

    def __str__(self):
        return self.name


class TextLetter(models.Model):
    """The letter at one position of an edition, so at that position of every scroll written
    from it. A position is looked up through the (edition, position) unique index."""

    edition = models.ForeignKey(
        TextEdition, on_delete=models.CASCADE, related_name="letters", verbose_name=_("edition")
    )
    position = models.PositiveIntegerField(_("position"))
    letter = models.CharField(_("letter"), max_length=1)
    word = models.CharField(_("word"), max_length=LONGEST_WORD)
    letter_index_in_word = models.PositiveSmallIntegerField(_("letter within the word"))
    book = models.CharField(_("book"), max_length=20)
    book_he = models.CharField(_("book (Hebrew)"), max_length=20)
    chapter = models.PositiveSmallIntegerField(_("chapter"))
    verse = models.PositiveSmallIntegerField(_("verse"))
    parsha = models.CharField(_("parsha"), max_length=40)
    parsha_he = models.CharField(_("parsha (Hebrew)"), max_length=40)

    class Meta:
        verbose_name = _("letter of the text")
        verbose_name_plural = _("letters of the text")
        ordering = ["edition_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["edition", "position"], name="text_letter_position_unique"),
            models.CheckConstraint(condition=Q(position__gte=1), name="text_letter_position_positive"),
        ]

    def __str__(self):
        return f"{self.letter} ({self.word}, {self.book} {self.chapter}:{self.verse})"


class ScrollState(models.TextChoices):
    OPEN = "open", _("Open")
    FULL = "full", _("Full")
    COMPLETED = "completed", _("Completed (siyum held)")


class Scroll(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="scrolls", verbose_name=_("campaign"))
    number = models.PositiveIntegerField(_("number"))
    # Null only for scrolls opened before any text was loaded. When set, total_letters is the
    # edition's letter count; neither changes once the scroll holds a letter (a trigger on
    # PostgreSQL, see scrolls/migrations/0003).
    edition = models.ForeignKey(
        TextEdition,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="scrolls",
        verbose_name=_("text edition"),
    )
    total_letters = models.PositiveIntegerField(_("total letters"), default=DEFAULT_TOTAL_LETTERS)
    state = models.CharField(_("state"), max_length=16, choices=ScrollState.choices, default=ScrollState.OPEN)
    # Kept by the allocation service inside the transaction that holds the campaign lock, so
    # reading progress never counts letters; a Celery task can recompute it from the letters.
    letters_allocated = models.PositiveIntegerField(_("letters allocated"), default=0)
    # Positions are given out along the scroll's allocation order: 1, 2, 3... for sequential
    # scrolls, a fixed permutation of 1..N keyed by lottery_seed for lottery scrolls. This
    # counts the steps taken along it, so the next position is step steps_walked + 1.
    steps_walked = models.PositiveIntegerField(_("steps walked along the allocation order"), default=0)
    # Set when the scroll is opened for a lottery campaign, and fixed like the edition.
    lottery_seed = models.BigIntegerField(_("lottery seed"), null=True, blank=True, editable=False)
    opened_at = models.DateTimeField(_("opened"), auto_now_add=True)
    filled_at = models.DateTimeField(_("filled"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    # Changes by people and the scroll's states; the walk's counters are saved without a record
    # (allocation.services: one per order would bury the changes that matter).
    history = HistoricalRecords(excluded_fields=["letters_allocated", "steps_walked"])

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
            models.CheckConstraint(condition=Q(total_letters__gte=1), name="scroll_total_letters_positive"),
            models.CheckConstraint(
                condition=Q(letters_allocated__lte=F("total_letters")),
                name="scroll_allocated_within_total",
            ),
            models.CheckConstraint(
                condition=Q(steps_walked__lte=F("total_letters")),
                name="scroll_steps_walked_within_total",
            ),
            # Every letter took a step; a step may give no letter (a reserved position).
            models.CheckConstraint(
                condition=Q(letters_allocated__lte=F("steps_walked")),
                name="scroll_allocated_within_steps",
            ),
            models.CheckConstraint(condition=Q(state__in=ScrollState.values), name="scroll_state_known"),
            models.CheckConstraint(
                condition=Q(state="open") | Q(filled_at__isnull=False),
                name="scroll_filled_has_date",
            ),
            # A scroll closes only once the walk has reached its end (every position taken or
            # reserved), and is completed only at its siyum, with every position written.
            models.CheckConstraint(
                condition=Q(state="open") | Q(steps_walked=F("total_letters")),
                name="scroll_closed_is_walked",
            ),
            models.CheckConstraint(
                condition=~Q(state="completed")
                | (Q(completed_at__isnull=False) & Q(letters_allocated=F("total_letters"))),
                name="scroll_completed_is_whole",
            ),
        ]

    def __str__(self):
        return f"{self.campaign} #{self.number}"

    @property
    def is_lottery(self):
        return self.lottery_seed is not None

    @property
    def letters_remaining(self):
        return self.total_letters - self.letters_allocated

    @property
    def percent_allocated(self):
        return round(100 * self.letters_allocated / self.total_letters, 2)
