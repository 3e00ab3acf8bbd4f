"""Orders that cannot be spammed (issue 17): an order placed without signing in carries at most
ANONYMOUS_ORDER_MAX_NAMES names, refused with the limit and the way for larger orders, nothing
saved; orders placed without signing in are limited per address (RATELIMIT_ORDERS), the buy
page and the API on one counter. Each test counts under its own keys (tests/conftest.py)."""

import pytest
from rest_framework.test import APIClient

from allocation.models import Name, Order

from .conftest import make_user, token_client
from .factories import name_data
from .test_buy_pages import buy_form

pytestmark = pytest.mark.django_db

TOO_MANY = "An order placed without signing in can hold at most 50 names."
THE_WAY = "sign in as a shliach and import the names, or contact the campaign office"
LIMITED_PAGE = "Too many attempts from here. Please wait a few minutes and try again."
LIMITED_API = "Too many orders from this address."


@pytest.fixture
def demo(settings):
    """Card orders through the demo provider: the API's anonymous orders are card orders."""
    settings.DEMO_PAYMENTS = True
    settings.STRIPE_SECRET_KEY = ""


def page_form(**overrides):
    # The privacy notice agreed to, as a buyer does.
    return buy_form(consent="on", **overrides)


def names_form(count):
    """The buy page's form with `count` names filled in."""
    data = page_form(**{"names-TOTAL_FORMS": str(count)})
    for index in range(count):
        row = name_data(index)
        data[f"names-{index}-hebrew_name"] = row["hebrew_name"]
        data[f"names-{index}-parent_hebrew_name"] = row["parent_hebrew_name"]
        data[f"names-{index}-gender"] = row["gender"]
    return data


def api_order(count, **extra):
    return {
        "campaign": "idf",
        "buyer": {"name": "Rivka Cohen", "email": "rivka@example.org"},
        "names": [name_data(index) for index in range(count)],
        "payment": {"method": "stripe"},
        "consent": True,
        **extra,
    }


# --- At most ANONYMOUS_ORDER_MAX_NAMES names without signing in ---------------------------------


def test_the_buy_page_refuses_51_names_naming_the_limit_and_the_way_and_saves_nothing(client, campaigns):
    response = client.post("/buy/idf/", names_form(51))
    page = response.content.decode()
    assert response.status_code == 200
    # Above the names, in the page's summary of what needs correcting.
    assert 'id="form-errors"' in page and TOO_MANY in page and THE_WAY in page
    assert not Order.objects.exists() and not Name.objects.exists()


def test_the_buy_page_takes_50_names(client, campaigns):
    response = client.post("/buy/idf/", names_form(50))
    assert response.status_code == 302
    assert Order.objects.get().names.count() == 50


def test_the_api_refuses_51_names_without_a_token_under_names_and_saves_nothing(campaigns, demo):
    response = APIClient().post("/api/v1/orders/", api_order(51), format="json")
    assert response.status_code == 400
    [message] = response.json()["names"]
    assert message.startswith(TOO_MANY) and THE_WAY in message
    assert not Order.objects.exists() and not Name.objects.exists()
    # Names that are invalid besides: still the limit, said before any name is read.
    bad = api_order(51)
    bad["names"][0]["hebrew_name"] = "Moshe"
    assert APIClient().post("/api/v1/orders/", bad, format="json").json() == response.json()


def test_the_api_takes_50_names_without_a_token(campaigns, demo):
    response = APIClient().post("/api/v1/orders/", api_order(50), format="json")
    assert response.status_code == 201
    assert Order.objects.get().names.count() == 50


def test_signed_in_an_order_may_carry_more(client, campaigns, demo, trusted_shliach):
    # With a token: paid offline, and by card.
    offline = api_order(120, payment={"method": "offline", "reference": "receipt 7"})
    assert token_client(trusted_shliach).post("/api/v1/orders/", offline, format="json").status_code == 201
    by_card = token_client(make_user("carded")).post("/api/v1/orders/", api_order(51), format="json")
    assert by_card.status_code == 201
    # Signed in on the buy page.
    client.force_login(trusted_shliach)
    assert client.post("/buy/idf/", names_form(51)).status_code == 302
    assert sorted(order.names.count() for order in Order.objects.all()) == [51, 51, 120]


