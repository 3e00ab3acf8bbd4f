"""Gifts (issue 19, point 2): a name's letter given to someone, whose e-card is emailed in their
language on its day, once; the recipient's own page; the buyer told, shown a failure, and able
to correct the address."""

import datetime
import json

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError

from allocation.models import Gift, GiftState
from allocation.services import order_allocate, order_mark_paid
from gifts.services import gift_deliver, gifts_deliver_due
from gifts.tasks import deliver_due_gifts
from privacy.services import personal_data_erase, personal_data_export
from unitysefer.celery import app

from .conftest import token_client
from .factories import make_order, name_data
from .smtp_server import REFUSED_DOMAIN, smtp_server
from .test_api import order_payload
from .test_buy_pages import buy_form

pytestmark = pytest.mark.django_db

TODAY = datetime.date.today()


def gift(**overrides):
    return {
        "recipient_name": "Chaya Levi",
        "recipient_email": "chaya@example.org",
        "language": "he",
        "message": "מזל טוב!",
        **overrides,
    }


def paid(order):
    order_mark_paid(order_id=order.pk)
    order_allocate(order_id=order.pk)
    return order


def test_the_api_takes_a_gift_and_gives_it_back_with_its_state(
    campaigns, trusted_shliach, mailoutbox, django_capture_on_commit_callbacks
):
    client = token_client(trusted_shliach)
    names = [name_data(0, gift=gift()), name_data(1)]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/orders/", order_payload(names=names), format="json")
    assert response.status_code == 201, response.json()
    detail = client.get(f"/api/v1/orders/{response.json()['id']}/").json()
    given, plain = detail["names"]
    assert plain["gift"] is None
    assert given["gift"]["recipient_email"] == "chaya@example.org"
    assert given["gift"]["language"] == "he" and given["gift"]["message"] == "מזל טוב!"
    assert given["gift"]["state"] == "delivered" and given["gift"]["delivered_at"]
    assert "token" not in given["gift"]
    [card] = [message for message in mailoutbox if message.to == ["chaya@example.org"]]
    token = Gift.objects.get().token
    assert f"/gifts/{token}/" in card.body
    html = card.alternatives[0][0]
    assert 'dir="rtl"' in html and 'lang="he"' in html


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"recipient_email": "not-an-address"}, "recipient_email"),
        ({"recipient_name": ""}, "recipient_name"),
        ({"language": "fr"}, "language"),
        ({"message": "a\u202eb"}, "message"),
        ({"message": "x" * 501}, "message"),
    ],
)
def test_the_api_refuses_a_bad_gift_naming_the_field(campaigns, trusted_shliach, overrides, field):
    client = token_client(trusted_shliach)
    response = client.post(
        "/api/v1/orders/", order_payload(names=[name_data(0, gift=gift(**overrides))]), format="json"
    )
    assert response.status_code == 400
    assert field in response.json()["names"]["0"]["gift"], response.json()
    assert not Gift.objects.exists()


@pytest.mark.parametrize(
    "day", [TODAY - datetime.timedelta(days=2), TODAY + datetime.timedelta(days=400)], ids=["past", "too-far"]
)
def test_the_api_refuses_a_day_in_the_past_or_too_far(campaigns, trusted_shliach, day):
    client = token_client(trusted_shliach)
    names = [name_data(0, gift=gift(deliver_on=day.isoformat()))]
    response = client.post("/api/v1/orders/", order_payload(names=names), format="json")
    assert response.status_code == 400
    assert "gift_deliver_on" in response.json()["names"]["0"], response.json()
    assert not Gift.objects.exists()


