"""The buyer's pages with the demo provider, through Django's test client."""

import re

import pytest

from allocation.models import Letter, Order
from payments.models import Payment

pytestmark = pytest.mark.django_db


def buy_form(**overrides):
    data = {
        "names-TOTAL_FORMS": "2",
        "names-INITIAL_FORMS": "0",
        "names-MIN_NUM_FORMS": "0",
        "names-MAX_NUM_FORMS": "50",
        "names-0-hebrew_name": "מנחם מענדל",
        "names-0-gender": "m",
        "names-0-parent_hebrew_name": "חיה מושקא",
        "names-1-hebrew_name": "",
        "names-1-gender": "m",
        "names-1-parent_hebrew_name": "",
        "buyer_name": "Rivka",
        "buyer_email": "rivka@example.org",
        "buyer_phone": "",
        "amount": "",
        "consent": "on",
    }
    data.update(overrides)
    return data


@pytest.fixture
def demo(settings):
    settings.DEMO_PAYMENTS = True
    settings.STRIPE_SECRET_KEY = ""


def test_buy_page_has_right_to_left_hebrew_inputs(client, campaigns):
    page = client.get("/buy/idf/").content.decode()
    assert 'name="names-0-hebrew_name"' in page
    assert page.count('dir="rtl" lang="he"') >= 2


def _without_csrf(page):
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page)


