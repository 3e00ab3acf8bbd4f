"""Under load (issue 10), small: 20 clients buy letters for 3 s against the live server, half
through the API with an offline payment, half through the web pages with the demo provider,
into scrolls small enough to fill and roll over. Afterwards no position is used twice, no scroll
has a gap, and every paid order holds one letter per name. The figures are bench/load.py's."""

import importlib.util
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token

from allocation.models import Order
from allocation.services import Buyer, order_place

from .conftest import make_user
from .factories import shrink_open_scroll

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# bench/load.py's clients and its check of the invariants in SQL (bench/ is not a package).
_BENCH_LOAD = Path(__file__).resolve().parent.parent / "bench" / "load.py"
_spec = importlib.util.spec_from_file_location("bench_load", _BENCH_LOAD)
load = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(load)

CLIENTS = 20
SCROLL = 8  # fewer letters than the first order of each client alone: every run rolls over


@pytest.fixture
def shop(campaigns, live_server, settings):
    settings.DEMO_PAYMENTS = True  # the demo payment provider, which the web clients pay with
    settings.API_THROTTLE_USER = "100000/min"  # every API client is the one shliach
    settings.RATELIMIT_ORDERS = "100000/h"  # every web client is the one address
    for slug in (load.API_CAMPAIGN, load.WEB_CAMPAIGN):
        shrink_open_scroll(campaigns[slug], SCROLL)
    shliach = make_user("load-shliach", permissions=["payments.record_offline_payment"])
    host, port = live_server.url.removeprefix("http://").split(":")
    return {"host": host, "port": int(port), "token": Token.objects.create(user=shliach).key}


def invariants():
    with connection.cursor() as cursor:
        return load.invariants_check(cursor)


def test_clients_at_once_through_the_api_and_the_pages_keep_every_letter(shop):
    result = load.clients_run(host=shop["host"], port=shop["port"], token=shop["token"], clients=CLIENTS, seconds=3)

    assert result["errors"] == [] and result["hung"] == 0
    # Every client finished at least one order (the loop starts one before it looks at the clock).
    assert result["api_orders"] >= CLIENTS // 2 and result["web_orders"] >= CLIENTS // 2
    checked = invariants()
    assert checked["letters"] == result["letters"]
    assert checked["paid_orders"] == result["orders"]
    # Both campaigns' small scrolls filled under load and the next ones took over.
    assert checked["full_scrolls"] >= 2


def test_the_check_finds_a_paid_order_without_its_letters(campaigns):
    """The load test's check is not blind: an order marked paid behind the services' back (no
    letters) is reported."""
    order = order_place(campaign=campaigns["idf"], names=[{"hebrew_name": "משה", "parent_hebrew_name": "שרה",
                         "gender": "m"}], buyer=Buyer(name="A", email="a@example.org"))  # fmt: skip
    invariants()
    Order.objects.filter(pk=order.pk).update(status="paid", paid_at=timezone.now())
    with pytest.raises(AssertionError, match="orders whose letters do not match"):
        invariants()
