"""Finding a listed name (issue 19, point 4): a scroll's public list and its search, a letter's
page, and "Do I have a letter?" by name; an unlisted name never appears on any of them."""

import pytest
from django.core.cache import cache

from allocation.models import Letter
from allocation.selectors import scroll_listed_letters
from allocation.services import order_allocate, order_mark_paid

from .conftest import token_client
from .factories import make_order, name_data
from .test_api import order_payload

pytestmark = pytest.mark.django_db


def allocated(campaign, names):
    order = make_order(campaign, names=names)
    order_mark_paid(order_id=order.pk)
    order_allocate(order_id=order.pk)
    return order


@pytest.fixture
def listed(campaigns):
    """Three names in idf's scroll 1: two listed (one with final letters, one dedicated), one not."""
    cache.clear()  # the lookup's counters
    allocated(
        campaigns["idf"],
        [
            name_data(0, hebrew_name="מנחם מענדל", parent_hebrew_name="חיה מושקא", listed=True),
            name_data(1, hebrew_name="שרה", parent_hebrew_name="רבקה", listed=True, dedication_kind="wedding"),
            name_data(2, hebrew_name="אברהם", parent_hebrew_name="מרים", listed=False),
        ],
    )
    return {letter.name.hebrew_name: letter for letter in Letter.objects.select_related("name")}


def names_found(client, **query):
    """The names in the page's list of names (the search form shows what was typed)."""
    page = client.get("/campaigns/idf/scrolls/1/names/", query).content.decode()
    if 'id="listed-names"' not in page:
        return []
    listed = page.split('id="listed-names"')[1]
    return [name for name in ("מנחם מענדל", "שרה", "אברהם") if name in listed]


def test_the_scroll_lists_its_listed_names_only(client, listed):
    assert names_found(client) == ["מנחם מענדל", "שרה"]
    page = client.get("/campaigns/idf/scrolls/1/names/").content.decode()
    letter = listed["שרה"]
    assert f"/campaigns/idf/scrolls/1/letters/{letter.position}/" in page and "לרגל נישואי" in page
    assert "/campaigns/idf/scrolls/1/names/" in client.get("/campaigns/idf/scrolls/1/").content.decode()


@pytest.mark.parametrize(
    "typed",
    ["מנחם", "מנחמ", "מְנַחֵם", "מְנַחֵם מֶענדל", "מנחם מענדל"],  # with and without the final mem and niqqud
)
def test_the_search_reads_finals_and_niqqud_as_one(client, listed, typed):
    assert names_found(client, hebrew_name=typed) == ["מנחם מענדל"]
    assert names_found(client, hebrew_name=typed, parent_hebrew_name="חַיָּה") == ["מנחם מענדל"]
    assert names_found(client, hebrew_name=typed, parent_hebrew_name="רבקה") == []


def test_an_unlisted_name_is_found_nowhere_public(client, listed):
    unlisted = listed["אברהם"]
    assert names_found(client, hebrew_name="אברהם") == [] and names_found(client, parent_hebrew_name="מרים") == []
    assert scroll_listed_letters(scroll_id=unlisted.scroll_id, hebrew_name="אברהם").count() == 0
    page = client.get(f"/campaigns/idf/scrolls/1/letters/{unlisted.position}/").content.decode()
    assert "אברהם" not in page and "letter-name-unlisted" in page
    answer = client.post("/letters/lookup/name/", {"hebrew_name": "אברהם", "parent_hebrew_name": "מרים"})
    results = answer.content.decode().split('id="lookup-results"')[1]
    assert answer.status_code == 200 and "אברהם" not in results and 'id="lookup-none"' in results


def test_a_letters_page_shows_a_listed_name_and_its_dedication(client, listed):
    letter = listed["שרה"]
    page = client.get(f"/campaigns/idf/scrolls/1/letters/{letter.position}/").content.decode()
    assert "שרה בת רבקה" in page and "לרגל נישואי" in page
    assert client.get("/campaigns/idf/scrolls/1/letters/300000/").status_code == 404  # no name there yet


def test_the_lookup_by_name_answers_for_listed_names(client, listed):
    answer = client.post("/letters/lookup/name/", {"hebrew_name": "מנחמ מענדל", "parent_hebrew_name": "חיה מושקא"})
    page = answer.content.decode()
    assert answer.status_code == 200 and "מנחם מענדל בן חיה מושקא" in page
    assert f"/campaigns/idf/scrolls/1/letters/{listed['מנחם מענדל'].position}/" in page
    # A first name alone is not enough: the lookup wants both, whole.
    assert "lookup-results" not in client.post("/letters/lookup/name/", {"hebrew_name": "מנחם"}).content.decode()


def test_the_lookup_by_name_counts_on_the_lookups_limits(client, listed, settings):
    settings.LETTERS_LOOKUP_PER_HOUR = 2
    query = {"hebrew_name": "שרה", "parent_hebrew_name": "רבקה"}
    assert [client.post("/letters/lookup/name/", query).status_code for _ in range(3)] == [200, 200, 429]
    # The same address's lookups by email are over the limit too.
    assert client.post("/letters/lookup/", {"email": "someone@example.org"}).status_code == 429


def test_the_api_takes_listed_and_gives_it_back(campaigns, trusted_shliach):
    client = token_client(trusted_shliach)
    names = [name_data(0, listed=True), name_data(1)]
    response = client.post("/api/v1/orders/", order_payload(names=names), format="json")
    assert response.status_code == 201, response.json()
    assert [name["listed"] for name in response.json()["names"]] == [True, False]