def test_the_schema_documents_the_gift(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()["components"]["schemas"]
    assert "gift" in schema["NameInput"]["properties"]
    assert set(schema["GiftInput"]["properties"]) == {
        "recipient_name",
        "recipient_email",
        "language",
        "deliver_on",
        "message",
    }
    assert "state" in schema["Gift"]["properties"] and "token" not in schema["Gift"]["properties"]


def test_a_gift_with_a_day_waits_for_it_then_the_beat_task_delivers_it_once(campaigns, mailoutbox):
    later = TODAY + datetime.timedelta(days=3)
    order = paid(make_order(campaigns["idf"], names=[name_data(0, gift=gift(deliver_on=later))]))
    assert gifts_deliver_due(order_id=order.pk) == []
    given = Gift.objects.get()
    assert given.state == GiftState.WAITING and given.giver_name == order.buyer_name
    Gift.objects.filter(pk=given.pk).update(deliver_on=TODAY)  # its day has come
    deliver_due_gifts.delay()
    deliver_due_gifts.delay()  # twice: still one e-card
    given.refresh_from_db()
    assert given.state == GiftState.DELIVERED and given.buyer_told_at is not None
    assert len([message for message in mailoutbox if message.to == ["chaya@example.org"]]) == 1
    [told] = [message for message in mailoutbox if message.to == [order.buyer_email]]
    assert "Chaya Levi" in told.subject
    assert gift_deliver(gift_id=given.pk) is False  # delivered already


def test_an_unpaid_order_gives_nothing(campaigns, mailoutbox):
    order = make_order(campaigns["idf"], names=[name_data(0, gift=gift())])
    assert gifts_deliver_due(order_id=order.pk) == [] and gifts_deliver_due() == []
    assert not mailoutbox


def test_a_refused_address_is_shown_to_the_buyer_who_corrects_it_and_it_is_sent(
    campaigns, client, settings, django_capture_on_commit_callbacks
):
    with smtp_server() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        order = paid(
            make_order(campaigns["idf"], names=[name_data(0, gift=gift(recipient_email=f"x@{REFUSED_DOMAIN}"))])
        )
        assert gifts_deliver_due(order_id=order.pk) == []
        given = Gift.objects.get()
        assert given.state == GiftState.FAILED and "550" in given.failure and given.attempts == 1
        page = client.get(f"/orders/{order.token}/").content.decode()
        assert "No such user here" in page and f"/orders/{order.token}/gifts/{given.pk}/resend/" in page

        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                f"/orders/{order.token}/gifts/{given.pk}/resend/", {"recipient_email": "chaya@example.org"}
            )
        assert response.status_code == 302
        given.refresh_from_db()
        assert given.state == GiftState.DELIVERED and given.recipient_email == "chaya@example.org"
        recipients = [recipients for _sender, recipients, _message in server.messages]
        assert recipients.count(["chaya@example.org"]) == 1
        assert "Delivered on" in client.get(f"/orders/{order.token}/").content.decode()
        # Delivered: not sent again.
        client.post(f"/orders/{order.token}/gifts/{given.pk}/resend/", {"recipient_email": "other@example.org"})
        given.refresh_from_db()
        assert given.recipient_email == "chaya@example.org"


def test_another_orders_token_cannot_correct_a_gift(campaigns, client):
    order = make_order(campaigns["idf"], names=[name_data(0, gift=gift())])
    other = make_order(campaigns["idf"], 1)
    given = Gift.objects.get()
    response = client.post(f"/orders/{other.token}/gifts/{given.pk}/resend/", {"recipient_email": "evil@example.org"})
    assert response.status_code == 404
    assert client.get(f"/orders/{order.token}/gifts/{given.pk}/resend/").status_code == 405
    given.refresh_from_db()
    assert given.recipient_email == "chaya@example.org"


def test_a_bad_corrected_address_changes_nothing(campaigns, client):
    order = make_order(campaigns["idf"], names=[name_data(0, gift=gift())])
    given = Gift.objects.get()
    client.post(f"/orders/{order.token}/gifts/{given.pk}/resend/", {"recipient_email": "nope"})
    given.refresh_from_db()
    assert given.recipient_email == "chaya@example.org"


