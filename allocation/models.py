import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Collate, Length, Replace
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from scrolls.models import Campaign, Scroll
from teams.models import Team

from .validators import SEARCH_FOLDS, validate_hebrew_name


def name_search_key(field: str):
    """SQL for a Hebrew name as searched, in the "C" collation (so that a prefix search may walk
    the index name_listed_search): final letters, maqaf, geresh and gershayim read as
    their plain forms (stored names carry no niqqud). The same folds as
    validators.hebrew_search_key, which reads what people type."""
    expression = models.F(field)
    for written, searched in SEARCH_FOLDS:
        expression = Replace(expression, models.Value(written), models.Value(searched))
    return Collate(expression, "C")


def new_order_token():
    return secrets.token_urlsafe(24)


class OrderStatus(models.TextChoices):
    PENDING = "pending", _("Pending payment")
    PAID = "paid", _("Paid")
    CANCELLED = "cancelled", _("Cancelled")
    REFUNDED = "refunded", _("Refunded")


# The order's lifecycle, as data: from each status, the statuses it may move to. Money that arrives
# for a cancelled (expired) order is honoured; a refund keeps the letters. Nothing else moves.
# allocation.services.lifecycle.order_transition is the one place that moves an order, and a
# PostgreSQL trigger refuses any other move (allocation/migrations/0012_order_guard_trigger.py).
ORDER_TRANSITIONS = {
    OrderStatus.PENDING: frozenset({OrderStatus.PAID, OrderStatus.CANCELLED}),
    OrderStatus.CANCELLED: frozenset({OrderStatus.PAID}),
    OrderStatus.PAID: frozenset({OrderStatus.REFUNDED}),
    OrderStatus.REFUNDED: frozenset(),
}


class OrderCancellation(models.TextChoices):
    EXPIRED = "expired", _("Expired unpaid")
    STAFF = "staff", _("Cancelled by staff")


class OrderChannel(models.TextChoices):
    ONLINE = "online", _("Online")
    SHLIACH = "shliach", _("Shliach")
    OFFLINE = "offline", _("Offline")
    API = "api", _("API")
    # An honour letter given by staff at a reserved position (no payment).
    HONOUR = "honour", _("Honour letter")


