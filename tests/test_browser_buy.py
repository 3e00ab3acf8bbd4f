"""A buyer on a phone buys two letters with Hebrew names through the demo provider."""

import pytest

from allocation.models import Letter

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_buy_two_letters_and_read_them_on_the_done_page(page, live_server, campaigns, settings):  # noqa: F811
    settings.DEMO_PAYMENTS = True
    settings.STRIPE_SECRET_KEY = ""
    page.goto(f"{live_server.url}/")
    page.get_by_role("link", name="Buy a letter — Sefer Torah of the IDF").click()

    page.fill("#id_names-0-hebrew_name", "מנחם מענדל")
    page.fill("#id_names-0-parent_hebrew_name", "חיה מושקא")
    page.click("#add-name")
    page.fill("#id_names-1-hebrew_name", "שרה רבקה")
    page.select_option("#id_names-1-gender", "f")
    page.check("#id_names-1-deceased")
    assert page.inner_text("label[for=id_names-1-parent_hebrew_name]").startswith("Father")
    page.fill("#id_names-1-parent_hebrew_name", "יוסף")
    page.fill("#id_buyer_name", "Rivka Cohen")
    page.fill("#id_buyer_email", "rivka@example.org")
    page.check("#id_consent")
    page.click("#continue-to-payment")

    page.wait_for_selector("#demo-succeed")
    page.click("#demo-succeed")
    page.wait_for_selector("#letters")
    rows = page.locator(".letter-row")
    assert rows.count() == 2
    assert "מנחם מענדל בן חיה מושקא" in rows.nth(0).inner_text()
    assert "שרה רבקה בת יוסף" in rows.nth(1).inner_text()
    assert "letter 1 of 304,805" in rows.nth(0).inner_text()
    assert Letter.objects.count() == 2
    page.screenshot(path="/tmp/unitysefer-done-page.png", full_page=True)
