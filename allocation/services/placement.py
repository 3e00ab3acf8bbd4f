"""Placing an order: the one way in, whatever the door (the buy page, the API, an import or the
grid, an honour letter given, staff). Every order starts pending, with names that passed
name_clean, the campaign's currency and, unless a person allowed to says otherwise, at least the
campaign's price per name."""

import datetime
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.currencies import currency_amount_exact
from scrolls.models import Campaign

from ..models import Gift, Name, Order, OrderChannel, OrderStatus
from ..validators import has_invisible_characters
from .names import GIFT_FIELDS, NAME_FIELDS, OrderNamesInvalid, campaign_today, name_clean

# Names written per COPY statement.
NAME_WRITE_BATCH = 5000


@dataclass(frozen=True)
class Buyer:
    name: str = ""
    email: str = ""
    phone: str = ""


@dataclass(frozen=True)
class Consent:
    """The consent a person gave to the privacy notice: when, and to which version of it."""

    at: datetime.datetime
    notice_version: str

    @classmethod
    def given_now(cls) -> "Consent":
        """Consent given in this request, to the notice the site shows now."""
        return cls(at=timezone.now(), notice_version=settings.PRIVACY_NOTICE_VERSION)


def order_amount_suggested(*, campaign: Campaign, name_count: int) -> Decimal:
    return campaign.price * name_count


_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")


def _copy_text(value) -> str:
    r"""A value in PostgreSQL's COPY text format (\N is NULL; backslash escapes)."""
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    value = str(value)
    if _COPY_SPECIAL.search(value) is None:  # nearly always
        return value
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


class _NameWriter:
    """Writes a stream of names with COPY, in batches: the fastest way in for an import of
    200,000, and memory stays flat however many stream through."""

    def __init__(self, order: Order):
        self.order_id = str(order.pk)
        self.pending = []
        self.count = 0

    def add(self, cleaned: dict):
        self.pending.append(cleaned)
        self.count += 1
        if len(self.pending) >= NAME_WRITE_BATCH:
            self.flush()

    def flush(self):
        if not self.pending:
            return
        buffer = io.StringIO()
        for cleaned in self.pending:
            buffer.write(self.order_id)
            for column in NAME_FIELDS:
                buffer.write("\t")
                buffer.write(_copy_text(cleaned[column]))
            buffer.write("\n")
        buffer.seek(0)
        with connection.cursor() as cursor:
            cursor.cursor.copy_expert(
                f"COPY {Name._meta.db_table} (order_id, {', '.join(NAME_FIELDS)}) FROM STDIN", buffer
            )
        self.pending = []


def _names_cleaned(*, names: list[dict], campaign: Campaign) -> list[dict]:
    cleaned, errors = [], {}
    today = campaign_today(campaign=campaign)
    for index, data in enumerate(names):
        try:
            cleaned.append(name_clean(data=data, campaign=campaign, today=today))
        except ValidationError as error:
            errors[index] = error.message_dict
    if errors:
        raise OrderNamesInvalid(errors)
    return cleaned


def order_place(
    *,
    campaign: Campaign,
    names: Iterable[dict],
    buyer: Buyer = Buyer(),
    created_by=None,
    channel: str = OrderChannel.ONLINE,
    amount: Decimal | None = None,
    allow_custom_price: bool = False,
    referred_by=None,
    team=None,
    language: str = "",
    names_cleaned: bool = False,
    consent: Consent | None = None,
) -> Order:
    """Place a pending order with its names; nothing is saved unless every name is valid.

    `names` is a list of what each door received, cleaned here (OrderNamesInvalid names every
    refused row). An import streams names it has already put through name_clean row by row, to
    report each problem by its row: it passes an iterable with `names_cleaned`, and they are
    written with COPY as they come, so memory stays flat. `amount` defaults to the campaign's price per
    name; less only with `allow_custom_price` (staff, honour letters, an approved bulk price).
    `referred_by` is the shliach whose referral link brought the buyer; `team` the team the
    order counts for (teams.selectors.team_credited), one of the same campaign; `language` the one the
    buyer ordered in, which their emails are written in. `consent` is the consent to the privacy
    notice given at the door (the buy page, the API, an import's confirmation or the grid),
    recorded with the order and never changed."""
    if not campaign.active and channel != OrderChannel.HONOUR:
        raise ValidationError({"campaign": [_("This campaign is not taking names now.")]})
    if team is not None and team.campaign_id != campaign.pk:
        raise ValidationError({"team": [_("This team collects for another campaign.")]})
    if not names_cleaned:
        names = _names_cleaned(names=list(names), campaign=campaign)
    if not buyer.email and created_by is None:
        raise ValidationError({"buyer": [_("Give the buyer's email address.")]})
    _buyer_check(buyer)
    count_known = isinstance(names, list)
    order = Order(
        campaign=campaign,
        buyer_name=buyer.name,
        buyer_email=buyer.email,
        buyer_phone=buyer.phone,
        created_by=created_by,
        referred_by=referred_by,
        team=team,
        channel=channel,
        amount=amount if amount is not None else Decimal("0"),
        currency=campaign.currency,
        language=language if language in dict(settings.LANGUAGES) else "",
        consent_at=consent.at if consent else None,
        privacy_notice_version=consent.notice_version if consent else "",
        gives_gifts=count_known and any(cleaned.get("gift") for cleaned in names),
    )
    if count_known:  # in memory already: refused, if at all, before anything is written
        if not names:
            raise ValidationError({"names": [_("Add at least one name.")]})
        _amount_check(order=order, amount=amount, name_count=len(names), allow_custom_price=allow_custom_price)
    if created_by is not None:  # the audit names the person, in a request or not
        order._history_user = created_by
    # A list can no longer be refused once written (but by the database itself): no savepoint
    # of its own. A stream is refused when it ends, inside, and its caller (an import) goes on
    # to say why: it needs one.
    with transaction.atomic(savepoint=not count_known):
        order.save(force_insert=True)
        if count_known:  # one INSERT a batch, as any statement the ORM makes
            gifts = [cleaned.pop("gift", None) for cleaned in names]
            rows = Name.objects.bulk_create(
                [Name(order=order, **cleaned) for cleaned in names], batch_size=NAME_WRITE_BATCH
            )
            _gifts_write(order=order, names=rows, gifts=gifts)
            # The names as written, in id order, for a caller that pays and allocates the order
            # in the same transaction (payments.services.payment_record_offline): not read again.
            order.names_placed = rows
        else:
            writer = _NameWriter(order)
            for cleaned in names:
                writer.add(cleaned)
            writer.flush()
            if writer.count == 0:
                raise ValidationError({"names": [_("Add at least one name.")]})
            # Streamed: the price is known once every name is in.
            _amount_check(order=order, amount=amount, name_count=writer.count, allow_custom_price=allow_custom_price)
            order.save(update_fields=["amount"])
    return order