class Order(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="orders", verbose_name=_("campaign"))
    # An unguessable handle for the buyer's links; the numeric id is for staff and the API.
    token = models.CharField(_("link token"), max_length=64, unique=True, default=new_order_token, editable=False)
    buyer_name = models.CharField(_("buyer's name"), max_length=200, blank=True)
    buyer_email = models.EmailField(_("buyer's email"), blank=True)
    buyer_phone = models.CharField(_("buyer's phone"), max_length=40, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="orders",
        verbose_name=_("registered by"),
    )
    channel = models.CharField(_("channel"), max_length=16, choices=OrderChannel.choices, default=OrderChannel.ONLINE)
    # The shliach whose referral link brought the buyer, credited with the order.
    referred_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="referred_orders",
        verbose_name=_("referred by"),
    )
    # The team the order counts for (its page's buy button, its shliach's link or registration,
    # the API's "team"); always a team of the order's campaign (order_place).
    team = models.ForeignKey(
        Team, on_delete=models.PROTECT, null=True, blank=True, related_name="orders", verbose_name=_("team")
    )
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    status = models.CharField(_("status"), max_length=16, choices=OrderStatus.choices, default=OrderStatus.PENDING)
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True, db_index=True)
    # When it was cancelled, and why; kept if money arrives later and the order is paid after all.
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)
    cancellation = models.CharField(
        _("cancellation"), max_length=16, choices=OrderCancellation.choices, blank=True, default=""
    )
    # Set once every name of the order holds a letter; the sweeper looks for paid orders without it.
    allocated_at = models.DateTimeField(_("letters allocated"), null=True, blank=True)
    # The email with the link to the buyer's letters is sent once; this records that it was.
    confirmation_sent_at = models.DateTimeField(_("confirmation emailed"), null=True, blank=True)
    # The language the buyer used when ordering: their emails are written in it. Blank (an order
    # registered for someone else): the registering user's language, else the site's.
    language = models.CharField(_("language"), max_length=8, blank=True, choices=settings.LANGUAGES, default="")
    # The consent given when the order was placed (the buy page, the API, an import or the grid):
    # when, and to which version of the privacy notice (PRIVACY_NOTICE_VERSION). Written by
    # order_place alone, never changed (allocation/migrations/0014).
    consent_at = models.DateTimeField(_("consent given"), null=True, blank=True, editable=False)
    privacy_notice_version = models.CharField(
        _("privacy notice consented to"), max_length=32, blank=True, default="", editable=False
    )
    # Whether any of its names is given to someone (a Gift), set when it is placed: what follows
    # its allocation (delivering the e-cards) is queued without looking for gifts first.
    gives_gifts = models.BooleanField(_("gives letters as gifts"), default=False, db_default=False, editable=False)
    # When the buyer's contact data and the names' personal details were erased (the privacy
    # app: on request, or after PERSONAL_DATA_RETENTION_YEARS); the Hebrew names, letters and
    # amounts stay.
    erased_at = models.DateTimeField(_("personal data erased"), null=True, blank=True, editable=False)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="order_amount_not_negative"),
            models.CheckConstraint(condition=Q(status__in=OrderStatus.values), name="order_status_known"),
            models.CheckConstraint(condition=Q(channel__in=OrderChannel.values), name="order_channel_known"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "cancelled"]) | Q(paid_at__isnull=False),
                name="order_paid_has_date",
            ),
            models.CheckConstraint(
                condition=~Q(status="cancelled") | (Q(cancelled_at__isnull=False) & ~Q(cancellation="")),
                name="order_cancelled_has_date_and_reason",
            ),
            # An erased order keeps neither: whom it was for is what was erased.
            models.CheckConstraint(
                condition=~Q(buyer_email="") | Q(created_by__isnull=False) | Q(erased_at__isnull=False),
                name="order_has_buyer_or_account",
            ),
            models.CheckConstraint(
                condition=Q(consent_at__isnull=True, privacy_notice_version="")
                | (Q(consent_at__isnull=False) & ~Q(privacy_notice_version="")),
                name="order_consent_has_date_and_version",
            ),
        ]
        permissions = [("view_all_orders", _("Can see every order"))]

    def __str__(self):
        return f"#{self.pk} {self.campaign.slug} ({self.get_status_display()})"

    @property
    def is_paid(self):
        return self.status == OrderStatus.PAID

    @property
    def is_expired(self):
        """Cancelled because nobody paid in time (PENDING_ORDER_TTL_MINUTES)."""
        return self.status == OrderStatus.CANCELLED and self.cancellation == OrderCancellation.EXPIRED


class Gender(models.TextChoices):
    MALE = "m", _("Male (ben)")
    FEMALE = "f", _("Female (bas)")


class DedicationKind(models.TextChoices):
    """Why a letter is bought for a name (issue 19): lowercase identifiers in the API and imports.
    IN_MEMORY is the same fact as Name.deceased, kept equal by name_clean and the database."""

    NONE = "none", _("No dedication")
    IN_HONOUR = "in_honour", _("In honour of")
    IN_MEMORY = "in_memory", _("In memory of")
    REFUAH_SHLEIMAH = "refuah_shleimah", _("For a complete recovery (refuah shleimah)")
    SUCCESS = "success", _("For success")
    BIRTH = "birth", _("For the birth of")
    BAR_MITZVAH = "bar_mitzvah", _("For the bar mitzvah of")
    BAT_MITZVAH = "bat_mitzvah", _("For the bas mitzvah of")
    WEDDING = "wedding", _("For the wedding of")


# The customary Hebrew wording of each kind, as written on a certificate (never translated).
# Keyed by the plain value: a TextChoices member hashes by its name, not its value.
DEDICATION_HEBREW = {
    "in_honour": "לזכות",
    "in_memory": "לעילוי נשמת",
    "refuah_shleimah": "לרפואה שלמה",
    "success": "להצלחת",
    "birth": "לרגל הולדת",
    "bar_mitzvah": "לרגל בר המצווה של",
    "bat_mitzvah": "לרגל בת המצווה של",
    "wedding": "לרגל נישואי",
}
DEDICATION_TEXT_MAX_LENGTH = 200


