"""Hebrew for those who cannot type it: the transliteration of a given name typed in Latin or
Cyrillic letters (allocation.transliteration, its table allocation/data/given_names.csv), its
JSON (GET /names/transliterate/), and the on-screen Hebrew keyboard of the buy page, used with
the keyboard alone (static/js/hebrew_input.js)."""

import csv
import ipaddress
import uuid

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.test import Client
from playwright.sync_api import expect

from allocation.transliteration import (
    MAX_TEXT_LENGTH,
    MAX_WORDS,
    TABLE_PATH,
    TransliterationInputInvalid,
    name_transliterate,
)
from allocation.validators import validate_hebrew_name
from registrations.models import NameDraft

from .conftest import make_user

URL = "/names/transliterate/"


def unique_ip():
    return str(ipaddress.IPv6Address(uuid.uuid4().int))


# --- The service -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    ["Menachem Mendel", "menachem mendel", "MENAHEM MENDL", "Менахем Мендл", "Менахем Мендель", "Menakhem  Mendel"],
)
def test_menachem_mendel_in_any_spelling_is_suggested_with_the_chabad_spelling_first(typed):
    suggestions = name_transliterate(text=typed).suggestions
    assert suggestions[0] == "מנחם מענדל"
    assert "מנחם מנדל" in suggestions  # the other spelling of Mendel, after it


@pytest.mark.parametrize(
    ("typed", "hebrew"),
    [
        ("Chaya Mushka", "חיה מושקא"),
        ("Haya Mushke", "חיה מושקא"),
        ("Хая Мушка", "חיה מושקא"),
        ("Schneur Zalman", "שניאור זלמן"),
        ("Шнеур Залман", "שניאור זלמן"),
        ("Levi Yitzchak", "לוי יצחק"),
        ("Леви Ицхак", "לוי יצחק"),
        ("Rivkah", "רבקה"),
        ("Rivke", "רבקה"),
        ("Devorah Leah", "דבורה לאה"),
        ("Dvoira", "דבורה"),
        ("Yitzhok", "יצחק"),
        ("Иегуда Лейб", "יהודה לייב"),
        ("Bas Sheva", "בת שבע"),  # a pair the table knows whole; "Bas" alone is not a name
    ],
)
def test_common_names_are_found_in_english_and_russian_spellings(typed, hebrew):
    assert name_transliterate(text=typed).suggestions[0] == hebrew


def test_a_word_in_hebrew_letters_is_kept_as_it_is():
    assert name_transliterate(text="מנחם Mendel").suggestions[0] == "מנחם מענדל"


def test_an_unknown_word_gives_no_suggestion_and_is_named():
    """Documented: no half-Hebrew suggestion; the unknown word is returned for the page to name."""
    result = name_transliterate(text="Menachem Qwzx")
    assert result.suggestions == []
    assert result.unknown == ["Qwzx"]
    assert name_transliterate(text="   ").suggestions == []


def test_the_number_of_suggestions_is_bounded_by_the_limit():
    assert len(name_transliterate(text="Mendel", limit=1).suggestions) == 1
    assert len(name_transliterate(text="Noah Mendel Noah", limit=3).suggestions) == 3


@pytest.mark.parametrize(
    ("text", "limit", "named"),
    [
        ("a" * (MAX_TEXT_LENGTH + 1), 5, str(MAX_TEXT_LENGTH)),
        (" ".join(["Chaya"] * (MAX_WORDS + 1)), 5, str(MAX_WORDS)),
        ("Chaya", 0, "10"),
        ("Chaya", 11, "10"),
    ],
)
def test_input_beyond_the_limits_is_refused_naming_the_limit(text, limit, named):
    with pytest.raises(TransliterationInputInvalid) as refused:
        name_transliterate(text=text, limit=limit)
    assert named in str(refused.value)


def test_six_words_are_answered():
    assert name_transliterate(text=" ".join(["Chaya"] * MAX_WORDS)).suggestions == [" ".join(["חיה"] * MAX_WORDS)]


