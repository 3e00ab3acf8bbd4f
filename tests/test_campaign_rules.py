"""Who a campaign is for: the children's Torah (age limits, date of birth) and the World of Truth
(the departed, with the father's name), enforced by the service on every path."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from allocation.models import Name, Order
from allocation.services import Buyer, OrderNamesInvalid, name_clean, order_place

from .conftest import token_client
from .factories import name_data
from .test_api import order_payload

pytestmark = pytest.mark.django_db

PURCHASE_DAY = datetime.date(2026, 3, 15)


def born(years_before, days=0):
    """A birthday `years_before` years before the day of purchase, moved by `days`."""
    return PURCHASE_DAY.replace(year=PURCHASE_DAY.year - years_before) + datetime.timedelta(days=days)


def clean_child(campaigns, **overrides):
    return name_clean(data=name_data(0, **overrides), campaign=campaigns["children"], today=PURCHASE_DAY)


def refusal(campaigns, **overrides):
    with pytest.raises(ValidationError) as refused:
        clean_child(campaigns, **overrides)
    assert list(refused.value.message_dict) == ["date_of_birth"]
    return refused.value.message_dict["date_of_birth"][0]


def test_the_seeded_campaigns_carry_their_rules(campaigns):
    children, truth = campaigns["children"], campaigns["world-of-truth"]
    assert (children.allocation_mode, children.discloses_parsha_only, str(children.price), children.currency) == (
        "lottery",
        True,
        "1.00",
        "USD",
    )
    assert (children.boys_under_age, children.girls_under_age, children.requires_date_of_birth) == (13, 12, True)
    assert (truth.for_the_departed, truth.parent_is_father, str(truth.price)) == (True, True, "18.00")
    assert str(truth.parent_name_label) == "Father's Hebrew name"
    assert str(campaigns["idf"].parent_name_label) == "Mother's Hebrew name"
    assert not campaigns["idf"].requires_date_of_birth and not campaigns["idf"].discloses_parsha_only


def test_boys_under_13_and_girls_under_12_on_the_day_of_purchase(campaigns):
    assert clean_child(campaigns, gender="m", date_of_birth=born(13, days=1))["date_of_birth"] == born(13, days=1)
    assert "boys under 13" in refusal(campaigns, gender="m", date_of_birth=born(13))
    assert clean_child(campaigns, gender="f", date_of_birth=born(12, days=1))["gender"] == "f"
    assert "girls under 12" in refusal(campaigns, gender="f", date_of_birth=born(12))
    assert "girls under 12" in refusal(campaigns, gender="f", date_of_birth=born(12, days=-400))


def test_the_date_of_birth_is_required_and_checked(campaigns):
    assert "date of birth" in refusal(campaigns, date_of_birth=None)
    assert "date of birth" in refusal(campaigns, date_of_birth="")
    assert "future" in refusal(campaigns, date_of_birth=PURCHASE_DAY + datetime.timedelta(days=1))
    assert "YYYY-MM-DD" in refusal(campaigns, date_of_birth="15/03/2020")
    assert "YYYY-MM-DD" in refusal(campaigns, date_of_birth="2020-02-30")
    assert "YYYY-MM-DD" in refusal(campaigns, date_of_birth=20200301)
    # A bulk import gives text (or a datetime): it is read as a date.
    assert clean_child(campaigns, date_of_birth="2020-03-01")["date_of_birth"] == datetime.date(2020, 3, 1)
    noon = datetime.datetime(2020, 3, 1, 12, 0)
    assert clean_child(campaigns, date_of_birth=noon)["date_of_birth"] == datetime.date(2020, 3, 1)


def test_other_campaigns_have_no_age_rules(campaigns):
    cleaned = name_clean(data=name_data(0, date_of_birth=born(40)), campaign=campaigns["idf"], today=PURCHASE_DAY)
    assert cleaned["date_of_birth"] == born(40)
    assert name_clean(data=name_data(0), campaign=campaigns["idf"])["date_of_birth"] is None


def test_names_for_the_world_of_truth_are_written_in_memory(campaigns):
    order = order_place(
        campaign=campaigns["world-of-truth"],
        names=[name_data(0, deceased=False), name_data(1)],
        buyer=Buyer(email="a@example.org"),
    )
    assert list(order.names.values_list("deceased", flat=True)) == [True, True]
    assert not name_clean(data=name_data(0), campaign=campaigns["idf"])["deceased"]


def test_order_create_reports_each_refused_row_by_field_and_saves_nothing(campaigns):
    names = [
        name_data(0, date_of_birth=born(5)),
        name_data(1, gender="f", date_of_birth=born(30)),
        name_data(2, hebrew_name="Moshe"),
        name_data(3),
    ]
    with pytest.raises(OrderNamesInvalid) as refused:
        order_place(campaign=campaigns["children"], names=names, buyer=Buyer(email="parent@example.org"))
    by_row = refused.value.message_dict["names"]
    assert list(by_row) == ["1", "2", "3"]
    assert list(by_row["1"]) == ["date_of_birth"] and "girls under 12" in by_row["1"]["date_of_birth"][0]
    assert set(by_row["2"]) == {"hebrew_name", "date_of_birth"}
    assert list(by_row["3"]) == ["date_of_birth"]
    # Code that reads plain messages still learns which row is wrong.
    assert any(message.startswith("Name 2: ") for message in refused.value.messages)
    assert not Order.objects.exists() and not Name.objects.exists()


def test_the_api_answers_400_for_the_refused_row_and_field(campaigns, trusted_shliach):
    today = datetime.date.today()
    names = [
        name_data(0, date_of_birth=today.replace(year=today.year - 7, day=1).isoformat()),
        name_data(1, gender="m", date_of_birth=today.replace(year=today.year - 14, day=1).isoformat()),
        name_data(2),
    ]
    response = token_client(trusted_shliach).post(
        "/api/v1/orders/", order_payload(campaign="children", names=names), format="json"
    )
    assert response.status_code == 400
    errors = response.json()["names"]
    assert list(errors) == ["1", "2"]
    assert list(errors["1"]) == ["date_of_birth"] and "boys under 13" in errors["1"]["date_of_birth"][0]
    assert list(errors["2"]) == ["date_of_birth"] and "date of birth" in errors["2"]["date_of_birth"][0]
    assert not Order.objects.exists() and not Name.objects.exists()


def test_the_api_accepts_eligible_children_at_one_dollar(campaigns, trusted_shliach):
    today = datetime.date.today()
    names = [name_data(i, date_of_birth=today.replace(year=today.year - 3 - i, day=1).isoformat()) for i in range(3)]
    response = token_client(trusted_shliach).post(
        "/api/v1/orders/", order_payload(campaign="children", names=names), format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["amount"], body["currency"]) == ("3.00", "USD")
    assert all(name["letter"]["scroll_number"] == 1 for name in body["names"])


def test_the_campaign_list_tells_clients_the_rules(client, campaigns):
    by_slug = {c["slug"]: c for c in client.get("/api/v1/campaigns/").json()}
    assert by_slug["children"]["requires_date_of_birth"] and by_slug["children"]["discloses_parsha_only"]
    assert (by_slug["children"]["boys_under_age"], by_slug["children"]["girls_under_age"]) == (13, 12)
    assert by_slug["world-of-truth"]["for_the_departed"] and by_slug["world-of-truth"]["parent_is_father"]
    assert by_slug["children"]["allocation_mode"] == "lottery"