class Name(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="names", verbose_name=_("order"))
    hebrew_name = models.CharField(_("Hebrew name"), max_length=100, validators=[validate_hebrew_name])
    parent_hebrew_name = models.CharField(_("parent's Hebrew name"), max_length=100, validators=[validate_hebrew_name])
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices)
    family_name = models.CharField(_("family name"), max_length=100, blank=True)
    english_name = models.CharField(_("English name"), max_length=200, blank=True)
    deceased = models.BooleanField(_("in memory of (deceased)"), default=False)
    date_of_birth = models.DateField(_("date of birth"), null=True, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True)
    dedication_kind = models.CharField(
        _("dedication"), max_length=20, choices=DedicationKind.choices, default=DedicationKind.NONE, db_default="none"
    )
    dedication_text = models.CharField(
        _("dedication text"), max_length=DEDICATION_TEXT_MAX_LENGTH, blank=True, default="", db_default=""
    )
    # Whether the name may appear on its scroll's public page and in the public search.
    listed = models.BooleanField(_("listed publicly"), default=False, db_default=False)
    # Every correction of a name is recorded (who, when, what it read before). Names come in by
    # bulk_create, which records nothing: their order's history tells when they arrived.
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("name")
        verbose_name_plural = _("names")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=~Q(hebrew_name=""), name="name_hebrew_required"),
            models.CheckConstraint(condition=~Q(parent_hebrew_name=""), name="name_parent_required"),
            models.CheckConstraint(condition=Q(gender__in=["m", "f"]), name="name_gender_known"),
            models.CheckConstraint(
                condition=Q(dedication_kind__in=DedicationKind.values), name="name_dedication_kind_known"
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("dedication_text"), DEDICATION_TEXT_MAX_LENGTH),
                name="name_dedication_text_short",
            ),
            # "In memory of" and deceased are one fact, kept for clients that know only deceased.
            models.CheckConstraint(
                condition=Q(deceased=True, dedication_kind="in_memory")
                | (Q(deceased=False) & ~Q(dedication_kind="in_memory")),
                name="name_deceased_is_in_memory",
            ),
        ]
        indexes = [
            # The public search of listed names (allocation.selectors.names_listed): a prefix of
            # the Hebrew name without final letters, as name_search_key reads it.
            # In the "C" collation, so that LIKE 'prefix%' may walk it.
            models.Index(name_search_key("hebrew_name"), condition=Q(listed=True), name="name_listed_search"),
        ]

    def __str__(self):
        return self.display_name

    @property
    def connector(self):
        return "בן" if self.gender == Gender.MALE else "בת"

    @property
    def display_name(self):
        """ "<name> ben/bas <parent>" as written on a certificate."""
        return f"{self.hebrew_name} {self.connector} {self.parent_hebrew_name}"

    display_name.fget.short_description = _("name")