def test_every_hebrew_spelling_of_the_table_is_a_valid_name_with_spellings_in_both_scripts():
    with TABLE_PATH.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) >= 300
    problems = []
    for row in rows:
        try:
            validate_hebrew_name(row["hebrew"])
        except ValidationError:
            problems.append(row["hebrew"])
        if row["gender"] not in {"m", "f"} or not row["latin"].strip() or not row["cyrillic"].strip():
            problems.append(row["hebrew"])
        if any(char.isascii() for char in row["cyrillic"].replace("|", "").replace(" ", "").replace("-", "")):
            problems.append(row["hebrew"])
    assert not problems


# --- The endpoint ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_endpoint_answers_json_suggestions(client):
    response = client.get(URL, {"q": "Менахем Мендл"}, REMOTE_ADDR=unique_ip())
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["suggestions"][0] == "מנחם מענדל"
    assert body["unknown"] == []
    assert "public" in response["Cache-Control"]


@pytest.mark.django_db
def test_the_endpoint_refuses_too_long_a_name_with_400_naming_the_limit(client):
    response = client.get(URL, {"q": "Chaya " * 30}, REMOTE_ADDR=unique_ip())
    assert response.status_code == 400
    assert str(MAX_TEXT_LENGTH) in response.json()["error"]
    too_many = client.get(URL, {"q": "Chaya " * (MAX_WORDS + 1)}, REMOTE_ADDR=unique_ip())
    assert too_many.status_code == 400 and str(MAX_WORDS) in too_many.json()["error"]


@pytest.mark.django_db
def test_the_endpoint_answers_get_only(client):
    assert client.post(URL, {"q": "Chaya"}, REMOTE_ADDR=unique_ip()).status_code == 405


@pytest.mark.django_db
def test_the_endpoint_is_rate_limited_per_address(client, settings):
    settings.RATELIMIT_TRANSLITERATE = "3/d"
    address = unique_ip()
    for _ in range(3):
        assert client.get(URL, {"q": "Chaya"}, REMOTE_ADDR=address).status_code == 200
    limited = client.get(URL, {"q": "Chaya"}, REMOTE_ADDR=address)
    assert limited.status_code == 429
    assert limited.json()["error"] and int(limited["Retry-After"]) >= 1
    assert client.get(URL, {"q": "Chaya"}, REMOTE_ADDR=unique_ip()).status_code == 200  # another address


@pytest.mark.django_db
def test_the_name_fields_of_the_buy_page_are_marked_for_the_keyboard(client, campaigns):
    page = client.get("/buy/idf/").content.decode()
    assert page.count("data-hebrew-input") >= 4  # both fields, in the first row and the empty row
    assert 'id="hebrew-input-template"' in page and "js/hebrew_input.js" in page


# --- In the browser --------------------------------------------------------------------------------


