import pytest
from rest_framework.test import APIClient

from allocation.models import Letter, Name, Order
from payments.models import Payment

from .conftest import token_client
from .factories import make_order, name_data

pytestmark = pytest.mark.django_db


def order_payload(campaign="idf", names=None, **extra):
    payload = {
        "campaign": campaign,
        "buyer": {"name": "Rivka Cohen", "email": "rivka@example.org", "phone": "+972-50-000-0000"},
        "names": names
        if names is not None
        else [
            {
                "hebrew_name": "מנחם מענדל",
                "parent_hebrew_name": "מחלה רבקה",
                "gender": "m",
                "english_name": "Menachem Mendel",
                "family_name": "Cohen",
                "deceased": False,
                "city": "Jerusalem",
                "country": "IL",
            }
        ],
        "payment": {"method": "offline", "reference": "receipt 118"},
    }
    payload.update(extra)
    return payload


def test_campaign_list_is_public_and_shows_the_open_scroll(campaigns):
    response = APIClient().get("/api/v1/campaigns/")
    assert response.status_code == 200
    by_slug = {item["slug"]: item for item in response.json()}
    assert set(by_slug) == {
        "tomchei-temimim",
        "beis-rivkah",
        "sefardi",
        "idf",
        "russian-jewry",
        "children",
        "world-of-truth",
    }
    idf = by_slug["idf"]
    assert idf["custom"] == "ashkenaz" and idf["currency"] == "ILS" and idf["price"] == "18.00"
    assert idf["name_he"]
    assert idf["active_scroll"] == {
        "number": 1,
        "total_letters": 304805,
        "letters_allocated": 0,
        "letters_remaining": 304805,
        "percent_allocated": 0.0,
    }


