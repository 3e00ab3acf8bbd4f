"""Checkout: an order placed by a person at one of the doors (the buy page, the API) and its
payment started, with one policy for who the order is for and how it may be paid."""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from allocation.models import Order, OrderChannel
from allocation.services import Buyer, Consent, order_amount_suggested, order_place
from payments.models import Payment
from payments.providers import card_provider
from payments.services import OFFLINE_PERMISSION, offline_payment_check, payment_record_offline, payment_start_card
from scrolls.models import Campaign
from teams.selectors import team_credited

CARD, OFFLINE = "stripe", "offline"


@dataclass(frozen=True)
class Checkout:
    order: Order
    # A card attempt started (the API answers with its client secret); the buy page starts its
    # own on the pay page, where the buyer may also come back to later.
    payment: Payment | None = None
    client_secret: str = ""


def order_size_check(*, user, name_count: int) -> None:
    """An order placed without signing in carries at most ANONYMOUS_ORDER_MAX_NAMES names: a
    larger one is a shliach's import (accountable, and streamed) or the office's (ValidationError)."""
    limit = settings.ANONYMOUS_ORDER_MAX_NAMES
    if name_count > limit and (user is None or not user.is_authenticated):
        message = ngettext(
            "An order placed without signing in can hold at most %(limit)d name. For a larger order, "
            "sign in as a shliach and import the names, or contact the campaign office.",
            "An order placed without signing in can hold at most %(limit)d names. For a larger order, "
            "sign in as a shliach and import the names, or contact the campaign office.",
            limit,
        ) % {"limit": limit}
        raise ValidationError({"names": [message]})


def order_checkout(
    *,
    campaign: Campaign,
    names: list[dict],
    buyer: Buyer,
    amount: Decimal | None,
    user=None,
    registers: bool = False,
    payment_method: str = CARD,
    payment_reference: str = "",
    start_card_payment: bool = False,
    referred_by=None,
    team=None,
    language: str = "",
    consent: Consent | None = None,
) -> Checkout:
    """Place an order and start its payment.

    A buyer orders for themselves (the buy page, or the API without a token): the order is theirs
    by its email, in the language they use, credited to the shliach whose link brought them.
    A signed-in user who `registers` names (the API with a token) orders on others' behalf: the
    order is theirs by account, their own language is used, and staff may set a custom price.
    Without a user, at most ANONYMOUS_ORDER_MAX_NAMES names (order_size_check).
    The order counts for `team` when given (its buy button, the API's "team"), else for the team
    of the shliach whose link brought the buyer, else for the registering shliach's own team of the
    campaign (teams.selectors.team_credited).
    Offline payment needs its permission and stays under the user's limit per order (PermissionDenied);
    a card payment needs a provider (ImproperlyConfigured). Nothing is saved unless it all holds."""
    user = user if user is not None and user.is_authenticated else None
    order_size_check(user=user, name_count=len(names))
    registering = bool(registers and user)
    if consent is None and not registering:
        # Buyers order for themselves: their details and names are kept as the notice says.
        raise ValidationError({"consent": [_("Please agree to the privacy notice to continue.")]})
    if payment_method == OFFLINE:
        if user is None or not user.has_perm(OFFLINE_PERMISSION):
            raise PermissionDenied
        suggested = order_amount_suggested(campaign=campaign, name_count=len(names))
        try:
            offline_payment_check(
                user=user, amount=amount if amount is not None else suggested, currency=campaign.currency
            )
        except ValidationError as error:
            raise PermissionDenied(error.messages[0]) from error
    elif start_card_payment:
        card_provider()  # ImproperlyConfigured before anything is saved
    referrer = None if registering else referred_by
    team = team_credited(campaign=campaign, team=team, users=(referrer, user if registering else None))
    with transaction.atomic():
        order = order_place(
            campaign=campaign,
            names=names,
            buyer=buyer,
            created_by=user if registering else None,
            channel=OrderChannel.API if registering else OrderChannel.ONLINE,
            amount=amount,
            allow_custom_price=bool(registering and user.is_staff),
            referred_by=referrer,
            team=team,
            language="" if registering else language,
            consent=consent,
        )
        if payment_method == OFFLINE:
            # The order as paid (and allocated): the one placed above, its campaign and team in hand.
            order = payment_record_offline(
                order=order, reference=payment_reference, recorded_by=user, placed_in_this_transaction=True
            ).order
    if payment_method == CARD and start_card_payment:
        payment, client_secret = payment_start_card(order_id=order.pk)
        return Checkout(order=order, payment=payment, client_secret=client_secret)
    return Checkout(order=order)