def _tab_to(page, selector, *, limit=80):
    """Press Tab (Shift+Tab when the element comes before the focus) until it is focused."""
    target = page.locator(selector)
    before = target.evaluate(
        "element => Boolean(document.activeElement.compareDocumentPosition(element) & Node.DOCUMENT_POSITION_PRECEDING)"
    )
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if before else "Tab")
        if target.evaluate("element => element === document.activeElement"):
            return
    raise AssertionError(f"{selector} cannot be reached with Tab")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_name_is_typed_with_the_on_screen_keyboard_and_a_suggestion_picked_by_keyboard_alone(
    browser, live_server, campaigns
):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    page.goto(f"{live_server.url}/buy/idf/")
    field = "#id_names-0-hebrew_name"
    keyboard = "#id_names-0-hebrew_name-hebrew-keyboard"
    toggle = f"[aria-controls='{keyboard[1:]}']"

    _tab_to(page, field)
    page.keyboard.press("Tab")  # the next stop is the field's keyboard button
    assert page.evaluate("document.activeElement.getAttribute('aria-expanded')") == "false"
    assert page.evaluate("document.activeElement.getAttribute('aria-controls')") == keyboard[1:]
    page.keyboard.press("Enter")
    assert page.get_attribute(toggle, "aria-expanded") == "true"
    assert page.is_visible(keyboard)

    # ש, ר, ה: Tab from key to key, Enter on each.
    for letter in ["ש", "ר", "ה"]:
        _tab_to(page, f"{keyboard} button[data-key='{letter}']")
        page.keyboard.press("Enter")
    assert page.input_value(field) == "שרה"
    assert page.get_attribute(f"{keyboard} button[data-key='ש']", "aria-label") == "Shin"
    _tab_to(page, f"{keyboard} button[data-action='backspace']")
    page.keyboard.press("Enter")
    assert page.input_value(field) == "שר"

    page.keyboard.press("Escape")  # closes, and the focus goes back to the field
    assert not page.is_visible(keyboard)
    assert page.evaluate("document.activeElement.id") == field[1:]

    # A name in Latin letters in the Hebrew field: suggestions, announced, chosen with Enter.
    page.fill(field, "")
    page.keyboard.type("Menachem Mendel")
    suggestions = "#id_names-0-hebrew_name-hebrew-suggestions"
    assert page.get_attribute(suggestions, "aria-live") == "polite"
    page.wait_for_selector(f"{suggestions} .hebrew-suggestion")
    assert page.input_value(field) == "Menachem Mendel"  # never filled by itself
    first = page.locator(f"{suggestions} .hebrew-suggestion").first
    assert "מנחם מענדל" in first.inner_text()
    page.keyboard.press("Tab")  # the keyboard's button
    page.keyboard.press("Tab")  # the first suggestion (the keyboard is closed)
    assert first.evaluate("element => element === document.activeElement")
    page.keyboard.press("Enter")
    assert page.input_value(field) == "מנחם מענדל"
    assert page.evaluate("document.activeElement.id") == field[1:]
    assert "מנחם מענדל" in page.inner_text(suggestions)  # "... is in the field now: please check it."

    # A row added later gets its keyboard too.
    page.click("#add-name")
    assert page.locator("#id_names-1-hebrew_name-hebrew-keyboard").count() == 1

    # Sent with Latin letters in a Hebrew field: refused, and the page comes back with suggestions.
    page.fill("#id_names-0-parent_hebrew_name", "Rivkah")
    page.click("#continue-to-payment")
    page.wait_for_selector("#form-errors")
    assert page.input_value("#id_names-0-parent_hebrew_name") == "Rivkah"
    page.wait_for_selector("#id_names-0-parent_hebrew_name-hebrew-suggestions .hebrew-suggestion")
    assert "רבקה" in page.inner_text("#id_names-0-parent_hebrew_name-hebrew-suggestions")
    context.close()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_grids_one_keyboard_types_into_the_cell_last_focused_and_the_grid_saves_it(browser, live_server, campaigns):
    user = make_user("hebrew-input-shliach", permissions=["accounts.register_names"])
    user.groups.add(Group.objects.get_or_create(name="shliach")[0])
    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    name = django_settings.SESSION_COOKIE_NAME
    context.add_cookies([{"name": name, "value": client.cookies[name].value, "url": live_server.url}])
    page = context.new_page()
    page.goto(f"{live_server.url}/shliach/grid/idf/")
    first = page.get_by_label("Row 1: Hebrew name", exact=True)
    assert first.evaluate("element => element === document.activeElement")  # the grid's own focus
    assert page.locator(".hebrew-input-toggle").count() == 1  # one keyboard for every cell

    # A name in Latin letters in the cell: the suggestions above the grid; one picked.
    page.keyboard.type("Levi Yitzchak")
    page.wait_for_selector("#name-grid-hebrew-suggestions .hebrew-suggestion")
    page.locator("#name-grid-hebrew-suggestions .hebrew-suggestion").first.click()
    assert first.input_value() == "לוי יצחק"
    assert first.evaluate("element => element === document.activeElement")

    # The parent's cell, then the keyboard: its keys type there, and the grid saves what they typed.
    parent = page.get_by_label("Row 1: Parent's Hebrew name", exact=True)
    parent.focus()
    page.click(".hebrew-input-toggle")
    for letter in ["ח", "נ", "ה"]:
        page.click(f"#name-grid-hebrew-keyboard button[data-key='{letter}']")
    assert parent.input_value() == "חנה"
    assert first.input_value() == "לוי יצחק"
    expect(page.locator("#grid-status")).to_have_text("Saved")
    [draft] = NameDraft.objects.filter(created_by=user)
    assert draft.rows[0]["hebrew_name"] == "לוי יצחק" and draft.rows[0]["parent_hebrew_name"] == "חנה"
    context.close()
