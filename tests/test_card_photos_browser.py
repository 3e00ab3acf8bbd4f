"""A card typed from its photo in a browser, with double entry: a shliach uploads the photo and
types the card beside it; a second shliach of the team types it again with one difference, the
mismatch is shown, settled, and one order of the team exists."""

import re

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse
from playwright.sync_api import expect

from allocation.models import Order
from allocation.services import Consent
from registrations.card_services import card_entry_submit, card_photos_upload
from registrations.models import CardPhoto, CardState
from teams.services import team_create, team_members_set

from .test_accessibility import (  # noqa: F401  (axe_script: a fixture)
    REPORT_CSP_VIOLATIONS,
    _context,
    _csp_refused,
    _pages_audited,
    _violations,
    axe_script,
)
from .test_card_photos import CARD_ROW, make_shliach, phone_photo, upload

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _session_cookie(user, live_server):
    client = Client()
    client.force_login(user)
    name = django_settings.SESSION_COOKIE_NAME
    return {"name": name, "value": client.cookies[name].value, "url": live_server.url}


def _signed_in_page(browser, live_server, user):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US")
    context.add_cookies([_session_cookie(user, live_server)])
    return context, context.new_page()


def _photo_shown(page):
    photo = page.locator("#card-photo")
    expect(photo).to_be_visible()
    page.wait_for_function("() => { const img = document.getElementById('card-photo'); "
                           "return img.complete && img.naturalWidth > 0; }")  # fmt: skip
    box = photo.bounding_box()
    return box["width"] > 100


def _type_row(page, *, hebrew_name, parent, family):
    first = page.get_by_label("Row 1: Hebrew name", exact=True)
    expect(first).to_be_focused()  # ready to type
    keyboard = page.keyboard
    keyboard.type(hebrew_name)
    keyboard.press("Tab")
    keyboard.press("Tab")  # ben, the default
    keyboard.type(parent)
    keyboard.press("Tab")
    keyboard.type(family)


def test_a_card_typed_twice_from_its_photo_with_one_difference_is_settled_into_one_order(
    browser, live_server, campaigns
):
    owner, member = make_shliach("browser-card-owner"), make_shliach("browser-card-member")
    team = team_create(
        campaign=campaigns["idf"], owner=owner, name="Beis Chabad Cards", goal_letters=20, double_entry=True
    )
    team_members_set(team=team, by=owner, members=[member])
    queue = f"{live_server.url}{reverse('registrations:card-photos', args=[team.slug])}"

    # The owner uploads the photo of a card, and types it beside the photo.
    context, page = _signed_in_page(browser, live_server, owner)
    page.goto(queue)
    page.set_input_files(
        "#card-photos-files", files=[{"name": "card.jpg", "mimeType": "image/jpeg", "buffer": phone_photo()}]
    )
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".alert-success")).to_contain_text("1 photo of a card is queued.")
    card = CardPhoto.objects.get(team=team)
    page.get_by_role("link", name="Type the next card").click()
    page.wait_for_url(re.compile(rf"/shliach/cards/{card.pk}/type/$"))
    assert _photo_shown(page)
    expect(page.locator("#first-entry-note")).to_be_visible()
    _type_row(page, hebrew_name="מנחם מענדל", parent="חיה מושקא", family="Cohen")
    page.screenshot(path="/tmp/unitysefer-card-type.png", full_page=True)
    page.check("#id_consent")
    page.get_by_role("button", name="Save the first entry").click()
    page.wait_for_url(queue)
    expect(page.locator(".alert-success")).to_contain_text("a second person types it again")
    expect(page.locator(f'tr[data-card="{card.pk}"]')).to_contain_text("You typed it")
    card.refresh_from_db()
    assert card.state == CardState.TYPED and not Order.objects.exists()
    context.close()

    # A member of the team types it again, not seeing the first entry, with one difference.
    context, page = _signed_in_page(browser, live_server, member)
    page.goto(queue)
    page.get_by_role("link", name="Type it again").click()
    page.wait_for_url(re.compile(rf"/shliach/cards/{card.pk}/type/$"))
    assert _photo_shown(page)
    expect(page.locator("#second-entry-note")).to_be_visible()
    assert page.get_by_label("Row 1: Parent's Hebrew name", exact=True).input_value() == ""
    _type_row(page, hebrew_name="מנחם מענדל", parent="חנה", family="Cohen")
    page.check("#id_consent")
    page.get_by_role("button", name="Save the second entry").click()

    # The mismatch is shown, field by field, beside the photo.
    page.wait_for_url(re.compile(rf"/shliach/cards/{card.pk}/settle/$"))
    assert _photo_shown(page)
    differences = page.locator(".card-difference")
    expect(differences).to_have_count(1)
    expect(differences).to_contain_text("Row 1: Parent's Hebrew name")
    expect(differences).to_contain_text("חיה מושקא")
    expect(differences).to_contain_text("חנה")
    assert not Order.objects.exists()
    page.get_by_label("First entry: חיה מושקא").check()
    page.check("#id_consent")
    page.get_by_role("button", name="Save the card with these values").click()
    page.wait_for_url(queue)
    expect(page.locator(".alert-success")).to_contain_text("credited to the team")
    expect(page.locator("#cards-saved")).to_contain_text(f"#{card.pk}")
    context.close()

    order = Order.objects.get()
    card.refresh_from_db()
    assert card.state == CardState.SAVED and card.order == order and order.team == team
    assert card.first_entry_by == owner and card.second_entry_by == member and order.created_by == member
    assert list(order.names.values_list("hebrew_name", "parent_hebrew_name", "family_name")) == [
        ("מנחם מענדל", "חיה מושקא", "Cohen")
    ]


