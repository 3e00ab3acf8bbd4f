from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from allocation.models import (
    DEDICATION_TEXT_MAX_LENGTH,
    GIFT_MESSAGE_MAX_LENGTH,
    DedicationKind,
    Gender,
    Gift,
    GiftLanguage,
    Name,
    Order,
    OrderStatus,
)
from allocation.selectors import names_letters_describe, order_letters_describe
from allocation.services import order_expires_at
from allocation.validators import normalize_hebrew_name, validate_hebrew_name, validate_visible_characters
from certificates.selectors import certificate_urls, certificates_by_name_id
from core.serializers import ModelSerializerFieldsOnce
from receipts.models import ReceiptKind
from receipts.selectors import order_receipts_by_kind, receipt_describe
from scrolls.models import Campaign
from teams.models import Team

MAX_NAMES_PER_ORDER = 100_000


class HebrewNameField(serializers.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 100)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = normalize_hebrew_name(super().to_internal_value(data))
        try:
            validate_hebrew_name(value)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages) from error
        return value


class DedicationSerializer(serializers.Serializer):
    """Why the letter is bought for the name; read into and from the name's dedication_kind and
    dedication_text (source="*"). Left out: "in_memory" if deceased, else "none"."""

    kind = serializers.ChoiceField(source="dedication_kind", choices=DedicationKind.choices)
    text = serializers.CharField(
        source="dedication_text",
        max_length=DEDICATION_TEXT_MAX_LENGTH,
        required=False,
        allow_blank=True,
        default="",
        validators=[validate_visible_characters],
    )


class GiftInputSerializer(serializers.Serializer):
    """The name's letter given to someone: an e-card emailed to the recipient in their language
    on deliver_on (the campaign's day; at once when left out), linking to a page of their own."""

    recipient_name = serializers.CharField(max_length=200, validators=[validate_visible_characters])
    recipient_email = serializers.EmailField(max_length=254)
    language = serializers.ChoiceField(
        choices=GiftLanguage.choices,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("The e-card's language; left out: the order's."),
    )
    deliver_on = serializers.DateField(
        required=False,
        allow_null=True,
        default=None,
        help_text=_("The day to deliver it (not in the past, at most a year ahead); left out: at once."),
    )
    message = serializers.CharField(
        max_length=GIFT_MESSAGE_MAX_LENGTH,
        required=False,
        allow_blank=True,
        default="",
        validators=[validate_visible_characters],
    )


class GiftSerializer(serializers.ModelSerializer):
    """A name's gift as the buyer sees it: what was given, and whether it was delivered."""

    class Meta:
        model = Gift
        fields = [
            "recipient_name",
            "recipient_email",
            "language",
            "deliver_on",
            "message",
            "giver_name",
            "state",
            "delivered_at",
            "failure",
        ]
        read_only_fields = fields


class NameInputSerializer(serializers.Serializer):
    hebrew_name = HebrewNameField()
    parent_hebrew_name = HebrewNameField()
    gender = serializers.ChoiceField(choices=Gender.choices)
    english_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    family_name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    deceased = serializers.BooleanField(
        required=False, default=False, help_text=_("In memory of the departed: the same as dedication.kind in_memory.")
    )
    dedication = DedicationSerializer(source="*", required=False)
    listed = serializers.BooleanField(
        required=False,
        default=False,
        help_text=_("Whether the name appears on its scroll's public page and in the public search of names."),
    )
    date_of_birth = serializers.DateField(required=False, allow_null=True, default=None)
    gift = GiftInputSerializer(required=False, allow_null=True, default=None)
    city = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    country = serializers.RegexField(
        r"^[A-Za-z]{2}$",
        required=False,
        allow_blank=True,
        default="",
        error_messages={"invalid": _("Use the two-letter country code, e.g. US or IL.")},
    )


class BuyerSerializer(serializers.Serializer):
    name = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="", validators=[validate_visible_characters]
    )
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    phone = serializers.CharField(
        max_length=40, required=False, allow_blank=True, default="", validators=[validate_visible_characters]
    )


class PaymentInputSerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=[("offline", _("Offline")), ("stripe", _("Card (Stripe)"))])
    reference = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        if attrs["method"] == "offline" and not attrs["reference"].strip():
            raise serializers.ValidationError({"reference": [_("Give the receipt or transfer reference.")]})
        return attrs


