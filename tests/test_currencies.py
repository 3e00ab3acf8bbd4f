"""A campaign's currency is one whose minor units the code knows (core.currencies): Stripe is sent
1000 for JPY 1000, 1500 for KWD 1.5 and 1800 for USD 18, and a campaign in any other currency is
refused by the admin, the seed and the database."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from allocation.models import Letter
from core.currencies import CURRENCIES, THREE_DECIMAL, ZERO_DECIMAL
from payments.providers import to_minor_units
from payments.services import payment_start_card
from scrolls.models import Campaign
from scrolls.seed import DEFAULT_CAMPAIGNS
from scrolls.services import campaigns_seed

from .factories import make_order
from .stripe_helpers import localstripe_url, stripe_server, wait_until  # noqa: F401
from .test_payments_stripe import pay_with

pytestmark = pytest.mark.django_db


def test_amounts_are_sent_in_the_minor_units_of_their_currency():
    assert to_minor_units(Decimal("1000"), "JPY") == 1000
    assert to_minor_units(Decimal("1.5"), "KWD") == 1500
    assert to_minor_units(Decimal("18"), "USD") == 1800
    assert to_minor_units(Decimal("18.00"), "ils") == 1800
    # Stripe wants three-decimal amounts to end in 0: a price has two decimals, so they do.
    assert all(to_minor_units(Decimal("1.25"), code) % 10 == 0 for code in THREE_DECIMAL)
    assert {"JPY", "KRW", "VND", "XOF", "UGX"} <= set(ZERO_DECIMAL) and {"BHD", "KWD", "TND"} <= set(THREE_DECIMAL)
    with pytest.raises(KeyError):  # never guessed
        to_minor_units(Decimal("18"), "XYZ")


def campaign_data(**overrides):
    return {
        **DEFAULT_CAMPAIGNS[0],
        "slug": "elsewhere",
        "honour_letters_first": 0,
        "honour_letters_last": 0,
        **overrides,
    }


def test_a_campaign_in_an_unknown_currency_is_refused_by_the_seed_and_the_database(campaigns):
    with pytest.raises(ValidationError) as refused:
        campaigns_seed(campaigns=[campaign_data(slug="first", currency="USD"), campaign_data(currency="XYZ")])
    assert "currency" in refused.value.message_dict
    assert not Campaign.objects.filter(slug__in=["first", "elsewhere"]).exists()  # none of them

    with pytest.raises(IntegrityError), transaction.atomic():
        Campaign.objects.filter(slug="idf").update(currency="XYZ")
    assert Campaign.objects.get(slug="idf").currency == "ILS"


def test_a_zero_decimal_campaign_takes_no_fractions(campaigns):
    with pytest.raises(ValidationError) as refused:
        campaigns_seed(campaigns=[campaign_data(currency="JPY", price=Decimal("1000.50"))])
    assert list(refused.value.message_dict) == ["price"]
    (yen,) = campaigns_seed(campaigns=[campaign_data(currency="JPY", price=Decimal("1000"))])
    with pytest.raises(ValidationError) as refused:
        make_order(yen, 1, amount=Decimal("2000.50"))
    assert "JPY has no fractions" in refused.value.message_dict["amount"][0]
    assert make_order(yen, 1, amount=Decimal("2000")).amount == Decimal("2000")


def admin_campaign_form(**overrides):
    data = {
        key: value
        for key, value in campaign_data(**overrides).items()
        if key not in ("description", "description_he") and value is not None
    }
    data.update({"allocation_mode": "sequential", "active": "on"})
    data.update({f"scrolls-{key}": "0" for key in ("TOTAL_FORMS", "INITIAL_FORMS", "MIN_NUM_FORMS")})
    data["scrolls-MAX_NUM_FORMS"] = "1000"
    return data


def test_the_admin_offers_only_the_known_currencies_and_refuses_any_other(client, campaigns):
    client.force_login(User.objects.create_superuser("boss", "boss@example.org", "a-long-test-password"))
    page = client.get("/admin/scrolls/campaign/add/").content.decode()
    assert '<option value="KWD">' in page and '<option value="JPY">' in page

    response = client.post("/admin/scrolls/campaign/add/", admin_campaign_form(currency="XYZ"))
    assert response.status_code == 200 and "XYZ is not one of the available choices" in response.content.decode()
    assert not Campaign.objects.filter(slug="elsewhere").exists()

    response = client.post("/admin/scrolls/campaign/add/", admin_campaign_form(currency="KWD", price="1.50"))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Campaign.objects.get(slug="elsewhere").currency == "KWD"
    assert len(CURRENCIES) == len(set(CURRENCIES))


# --- Against Stripe (localstripe) -----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
@pytest.mark.parametrize(("currency", "price", "minor"), [("JPY", "1000", 1000), ("KWD", "1.5", 1500)])
def test_stripe_is_asked_for_the_price_in_the_currencys_minor_units_and_the_order_is_paid(
    stripe_server, campaigns, currency, price, minor
):
    (campaign,) = campaigns_seed(campaigns=[campaign_data(currency=currency, price=Decimal(price))])
    order = make_order(campaign, 2)
    payment, _ = payment_start_card(order_id=order.pk)
    intent = stripe_server.v1.payment_intents.retrieve(payment.reference)
    assert (intent.amount, intent.currency) == (2 * minor, currency.lower())

    pay_with(stripe_server, payment.reference, "pm_card_visa")
    assert wait_until(lambda: Letter.objects.filter(name__order=order).count() == 2)
    payment.refresh_from_db()
    assert (payment.status, payment.flagged_reason) == ("succeeded", "")  # what came is what was asked