def test_the_blank_buy_page_served_from_its_rendered_forms_is_the_page_rendered_anew(client, campaigns):
    from checkout import views

    views._blank_forms_html.clear()
    for language in ("en", "he", "ru"):
        first = client.get("/buy/idf/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
        again = client.get("/buy/idf/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
        assert _without_csrf(first) == _without_csrf(again)
    assert len(views._blank_forms_html) == 3  # once per language
    hebrew = client.get("/buy/idf/", HTTP_ACCEPT_LANGUAGE="he").content.decode()
    assert "שם עברי" in hebrew and "Hebrew name" not in hebrew


def test_the_blank_buy_page_follows_a_change_of_the_campaigns_rules(client, campaigns):
    idf = campaigns["idf"]
    assert 'name="names-0-date_of_birth"' not in client.get("/buy/idf/").content.decode()
    idf.boys_under_age, idf.parent_is_father = 13, True
    idf.save()
    page = client.get("/buy/idf/").content.decode()
    assert 'name="names-0-date_of_birth"' in page and "Father&#x27;s Hebrew name" in page


def test_a_bad_name_is_reported_beside_its_field_and_nothing_is_saved(client, campaigns):
    response = client.post("/buy/idf/", buy_form(**{"names-0-hebrew_name": "Menachem"}))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Please type the name in Hebrew letters" in page
    assert 'id="error_1_id_names-0-hebrew_name"' in page or "is-invalid" in page
    assert not Order.objects.exists()


def test_errors_come_in_the_buyers_language(client, campaigns):
    response = client.post("/buy/idf/", buy_form(buyer_email="not-an-email"), HTTP_ACCEPT_LANGUAGE="he")
    page = response.content.decode()
    assert response.status_code == 200 and not Order.objects.exists()
    assert '<html lang="he" dir="rtl">' in page
    assert "נא להזין כתובת דוא&quot;ל חוקית" in page  # Django's own Hebrew message, beside the field


def test_add_another_name_works_without_javascript(client, campaigns):
    response = client.post("/buy/idf/", buy_form(add_name="1"))
    assert 'name="names-2-hebrew_name"' in response.content.decode()
    assert not Order.objects.exists()


def test_give_more_below_the_suggested_price_is_refused(client, campaigns):
    response = client.post("/buy/idf/", buy_form(amount="3.00"))
    assert "cannot be less than" in response.content.decode()
    assert not Order.objects.exists()


def test_demo_payment_success_shows_the_letters(client, campaigns, demo):
    response = client.post(
        "/buy/idf/",
        buy_form(
            **{
                "names-1-hebrew_name": "שרה",
                "names-1-gender": "f",
                "names-1-parent_hebrew_name": "רבקה",
                "amount": "40.00",
            }
        ),
    )
    order = Order.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/orders/{order.token}/pay/"
    assert (order.amount, order.currency, order.names.count()) == (40, "ILS", 2)
    pay_page = client.get(response["Location"]).content.decode()
    assert "no money is taken" in pay_page

    done = client.post(f"/orders/{order.token}/pay/demo/", {"outcome": "succeed"}, follow=True)
    page = done.content.decode()
    assert "מנחם מענדל בן חיה מושקא" in page and "שרה בת רבקה" in page
    assert "letter 1 of 304,805" in page and "letter 2 of 304,805" in page
    assert Letter.objects.filter(name__order=order).count() == 2


def test_demo_payment_failure_lets_the_buyer_try_again(client, campaigns, demo):
    client.post("/buy/idf/", buy_form())
    order = Order.objects.get()
    client.get(f"/orders/{order.token}/pay/")
    response = client.post(f"/orders/{order.token}/pay/demo/", {"outcome": "fail"}, follow=True)
    assert "declined" in response.content.decode()
    # The declined attempt is kept; the pay page the buyer is sent back to opens a new one.
    assert list(Payment.objects.filter(order=order).order_by("id").values_list("status", flat=True)) == [
        "failed",
        "created",
    ]
    client.post(f"/orders/{order.token}/pay/demo/", {"outcome": "succeed"})
    order.refresh_from_db()
    assert order.status == "paid" and Payment.objects.filter(order=order).count() == 2


def test_an_attempt_for_an_amount_the_order_no_longer_has_is_flagged_not_paid(client, campaigns, demo):
    client.post("/buy/idf/", buy_form())
    order = Order.objects.get()
    client.get(f"/orders/{order.token}/pay/")  # the attempt, for the order's amount of now
    Order.objects.filter(pk=order.pk).update(amount=order.amount + 10)  # changed by staff meanwhile
    client.post(f"/orders/{order.token}/pay/demo/", {"outcome": "succeed"})
    payment = Payment.objects.get(order=order)
    order.refresh_from_db()
    assert payment.status == "succeeded" and "but the order expects" in payment.flagged_reason
    assert order.status == "pending" and not Letter.objects.filter(name__order=order).exists()


def test_demo_payments_are_refused_when_switched_off(client, campaigns, settings):
    settings.DEMO_PAYMENTS = False
    settings.STRIPE_SECRET_KEY = ""
    client.post("/buy/idf/", buy_form())
    order = Order.objects.get()
    assert client.get(f"/orders/{order.token}/pay/").status_code == 503
    assert client.post(f"/orders/{order.token}/pay/demo/", {"outcome": "succeed"}).status_code == 404
    order.refresh_from_db()
    assert order.status == "pending"


def test_an_unknown_order_link_is_404(client, campaigns):
    assert client.get("/orders/not-a-real-token/").status_code == 404


def test_the_buyer_is_emailed_the_link_to_their_letters_once(
    client, campaigns, demo, mailoutbox, django_capture_on_commit_callbacks
):
    from allocation.services import order_confirmation_send

    client.post("/buy/idf/", buy_form())
    order = Order.objects.get()
    client.get(f"/orders/{order.token}/pay/")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/orders/{order.token}/pay/demo/", {"outcome": "succeed"})
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["rivka@example.org"]
    assert f"/orders/{order.token}/" in message.body
    assert "מנחם מענדל בן חיה מושקא" in message.body
    html = message.alternatives[0][0]
    assert 'dir="rtl"' in html and "&lt;" not in message.body
    assert order_confirmation_send(order_id=order.pk) is False
    assert len(mailoutbox) == 1


def test_staff_refund_from_the_admin_keeps_the_letters(client, campaigns, demo):
    from django.contrib.auth.models import User

    client.post("/buy/idf/", buy_form())
    order = Order.objects.get()
    client.get(f"/orders/{order.token}/pay/")
    client.post(f"/orders/{order.token}/pay/demo/", {"outcome": "succeed"})
    payment = Payment.objects.get(order=order, status="succeeded")

    client.force_login(User.objects.create_superuser("boss", "boss@example.org", "a-long-test-password"))
    response = client.post(
        "/admin/payments/payment/", {"action": "refund", "_selected_action": [payment.pk]}, follow=True
    )
    assert "1 payment refunded." in response.content.decode()
    order.refresh_from_db()
    payment.refresh_from_db()
    assert (order.status, payment.status) == ("refunded", "refunded")
    assert Letter.objects.filter(name__order=order).count() == 1

    # The buyer's page says so, and still shows the letter.
    client.logout()
    page = client.get(f"/orders/{order.token}/").content.decode()
    assert 'id="refunded"' in page and "This order was refunded." in page
    assert "Your payment was received" not in page
    assert page.count('class="letter-row"') == 1


def test_a_paid_orders_campaign_and_amount_cannot_be_changed_in_the_admin(client, campaigns, demo):
    """Its letters are in a scroll of its campaign and its payment was for its amount."""
    from django.contrib.auth.models import User

    client.post("/buy/idf/", buy_form())
    client.post("/buy/idf/", buy_form())
    pending, paid = Order.objects.order_by("id")
    client.get(f"/orders/{paid.token}/pay/")
    client.post(f"/orders/{paid.token}/pay/demo/", {"outcome": "succeed"})
    client.force_login(User.objects.create_superuser("boss", "boss@example.org", "a-long-test-password"))
    editable = client.get(f"/admin/allocation/order/{pending.pk}/change/").content.decode()
    settled = client.get(f"/admin/allocation/order/{paid.pk}/change/").content.decode()
    for field in ("campaign", "amount"):
        assert f'name="{field}"' in editable and f'name="{field}"' not in settled
    # The currency is always the campaign's (order_terms_change sets it with the campaign).
    assert 'name="currency"' not in editable and 'name="currency"' not in settled


def test_the_database_refuses_to_delete_a_payment_attempt(client, campaigns, demo):
    from django.db import IntegrityError, transaction

    client.post("/buy/idf/", buy_form())
    order = Order.objects.get()
    client.get(f"/orders/{order.token}/pay/")
    client.post(f"/orders/{order.token}/pay/demo/", {"outcome": "fail"})
    payment = Payment.objects.get(order=order)
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.filter(pk=payment.pk).delete()
    assert Payment.objects.filter(pk=payment.pk, status="failed").exists()