class OrderCreateSerializer(serializers.Serializer):
    campaign = serializers.SlugRelatedField(slug_field="slug", queryset=Campaign.objects.filter(active=True))
    buyer = BuyerSerializer(required=False)
    names = NameInputSerializer(many=True, allow_empty=False, max_length=MAX_NAMES_PER_ORDER)
    payment = PaymentInputSerializer()
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, required=False)
    team = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Team.objects.select_related("campaign"),
        required=False,
        allow_null=True,
        default=None,
        help_text=_(
            "The team the order counts for (a team of the same campaign). Left out: the team of the "
            "shliach whose link brought the buyer, or of the shliach registering the names, if any."
        ),
    )
    consent = serializers.BooleanField(
        required=False,
        default=False,
        help_text=_(
            "The buyer agrees to the privacy notice (/privacy/): required (true) without a token, when "
            "buyers order for themselves; recorded with the order, with the notice's version and the moment."
        ),
    )

    def validate(self, attrs):
        team = attrs.get("team")
        if team is not None and team.campaign_id != attrs["campaign"].pk:
            raise serializers.ValidationError({"team": [_("This team collects for another campaign.")]})
        return attrs


class LetterSerializer(serializers.Serializer):
    """A name's letter (see allocation.selectors.names_letters_describe). Where the campaign
    tells buyers only the parsha, everyone but staff gets scroll_number, parsha and parsha_he
    only. Text fields are null while no text is loaded for the scroll."""

    scroll_number = serializers.IntegerField()
    position = serializers.IntegerField(required=False)
    total = serializers.IntegerField(required=False)
    letter = serializers.CharField(required=False, allow_null=True)
    word = serializers.CharField(required=False, allow_null=True)
    book = serializers.CharField(required=False, allow_null=True)
    book_he = serializers.CharField(required=False, allow_null=True)
    chapter = serializers.IntegerField(required=False, allow_null=True)
    verse = serializers.IntegerField(required=False, allow_null=True)
    parsha = serializers.CharField(allow_null=True)
    parsha_he = serializers.CharField(allow_null=True)


class CertificateLinksSerializer(serializers.Serializer):
    """A name's certificate, once issued: the PDF (by the order's unguessable link) and its
    public verification page."""

    code = serializers.CharField()
    download_url = serializers.URLField()
    verify_url = serializers.URLField()


class ReceiptLinkSerializer(serializers.Serializer):
    """An order's receipt (or the note cancelling it): its number, when it was issued, and its
    PDF by the order's unguessable link."""

    number = serializers.CharField()
    issued_at = serializers.DateTimeField()
    download_url = serializers.URLField()


def _receipt_links(receipt, order, request):
    described = receipt_describe(receipt=receipt, order=order, request=request)
    if described is not None:
        described["issued_at"] = serializers.DateTimeField().to_representation(described["issued_at"])
    return described


def _viewer(serializer):
    request = serializer.context.get("request")
    return getattr(request, "user", None)


class NameSerializer(ModelSerializerFieldsOnce):
    display_name = serializers.CharField(read_only=True)
    dedication = DedicationSerializer(source="*", read_only=True)
    letter = serializers.SerializerMethodField()
    certificate = serializers.SerializerMethodField()
    gift = serializers.SerializerMethodField()

    class Meta:
        model = Name
        fields = [
            "hebrew_name",
            "parent_hebrew_name",
            "gender",
            "display_name",
            "english_name",
            "family_name",
            "deceased",
            "dedication",
            "listed",
            "date_of_birth",
            "city",
            "country",
            "letter",
            "certificate",
            "gift",
        ]

    def to_representation(self, name):
        """The fields above, built directly rather than by DRF's walk over each declared field of
        each name: one response answers an order of up to 100,000 names, and that walk was most
        of its time. tests/test_api.py holds it equal to DRF's own representation."""
        date_of_birth = name.date_of_birth
        return {
            "hebrew_name": name.hebrew_name,
            "parent_hebrew_name": name.parent_hebrew_name,
            "gender": name.gender,
            "display_name": name.display_name,
            "english_name": name.english_name,
            "family_name": name.family_name,
            "deceased": name.deceased,
            "dedication": {"kind": name.dedication_kind, "text": name.dedication_text},
            "listed": name.listed,
            "date_of_birth": None if date_of_birth is None else date_of_birth.isoformat(),
            "city": name.city,
            "country": name.country,
            "letter": self.get_letter(name),
            "certificate": self.get_certificate(name),
            "gift": self.get_gift(name),
        }

    def get_gift(self, name) -> GiftSerializer(allow_null=True):
        # OrderSerializer reads all of an order's gifts at once and passes them in.
        gifts = self.context.get("gifts_by_name_id")
        if gifts is None:
            gifts = {gift.name_id: gift for gift in Gift.objects.filter(name=name)}
        gift = gifts.get(name.pk)
        return None if gift is None else GiftSerializer(gift).data

    def get_letter(self, name) -> LetterSerializer(allow_null=True):
        # OrderSerializer describes all of an order's letters at once and passes them in.
        described = self.context.get("letters_by_name_id")
        if described is None:
            [item] = names_letters_describe(names=[name], campaign=name.order.campaign, viewer=_viewer(self))
            return item["letter"]
        return described.get(name.pk)

    def get_certificate(self, name) -> CertificateLinksSerializer(allow_null=True):
        certificates = self.context.get("certificates_by_name_id")
        if certificates is None:
            certificates = certificates_by_name_id(names=[name])
        certificate = certificates.get(name.pk)
        if certificate is None:
            return None
        return certificate_urls(certificate=certificate, order=name.order, request=self.context.get("request"))