def test_the_limit_is_a_setting_and_the_message_follows_it(client, campaigns, demo, settings):
    settings.ANONYMOUS_ORDER_MAX_NAMES = 3
    page = client.post("/buy/idf/", names_form(4)).content.decode()
    assert "can hold at most 3 names." in page
    response = APIClient().post("/api/v1/orders/", api_order(4), format="json")
    assert response.status_code == 400 and "can hold at most 3 names." in response.json()["names"][0]
    assert client.post("/buy/idf/", names_form(3)).status_code == 302
    assert Order.objects.get().names.count() == 3


# --- Orders placed without signing in, per address ----------------------------------------------


def test_orders_are_limited_per_address_on_the_page_and_the_api_together(client, campaigns, demo, settings):
    settings.RATELIMIT_ORDERS = "3/d"
    api = APIClient()
    assert client.post("/buy/idf/", page_form(), REMOTE_ADDR="192.0.2.1").status_code == 302
    assert api.post("/api/v1/orders/", api_order(1), format="json", REMOTE_ADDR="192.0.2.1").status_code == 201
    # Adding a row without JavaScript is no order: not counted.
    for _ in range(5):
        assert client.post("/buy/idf/", page_form(add_name="1"), REMOTE_ADDR="192.0.2.1").status_code == 200
    assert client.post("/buy/idf/", page_form(), REMOTE_ADDR="192.0.2.1").status_code == 302
    assert Order.objects.count() == 3

    page = client.post("/buy/idf/", page_form(), REMOTE_ADDR="192.0.2.1")
    assert page.status_code == 429 and LIMITED_PAGE in page.content.decode()
    limited = api.post("/api/v1/orders/", api_order(1), format="json", REMOTE_ADDR="192.0.2.1")
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
    assert limited.json()["detail"].startswith(LIMITED_API)
    assert Order.objects.count() == 3
    # Reading the page is not limited; another address goes on, by either door.
    assert client.get("/buy/idf/", REMOTE_ADDR="192.0.2.1").status_code == 200
    assert client.post("/buy/idf/", page_form(), REMOTE_ADDR="192.0.2.2").status_code == 302
    assert api.post("/api/v1/orders/", api_order(1), format="json", REMOTE_ADDR="192.0.2.2").status_code == 201
    assert Order.objects.count() == 5


def test_signed_in_orders_are_not_counted_against_the_address(client, campaigns, demo, settings, trusted_shliach):
    # An office or a partner's server places many orders from one address, each by its account.
    settings.RATELIMIT_ORDERS = "1/d"
    assert client.post("/buy/idf/", page_form(), REMOTE_ADDR="192.0.2.1").status_code == 302
    assert client.post("/buy/idf/", page_form(), REMOTE_ADDR="192.0.2.1").status_code == 429
    shliach = token_client(trusted_shliach)
    for _ in range(3):
        response = shliach.post("/api/v1/orders/", api_order(1), format="json", REMOTE_ADDR="192.0.2.1")
        assert response.status_code == 201
    client.force_login(trusted_shliach)
    assert client.post("/buy/idf/", page_form(), REMOTE_ADDR="192.0.2.1").status_code == 302


def test_behind_the_proxy_orders_are_counted_by_the_address_it_adds(campaigns, demo, settings):
    settings.BEHIND_PROXY, settings.RATELIMIT_ORDERS = True, "2/d"
    api = APIClient()

    def order(forwarded):
        return api.post(
            "/api/v1/orders/", api_order(1), format="json", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=forwarded
        )

    assert order("10.0.0.1, 192.0.2.7").status_code == 201
    assert order("10.0.0.2, 192.0.2.7").status_code == 201
    assert order("10.0.0.3, 192.0.2.7").status_code == 429  # a forged first address changes nothing
    assert order("192.0.2.8").status_code == 201