class Letter(models.Model):
    """One position of one scroll, held by one name, forever.

    The database refuses a second name at a position (unique), a position outside the scroll
    and any change or deletion after creation (a trigger on PostgreSQL, see migrations).
    """

    scroll = models.ForeignKey(Scroll, on_delete=models.PROTECT, related_name="letters", verbose_name=_("scroll"))
    position = models.PositiveIntegerField(_("position"))
    name = models.OneToOneField(Name, on_delete=models.PROTECT, related_name="letter", verbose_name=_("name"))
    allocated_at = models.DateTimeField(_("allocated"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("letter")
        verbose_name_plural = _("letters")
        ordering = ["scroll_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["scroll", "position"], name="letter_position_unique"),
            models.CheckConstraint(condition=Q(position__gte=1), name="letter_position_positive"),
        ]

    def __str__(self):
        return f"{self.scroll} letter {self.position}"


class Reservation(models.Model):
    """A position of a scroll kept for an honouree: allocation walks past it, and staff give it
    (allocation.services.reservation_give), for the last letters at the siyum itself.

    On PostgreSQL a trigger keeps the position within the scroll and free of any other name's
    letter, refuses to reserve a position already written, and keeps a reservation that the
    walk has reached or that was given (see migrations).
    """

    scroll = models.ForeignKey(Scroll, on_delete=models.PROTECT, related_name="reservations", verbose_name=_("scroll"))
    position = models.PositiveIntegerField(_("position"))
    honouree = models.CharField(
        _("honouree"), max_length=200, blank=True, help_text=_("Who the letter is kept for, as staff know them.")
    )
    note = models.TextField(_("note"), blank=True)
    # Made when the scroll opened (the campaign's first and last honour letters), not by a person.
    is_default = models.BooleanField(_("made with the scroll"), default=False, editable=False)
    # When allocation's walk stepped on this position and passed it by: from then it may be given.
    reached_at = models.DateTimeField(_("reached"), null=True, blank=True, editable=False)
    # The name written at this position once it is given; the letter guard lets only this name
    # write a letter here.
    name = models.OneToOneField(
        Name,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reservation",
        verbose_name=_("given to"),
        editable=False,
    )
    given_at = models.DateTimeField(_("given"), null=True, blank=True, editable=False)
    given_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("given by"),
        editable=False,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reserved by"),
        editable=False,
    )
    created_at = models.DateTimeField(_("reserved"), default=timezone.now, editable=False)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("honour letter")
        verbose_name_plural = _("honour letters")
        ordering = ["scroll_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["scroll", "position"], name="reservation_position_unique"),
            models.CheckConstraint(condition=Q(position__gte=1), name="reservation_position_positive"),
            models.CheckConstraint(
                condition=Q(name__isnull=True, given_at__isnull=True)
                | Q(name__isnull=False, given_at__isnull=False, reached_at__isnull=False),
                name="reservation_given_has_name_date_and_was_reached",
            ),
        ]

    def __str__(self):
        return f"{self.scroll} letter {self.position} ({self.honouree or '—'})"

    @property
    def is_given(self):
        return self.name_id is not None


def new_gift_token():
    return secrets.token_urlsafe(24)


class GiftState(models.TextChoices):
    WAITING = "waiting", _("Waiting")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class GiftLanguage(models.TextChoices):
    HEBREW = "he", _("Hebrew")
    ENGLISH = "en", _("English")
    RUSSIAN = "ru", _("Russian")


GIFT_MESSAGE_MAX_LENGTH = 500


class Gift(models.Model):
    """A name's letter given to someone (issue 19): an e-card emailed to the recipient on its day
    (deliver_on, in the campaign's time zone; at once when none), linking to a page of the
    recipient's own (token). Written with its name, in the order's transaction (order_place);
    delivered by the gifts app, which alone changes its state. The claim on a delivery is the
    row lock held while the email is sent (gifts.services.gift_deliver): no state "sending"."""

    name = models.OneToOneField(Name, on_delete=models.PROTECT, related_name="gift", verbose_name=_("name"))
    recipient_name = models.CharField(_("recipient's name"), max_length=200)
    recipient_email = models.EmailField(_("recipient's email"), max_length=254)
    language = models.CharField(_("language"), max_length=2, choices=GiftLanguage.choices)
    deliver_on = models.DateField(_("deliver on"), null=True, blank=True)
    message = models.CharField(_("message"), max_length=GIFT_MESSAGE_MAX_LENGTH, blank=True, default="")
    giver_name = models.CharField(_("giver's name"), max_length=200, blank=True, default="")
    token = models.CharField(_("link token"), max_length=64, unique=True, default=new_gift_token, editable=False)
    state = models.CharField(_("state"), max_length=10, choices=GiftState.choices, default=GiftState.WAITING)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    buyer_told_at = models.DateTimeField(_("buyer told"), null=True, blank=True)
    failure = models.CharField(_("failure"), max_length=500, blank=True, default="")
    attempts = models.PositiveIntegerField(_("attempts"), default=0)

    class Meta:
        verbose_name = _("gift")
        verbose_name_plural = _("gifts")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=["waiting", "delivered", "failed"]), name="gift_state_known"),
            models.CheckConstraint(condition=Q(language__in=["he", "en", "ru"]), name="gift_language_known"),
            models.CheckConstraint(condition=~Q(recipient_name=""), name="gift_recipient_name_required"),
            models.CheckConstraint(condition=~Q(recipient_email=""), name="gift_recipient_email_required"),
            models.CheckConstraint(
                condition=Q(state="delivered", delivered_at__isnull=False)
                | (~Q(state="delivered") & Q(delivered_at__isnull=True)),
                name="gift_delivered_has_time",
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("message"), GIFT_MESSAGE_MAX_LENGTH), name="gift_message_short"
            ),
        ]
        indexes = [
            # What the beat task looks for: gifts still waiting.
            models.Index(fields=["deliver_on"], condition=Q(state="waiting"), name="gift_waiting"),
        ]

    def __str__(self):
        return f"{self.recipient_name} ({self.get_state_display()})"
