"""The buyer's name and phone are refused with bidirectional controls and other invisible
characters, by the rule names follow (allocation.validators.has_invisible_characters): beside the
field on the buy page and in the API, and by order_place whatever the door. Nothing is saved."""

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from allocation.models import Order
from allocation.services import Buyer

from .conftest import make_user
from .factories import make_order
from .test_buy_pages import buy_form

pytestmark = pytest.mark.django_db

HIDDEN = ["Rivka\u202e", "Ri\u200bvka", "\u2066Rivka\u2069", "Rivka\x00", "Riv\nka"]
REFUSED = "invisible or control characters"


@pytest.mark.parametrize("value", HIDDEN)
@pytest.mark.parametrize("field", ["buyer_name", "buyer_phone"])
def test_the_buy_page_refuses_them_beside_the_field(client, campaigns, field, value):
    response = client.post("/buy/idf/", buy_form(**{field: value}))
    assert response.status_code == 200
    page = response.content.decode()
    assert REFUSED in page and f'id="id_{field}"' in page and "is-invalid" in page
    assert not Order.objects.exists()


@pytest.mark.parametrize("value", HIDDEN)
@pytest.mark.parametrize("field", ["name", "phone"])
def test_the_api_refuses_them_under_the_buyers_field(campaigns, field, value):
    payload = {
        "campaign": "idf",
        "buyer": {"name": "Rivka", "email": "rivka@example.org", field: value},
        "names": [{"hebrew_name": "משה", "parent_hebrew_name": "מרים", "gender": "m"}],
        "payment": {"method": "stripe"},
        "consent": True,
    }
    response = APIClient().post("/api/v1/orders/", payload, format="json")
    assert response.status_code == 400
    assert REFUSED in response.json()["buyer"][field][0]
    assert not Order.objects.exists()


def test_order_place_refuses_them_whatever_the_door(campaigns):
    with pytest.raises(ValidationError) as refused:
        make_order(campaigns["idf"], 1, buyer=Buyer(name="Rivka\u202e", email="r@example.org", phone="\u200f050"))
    assert set(refused.value.message_dict) == {"buyer_name", "buyer_phone"}
    assert not Order.objects.exists()
    # Hebrew, punctuation and the usual ways of writing a phone number are what they should be.
    order = make_order(
        campaigns["idf"], 1, buyer=Buyer(name="רבקה כהן-לוי", email="r@example.org", phone="+972 (50) 000-0000")
    )
    assert (order.buyer_name, order.buyer_phone) == ("רבקה כהן-לוי", "+972 (50) 000-0000")


def test_staff_correcting_the_buyer_in_the_admin_are_refused_them_too(client, campaigns):
    order = make_order(campaigns["idf"], 1, buyer=Buyer(name="Rivka", email="r@example.org"))
    client.force_login(make_user("boss", is_staff=True, permissions=["allocation.change_order"]))
    page = client.get(f"/admin/allocation/order/{order.pk}/change/")
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {name: form.initial.get(name) or "" for name in form.fields}
    data.update({"campaign": order.campaign_id, "amount": str(order.amount), "buyer_name": "Rivka\u202e"})
    data.update({f"names-{key}": value for key, value in (("TOTAL_FORMS", "0"), ("INITIAL_FORMS", "0"))})
    response = client.post(f"/admin/allocation/order/{order.pk}/change/", data)
    assert response.status_code == 200 and REFUSED in response.content.decode()
    assert Order.objects.get(pk=order.pk).buyer_name == "Rivka"