def test_trusted_user_records_an_offline_order_paid_and_allocated(campaigns, trusted_shliach):
    client = token_client(trusted_shliach)
    names = [name_data(0), name_data(1, deceased=True)]
    response = client.post("/api/v1/orders/", order_payload(names=names), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "paid" and body["campaign"] == "idf"
    assert body["amount"] == "36.00" and body["currency"] == "ILS"
    letters = [name["letter"] for name in body["names"]]
    assert [{key: letter[key] for key in ("scroll_number", "position")} for letter in letters] == [
        {"scroll_number": 1, "position": 1},
        {"scroll_number": 1, "position": 2},
    ]
    # No text is loaded in this test: the letter's identity is there, empty (see test_text_editions).
    assert letters[0]["total"] == 304805 and letters[0]["letter"] is None and letters[0]["parsha"] is None
    assert body["names"][0]["display_name"] == "מנחם מענדל בן מרים"
    payment = Payment.objects.get(order_id=body["id"])
    assert (payment.provider, payment.status, payment.reference) == ("offline", "succeeded", "receipt 118")

    progress = {c["slug"]: c for c in APIClient().get("/api/v1/campaigns/").json()}["idf"]
    assert progress["active_scroll"]["letters_allocated"] == 2


def test_order_detail_is_for_its_creator_and_staff_only(campaigns, trusted_shliach, plain_shliach, staff_user):
    created = token_client(trusted_shliach).post("/api/v1/orders/", order_payload(), format="json").json()
    url = f"/api/v1/orders/{created['id']}/"
    assert token_client(trusted_shliach).get(url).json() == created
    assert token_client(staff_user).get(url).status_code == 200
    assert token_client(plain_shliach).get(url).status_code == 404
    assert APIClient().get(url).status_code == 404


@pytest.mark.parametrize(
    "bad_name, field",
    [
        ({"hebrew_name": "Menachem"}, "hebrew_name"),
        ({"parent_hebrew_name": ""}, "parent_hebrew_name"),
        ({"hebrew_name": "מנחם\u202eמענדל"}, "hebrew_name"),
        ({"hebrew_name": "<script>alert(1)</script>"}, "hebrew_name"),
        ({"gender": "x"}, "gender"),
        ({"country": "USA"}, "country"),
    ],
)
def test_invalid_input_answers_400_per_field_and_saves_nothing(campaigns, trusted_shliach, bad_name, field):
    names = [name_data(0), name_data(1, **bad_name)]
    response = token_client(trusted_shliach).post("/api/v1/orders/", order_payload(names=names), format="json")
    assert response.status_code == 400
    errors = response.json()["names"]
    assert list(errors) == ["1"] and list(errors["1"]) == [field] and errors["1"][field][0]
    assert not Order.objects.exists() and not Name.objects.exists()


def test_unknown_campaign_empty_names_and_missing_reference_are_400(campaigns, trusted_shliach):
    client = token_client(trusted_shliach)
    assert "campaign" in client.post("/api/v1/orders/", order_payload(campaign="nope"), format="json").json()
    assert "names" in client.post("/api/v1/orders/", order_payload(names=[]), format="json").json()
    payload = order_payload(payment={"method": "offline", "reference": " "})
    assert "payment" in client.post("/api/v1/orders/", payload, format="json").json()
    assert not Order.objects.exists()


def test_offline_payment_without_the_permission_is_403(campaigns, plain_shliach):
    assert token_client(plain_shliach).post("/api/v1/orders/", order_payload(), format="json").status_code == 403
    assert APIClient().post("/api/v1/orders/", order_payload(), format="json").status_code in (401, 403)
    assert not Order.objects.exists()


def test_amount_below_the_suggested_price_is_refused_except_for_staff(campaigns, trusted_shliach, staff_user):
    low = order_payload(amount="5.00")
    assert "amount" in token_client(trusted_shliach).post("/api/v1/orders/", low, format="json").json()
    more = token_client(trusted_shliach).post("/api/v1/orders/", order_payload(amount="50.00"), format="json")
    assert more.json()["amount"] == "50.00"
    custom = token_client(staff_user).post("/api/v1/orders/", low, format="json")
    assert custom.status_code == 201 and custom.json()["amount"] == "5.00"


def test_schema_describes_the_api(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert "/api/v1/orders/" in response.content.decode()


@pytest.mark.slow
def test_an_order_of_100000_names_in_one_request(campaigns, trusted_shliach):
    client = token_client(trusted_shliach)
    names = [
        {"hebrew_name": "משה", "parent_hebrew_name": "שרה", "gender": "m", "family_name": f"F{index}"}
        for index in range(100_000)
    ]
    body = {"campaign": "idf", "names": names, "payment": {"method": "offline", "reference": "receipt 33000"}}
    too_many = client.post("/api/v1/orders/", {**body, "names": names + names[:1]}, format="json")
    assert too_many.status_code == 400 and "names" in too_many.json()
    assert not Order.objects.exists()

    response = client.post("/api/v1/orders/", body, format="json")
    assert response.status_code == 201
    answer = response.json()
    assert len(answer["names"]) == 100_000 and answer["names"][-1]["letter"]["position"] == 100_000
    assert Letter.objects.filter(name__order_id=answer["id"]).count() == 100_000


def test_a_names_answer_is_drfs_own_representation_of_its_declared_fields(campaigns, trusted_shliach, settings):
    """NameSerializer builds its answer by hand (an order of 100,000 names is answered at once):
    it must say exactly what DRF's generic walk over the declared fields says, for every kind of
    name: with and without a letter, certificate, gift, date of birth or dedication."""
    from rest_framework import serializers as drf

    from allocation.models import Name
    from certificates.services import order_certificates_issue
    from checkout.serializers import NameSerializer

    settings.CERTIFICATES_ISSUE_WHEN_ALLOCATED = False
    client = token_client(trusted_shliach)
    names = [
        {"hebrew_name": "משה", "parent_hebrew_name": "שרה", "gender": "m"},
        {
            "hebrew_name": "חנה",
            "parent_hebrew_name": "לאה",
            "gender": "f",
            "english_name": "Hannah",
            "family_name": "Levi",
            "deceased": True,
            "city": "Haifa",
            "country": "IL",
            "gift": {"recipient_name": "Chaya", "recipient_email": "chaya@example.org"},
        },
        {
            "hebrew_name": "דוד",
            "parent_hebrew_name": "רחל",
            "gender": "m",
            "dedication": {"kind": "refuah_shleimah", "text": "מכל המשפחה"},
            "listed": True,
        },
    ]
    paid = client.post(
        "/api/v1/orders/", order_payload(names=names, payment={"method": "offline", "reference": "r1"}), format="json"
    )
    assert paid.status_code == 201, paid.content
    order = Order.objects.get(pk=paid.json()["id"])
    order_certificates_issue(order_id=order.pk)
    unpaid = make_order(campaigns["idf"], 1)  # no letter yet
    Name.objects.filter(order_id=order.pk, hebrew_name="דוד").update(date_of_birth="2001-02-03")

    serializer = NameSerializer(context={"request": None})
    described = list(Name.objects.filter(order__in=[order, unpaid]).select_related("order__campaign"))
    assert len(described) == 4
    kinds = set()
    for name in described:
        by_hand = serializer.to_representation(name)
        assert by_hand == drf.ModelSerializer.to_representation(serializer, name)
        assert list(by_hand) == NameSerializer.Meta.fields
        kinds |= {key for key in ("letter", "certificate", "gift", "date_of_birth") if by_hand[key] is not None}
    assert kinds == {"letter", "certificate", "gift", "date_of_birth"}