def test_the_recipients_page_shows_the_letter_and_nothing_of_the_buyer(campaigns, client, mailoutbox):
    order = paid(
        make_order(
            campaigns["idf"],
            names=[name_data(0, gift=gift(), dedication_kind="success", dedication_text="לבריאות")],
        )
    )
    given = Gift.objects.get()
    page = client.get(f"/gifts/{given.token}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert given.name.display_name in html and "לבריאות" in html and "מזל טוב!" in html
    assert order.buyer_name in html  # the giver's name as written
    assert order.buyer_email not in html
    assert page["Referrer-Policy"] == "no-referrer"
    assert client.get("/gifts/not-a-token/").status_code == 404


def test_a_gift_needs_a_recipient(campaigns):
    with pytest.raises(ValidationError) as refused:
        make_order(campaigns["idf"], names=[name_data(0, gift={"recipient_email": "a@example.org"})])
    assert "gift_recipient_name" in str(refused.value.message_dict)
    assert not Gift.objects.exists()


def test_the_buyers_export_has_the_gift_and_erasure_takes_it(campaigns):
    order = make_order(campaigns["idf"], names=[name_data(0, gift=gift())])
    exported = json.dumps(personal_data_export(email=order.buyer_email, operator="office"), ensure_ascii=False)
    assert "chaya@example.org" in exported and "מזל טוב!" in exported
    personal_data_erase(email=order.buyer_email, reason="asked", operator="office")
    assert not Gift.objects.exists()


def test_a_recipient_can_have_the_gifts_given_to_them_exported_and_erased(campaigns):
    given = make_order(campaigns["idf"], names=[name_data(0, gift=gift(recipient_email="Chaya@Example.org"))])
    other = make_order(campaigns["idf"], names=[name_data(1, gift=gift(recipient_email="someone@example.org"))])
    exported = personal_data_export(email="chaya@example.org", operator="office")
    received = exported["gifts_received"]
    assert [(row["recipient_email"], row["giver_name"], row["message"]) for row in received] == [
        ("Chaya@Example.org", given.buyer_name, "מזל טוב!")
    ]
    assert given.buyer_email not in json.dumps(received)  # the giver's address is the giver's

    personal_data_erase(email="chaya@example.org", reason="asked by the recipient", operator="office")
    assert list(Gift.objects.values_list("recipient_email", flat=True)) == ["someone@example.org"]
    # The giver's order and its name stay; only the gift to that address went.
    assert given.names.count() == 1 and other.names.get().gift.recipient_email == "someone@example.org"


def test_the_buy_page_takes_a_gift_under_its_summary(client, campaigns):
    page = client.get("/buy/idf/").content.decode()
    assert "<details" in page and 'name="names-0-gift_recipient_email"' in page
    day = TODAY + datetime.timedelta(days=5)
    fields = {
        "names-0-gift_recipient_name": "חיה לוי",
        "names-0-gift_recipient_email": "chaya@example.org",
        "names-0-gift_language": "ru",
        "names-0-gift_deliver_on": day.isoformat(),
        "names-0-gift_message": "Mazel tov",
    }
    response = client.post("/buy/idf/", buy_form(**fields))
    assert response.status_code == 302, response.content.decode()[:2000]
    given = Gift.objects.get()
    assert (given.recipient_name, given.language, given.deliver_on, given.message, given.giver_name) == (
        "חיה לוי",
        "ru",
        day,
        "Mazel tov",
        "Rivka",
    )


def test_the_buy_page_says_what_a_gift_lacks_beside_its_field(client, campaigns):
    response = client.post("/buy/idf/", buy_form(**{"names-0-gift_recipient_email": "chaya@example.org"}))
    assert response.status_code == 200
    assert response.context["formset"].forms[0].errors["gift_recipient_name"]
    assert not Gift.objects.exists()


def test_beat_delivers_the_due_gifts_every_hour():
    entry = settings.CELERY_BEAT_SCHEDULE["deliver-due-gifts"]
    assert entry["task"] == deliver_due_gifts.name and entry["task"] in app.tasks
    assert entry["schedule"].minute == {3} and len(entry["schedule"].hour) == 24


def test_starting_again_carries_each_gift_with_its_name(campaigns):
    from allocation.services import order_cancel, order_place_again

    later = TODAY + datetime.timedelta(days=30)
    names = [
        name_data(0, gift=gift(deliver_on=later.isoformat())),
        name_data(1),
        name_data(2, gift=gift(recipient_email="dovid@example.org", deliver_on=later.isoformat())),
    ]
    order = make_order(campaigns["idf"], names=names)
    # The second gift's day passed while the order waited (as set here, the API refuses a past day).
    Gift.objects.filter(recipient_email="dovid@example.org").update(deliver_on=TODAY - datetime.timedelta(days=2))
    order_cancel(order_id=order.pk)
    order.refresh_from_db()

    again = order_place_again(order=order)
    carried = [
        (name.hebrew_name, name.gift.recipient_email, name.gift.deliver_on, name.gift.message, name.gift.state)
        for name in again.names.select_related("gift").exclude(gift=None).order_by("id")
    ]
    hebrew = [name["hebrew_name"] for name in names]
    assert carried == [
        (hebrew[0], "chaya@example.org", later, "מזל טוב!", GiftState.WAITING),
        (hebrew[2], "dovid@example.org", None, "מזל טוב!", GiftState.WAITING),  # delivered at once
    ]
    assert Gift.objects.filter(name__order=order).count() == 2  # the old order keeps its own


def test_staff_read_gifts_in_the_admin_without_the_recipients_link(client, campaigns, staff_user):
    order = make_order(campaigns["idf"], names=[name_data(0, gift=gift())])
    present = Gift.objects.get(name__order=order)
    client.force_login(staff_user)
    listing = client.get("/admin/allocation/gift/?q=chaya")
    assert listing.status_code == 200 and "chaya@example.org" in listing.content.decode()
    page = client.get(f"/admin/allocation/gift/{present.pk}/change/")
    assert page.status_code == 200 and "Chaya Levi" in page.content.decode()
    assert present.token not in page.content.decode()
    assert client.get(f"/admin/allocation/gift/{present.pk}/delete/").status_code == 403
    assert (
        client.post(f"/admin/allocation/gift/{present.pk}/change/", {"recipient_email": "x@example.org"}).status_code
        == 403
    )
    assert Gift.objects.get(pk=present.pk).recipient_email == "chaya@example.org"


def test_an_order_says_whether_it_gives_gifts_and_only_then_are_they_delivered_on_allocation(
    campaigns, mailoutbox, django_capture_on_commit_callbacks, settings
):
    settings.CERTIFICATES_ISSUE_WHEN_ALLOCATED = False
    giving = make_order(campaigns["idf"], names=[name_data(0), name_data(1, gift=gift())])
    plain = make_order(campaigns["idf"], names=[name_data(2)])
    assert (giving.gives_gifts, plain.gives_gifts) == (True, False)
    giving.refresh_from_db()
    plain.refresh_from_db()
    assert (giving.gives_gifts, plain.gives_gifts) == (True, False)
    with django_capture_on_commit_callbacks(execute=True):
        paid(giving)
        paid(plain)
    assert [message.to for message in mailoutbox if message.to == ["chaya@example.org"]] == [["chaya@example.org"]]
    assert Gift.objects.get().state == GiftState.DELIVERED