@pytest.mark.parametrize("language", ["en", "he", "ru"])
def test_the_card_pages_have_no_serious_accessibility_violation(browser, live_server, campaigns, axe_script, language):
    owner, member = make_shliach("a11y-card-owner"), make_shliach("a11y-card-member")
    team = team_create(
        campaign=campaigns["idf"], owner=owner, name="Cards", name_he="כרטיסים", goal_letters=20, double_entry=True
    )
    team_members_set(team=team, by=owner, members=[member])
    waiting, differing, saved = card_photos_upload(team=team, user=owner, files=[upload(), upload(), upload()])
    card_entry_submit(card_id=differing.pk, user=owner, rows=[CARD_ROW])
    card_entry_submit(card_id=differing.pk, user=member, rows=[{**CARD_ROW, "parent_hebrew_name": "חנה"}, CARD_ROW])
    card_entry_submit(card_id=saved.pk, user=owner, rows=[CARD_ROW])
    card_entry_submit(card_id=saved.pk, user=member, rows=[CARD_ROW], consent=Consent.given_now())
    paths = [
        reverse("registrations:card-photos", args=[team.slug]),
        reverse("registrations:card-type", args=[waiting.pk]),
        reverse("registrations:card-settle", args=[differing.pk]),
    ]
    context = _context(browser, live_server, language, member)
    page = context.new_page()
    page.add_init_script(REPORT_CSP_VIOLATIONS)
    found, refused = _pages_audited(page, live_server, paths, language, axe_script)
    # The queue with an upload refused, and a card typed with a problem: their errors shown.
    page.goto(f"{live_server.url}{paths[0]}")
    page.set_input_files("#card-photos-files", files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"x"}])
    page.click("#card-upload")
    page.wait_for_selector("#upload-errors")
    found += _violations(page, axe_script, f"{language} {paths[0]} (refused)")
    page.goto(f"{live_server.url}{paths[1]}")
    page.keyboard.type("Menachem")
    page.click("#grid-submit")
    page.wait_for_selector("#card-errors")
    found += _violations(page, axe_script, f"{language} {paths[1]} (problems)")
    refused += _csp_refused(page, f"{language} (errors)")
    context.close()
    assert not found, "Accessibility violations:\n" + "\n".join(found)
    assert not refused, "Content Security Policy violations:\n" + "\n".join(refused)
