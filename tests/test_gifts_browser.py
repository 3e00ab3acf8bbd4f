"""A gift bought on the buy page in a browser (Hebrew, with a Hebrew dedication), its e-card
received by a real SMTP server the test starts, and the recipient's page it links to, which
shows the letter and nothing of the buyer's email or phone."""

import re

import pytest

from allocation.models import Gift, GiftState

from .celery_workers import wait_for
from .smtp_server import smtp_server
from .test_accessibility import _context

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BUYER_EMAIL = "rivka.buyer@example.org"
BUYER_PHONE = "+972-50-123-4567"


@pytest.fixture
def mail_server(settings):
    """Django's email goes to a real SMTP server on a local port (the live server runs in this
    process, so the settings reach it)."""
    with smtp_server() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        yield server


def test_a_gift_bought_in_the_browser_arrives_and_its_page_shows_nothing_of_the_buyer(
    browser, live_server, campaigns, settings, mail_server
):
    settings.DEMO_PAYMENTS = True
    settings.STRIPE_SECRET_KEY = ""
    context = _context(browser, live_server, "he")
    page = context.new_page()
    page.goto(f"{live_server.url}/buy/idf/")
    page.fill("#id_names-0-hebrew_name", "מנחם מענדל")
    page.fill("#id_names-0-parent_hebrew_name", "חיה מושקא")
    page.select_option("#id_names-0-dedication_kind", "in_honour")
    page.fill("#id_names-0-dedication_text", "יום הולדתו השמונה עשר")
    page.click("details.gift summary")
    page.fill("#id_names-0-gift_recipient_name", "מנחם מענדל כהן")
    page.fill("#id_names-0-gift_recipient_email", "mendel@example.org")
    page.fill("#id_names-0-gift_message", "מזל טוב!")
    page.fill("#id_buyer_name", "רבקה כהן")
    page.fill("#id_buyer_email", BUYER_EMAIL)
    page.fill("#id_buyer_phone", BUYER_PHONE)
    page.check("#id_consent")
    page.click("#continue-to-payment")
    page.wait_for_selector("#demo-succeed")
    page.click("#demo-succeed")
    page.wait_for_selector("#letters")

    def ecards():
        return [
            message for _sender, recipients, message in mail_server.messages if recipients == ["mendel@example.org"]
        ]

    wait_for(lambda: len(ecards()) == 1, timeout=30, what="the e-card at the SMTP server")
    [ecard] = ecards()
    html = ecard.get_body(("html",)).get_content()
    text = ecard.get_body(("plain",)).get_content()
    assert 'dir="rtl"' in html and "יום הולדתו השמונה עשר" in html and "רבקה כהן" in html
    [link] = re.findall(r"https?://\S+/gifts/[\w-]+/", text)
    gift = Gift.objects.get()
    assert gift.state == GiftState.DELIVERED and link.endswith(f"/gifts/{gift.token}/")

    page.goto(f"{live_server.url}/gifts/{gift.token}/")
    content = page.content()
    assert "מזל טוב!" in content and "מנחם מענדל בן חיה מושקא" in content and "רבקה כהן" in content
    assert BUYER_EMAIL not in content and BUYER_PHONE not in content
    assert "123-4567" not in content

    # The buyer's order page says it was delivered.
    page.goto(f"{live_server.url}/orders/{gift.name.order.token}/")
    assert page.locator(f"#gift-{gift.pk} .gift-state").inner_text().strip()
    wait_for(
        lambda: any(recipients == [BUYER_EMAIL] and "מנחם מענדל כהן" in str(message["Subject"])
                    for _sender, recipients, message in mail_server.messages),
        timeout=30, what="the buyer told",
    )  # fmt: skip
    context.close()