def _gifts_write(*, order: Order, names: list[Name], gifts: list[dict | None]) -> None:
    """The names' gifts (gift_clean), with the order's language and the buyer's name where the
    buyer gave none; nothing (no query) when no name has one."""
    if not any(gifts):
        return
    Gift.objects.bulk_create(
        [
            Gift(
                name=name,
                **{**gift, "language": gift["language"] or order.language or settings.LANGUAGE_CODE},
                giver_name=order.buyer_name,
            )
            for name, gift in zip(names, gifts, strict=True)
            if gift
        ],
        batch_size=NAME_WRITE_BATCH,
    )


def _buyer_check(buyer: Buyer) -> None:
    """The buyer's name and phone by the names' rule (whatever the door: the forms and the API
    say it first, beside the field)."""
    errors = {
        field: [_("This contains invisible or control characters; please retype it.")]
        for field, value in (("buyer_name", buyer.name), ("buyer_phone", buyer.phone))
        if value and has_invisible_characters(value)
    }
    if errors:
        raise ValidationError(errors)


def _amount_check(*, order: Order, amount: Decimal | None, name_count: int, allow_custom_price: bool) -> None:
    suggested = order_amount_suggested(campaign=order.campaign, name_count=name_count)
    if amount is not None and not currency_amount_exact(amount, order.currency):
        # Stripe is sent whole minor units: half a yen would be charged as none, or one.
        raise ValidationError(
            {"amount": [_("%(currency)s has no fractions: give a whole amount.") % {"currency": order.currency}]}
        )
    if amount is None:
        order.amount = suggested
    elif amount < suggested and not allow_custom_price:
        raise ValidationError(
            {"amount": [_("The amount cannot be less than %(suggested)s.") % {"suggested": suggested}]}
        )


def order_place_again(*, order: Order) -> Order:
    """A new pending order with the names (and their gifts), buyer, amount, language and consent
    of one that expired (or was cancelled): the buyer starts again from it. The old order stays as it was.
    An order whose personal data were erased cannot be started again: whom it was for is gone."""
    if order.erased_at is not None:
        raise ValidationError(_("This order's personal details were erased: please place a new order."))
    names = list(order.names.order_by("id").values("id", *NAME_FIELDS))
    # A gift goes with its name; one whose day has passed meanwhile is delivered at once.
    gifts = {gift.name_id: gift for gift in Gift.objects.filter(name__order=order)}
    today = campaign_today(campaign=order.campaign)
    for name in names:
        gift = gifts.get(name.pop("id"))
        if gift is not None:
            name["gift"] = {field: getattr(gift, field) for field in GIFT_FIELDS}
            if gift.deliver_on is not None and gift.deliver_on < today:
                name["gift"]["deliver_on"] = None
    return order_place(
        campaign=order.campaign,
        names=names,
        buyer=Buyer(name=order.buyer_name, email=order.buyer_email, phone=order.buyer_phone),
        created_by=order.created_by,
        channel=order.channel,
        amount=max(order.amount, order_amount_suggested(campaign=order.campaign, name_count=len(names))),
        referred_by=order.referred_by,
        team=order.team,
        language=order.language,
        # The same person's consent, to the notice they agreed to then.
        consent=Consent(at=order.consent_at, notice_version=order.privacy_notice_version) if order.consent_at else None,
    )


def order_terms_change(*, order_id: int, campaign: Campaign, amount: Decimal, changed_by) -> Order:
    """Staff move an unpaid order to another campaign or change what it comes to: the currency is
    the campaign's, and a campaign must be taking names. Refused once paid (or cancelled): its
    letters and payments rest on those terms (the database refuses too)."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status != OrderStatus.PENDING:
            raise ValidationError(_("Only an unpaid order's campaign and amount may change."))
        if campaign.pk != order.campaign_id and not campaign.active:
            raise ValidationError({"campaign": [_("This campaign is not taking names now.")]})
        order.campaign, order.currency, order.amount = campaign, campaign.currency, amount
        order._history_user = changed_by
        order.save(update_fields=["campaign", "currency", "amount"])
    return order