class OrderSerializer(ModelSerializerFieldsOnce):
    campaign = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    team = serializers.CharField(
        source="team.slug", read_only=True, allow_null=True, help_text=_("The team the order counts for.")
    )
    buyer = serializers.SerializerMethodField()
    names = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()
    expired = serializers.BooleanField(
        source="is_expired",
        read_only=True,
        help_text=_("Cancelled because it was not paid in time; POST to links.again starts a new order from it."),
    )
    expires_at = serializers.SerializerMethodField(
        help_text=_("When a pending order is cancelled if still unpaid; null once it is not pending."),
    )
    receipt = serializers.SerializerMethodField(
        help_text=_("Null until the order is paid, and where its campaign has no organisation to issue one."),
    )
    receipt_cancellation = serializers.SerializerMethodField(
        help_text=_("The note cancelling the receipt once the order is refunded; null otherwise."),
    )

    class Meta:
        model = Order
        fields = [
            "id",
            "status",
            "campaign",
            "team",
            "amount",
            "currency",
            "channel",
            "created_at",
            "paid_at",
            "expires_at",
            "cancelled_at",
            "expired",
            "buyer",
            "names",
            "links",
            "receipt",
            "receipt_cancellation",
        ]

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_expires_at(self, order):
        if order.status != OrderStatus.PENDING:
            return None
        return serializers.DateTimeField().to_representation(order_expires_at(order=order))

    def get_links(self, order) -> dict:
        """The buyer's unguessable pages: where to pay, and where the letters are shown."""
        request = self.context.get("request")
        links = {
            "done": reverse("order-done", kwargs={"token": order.token}),
            "pay": reverse("order-pay", kwargs={"token": order.token}),
            "again": reverse("order-again", kwargs={"token": order.token}),
        }
        return {key: request.build_absolute_uri(url) if request else url for key, url in links.items()}

    @extend_schema_field(NameSerializer(many=True))
    def get_names(self, order):
        described = order_letters_describe(order=order, viewer=_viewer(self), names_also=("certificate",))
        names = [item["name"] for item in described]
        context = {
            **self.context,
            "letters_by_name_id": {item["name"].pk: item["letter"] for item in described},
            # Read with the names: a name without one reads as None, no query.
            "certificates_by_name_id": {
                name.pk: certificate for name in names if (certificate := getattr(name, "certificate", None))
            },
            # The order says whether it gives any gift (Order.gives_gifts): else none is looked for.
            "gifts_by_name_id": {gift.name_id: gift for gift in Gift.objects.filter(name__order=order)}
            if order.gives_gifts
            else {},
        }
        return NameSerializer(names, many=True, context=context).data

    def _receipts(self, order) -> dict:
        # The receipt and its cancellation read together, once per order serialized.
        if getattr(self, "_receipts_of", (None,))[0] != order.pk:
            self._receipts_of = (order.pk, order_receipts_by_kind(order=order))
        return self._receipts_of[1]

    def get_receipt(self, order) -> ReceiptLinkSerializer(allow_null=True):
        receipt = self._receipts(order).get(ReceiptKind.RECEIPT)
        return _receipt_links(receipt, order, self.context.get("request"))

    def get_receipt_cancellation(self, order) -> ReceiptLinkSerializer(allow_null=True):
        receipt = self._receipts(order).get(ReceiptKind.CANCELLATION)
        return _receipt_links(receipt, order, self.context.get("request"))

    def get_buyer(self, order) -> BuyerSerializer:
        return {"name": order.buyer_name, "email": order.buyer_email, "phone": order.buyer_phone}
