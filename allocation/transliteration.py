"""Hebrew spellings suggested for a given name typed in Latin or Cyrillic letters.

The table is allocation/data/given_names.csv, shipped with the project: one row per Hebrew
spelling, with its Latin and Cyrillic spellings ("|" between variants). A name of several words
("Menachem Mendel") is matched word by word, and as a whole where the table has the whole
("Chaya Mushka"); the suggestions are the combinations of the words' matches, best first. Only
suggestions: the buyer always confirms the Hebrew (static/js/hebrew_input.js never fills a field
by itself).

A word the table does not know gives no suggestion for the name (a name half in Hebrew would
mislead); it is returned in `unknown`, so the page can say which word to type with the keyboard.
A word already in Hebrew letters is kept as it is."""

import csv
import itertools
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from django.utils.translation import gettext as _

from .validators import HEBREW_LETTERS

TABLE_PATH = Path(__file__).resolve().parent / "data" / "given_names.csv"
MAX_TEXT_LENGTH = 100
MAX_WORDS = 6
MAX_LIMIT = 10

# Scores of a word's match: as written (any case) above the tolerant one.
EXACT, TOLERANT = 2, 1

_WORD_SPLIT = re.compile(r"[\s\-\u05be,]+")
_HEBREW_WORD = re.compile(f"^[{HEBREW_LETTERS}\"'\u05f3\u05f4]+$")
_LATIN_OR_CYRILLIC = re.compile(r"^[a-z\u0430-\u044f\u0451'\u2019`]+$")
_APOSTROPHES = re.compile(r"['\u2019`]")
_DOUBLES = re.compile(r"(.)\1+")

# The tolerant match: spellings that sound alike read as one. Applied in order.
_LATIN_FOLDS = (
    ("sch", "sh"),
    ("tch", "ch"),
    ("ch", "h"),
    ("kh", "h"),
    ("ck", "k"),
    ("ph", "f"),
    ("tz", "ts"),
    ("zz", "ts"),
    ("w", "v"),
    ("y", "i"),
    ("j", "i"),
    ("ee", "i"),
    ("oo", "u"),
    ("ei", "ai"),
    ("oi", "ai"),
)
_CYRILLIC_FOLDS = (
    ("ё", "е"),
    ("э", "е"),
    ("й", "и"),
    ("ы", "и"),
    ("ь", ""),
    ("ъ", ""),
    ("г", "х"),  # Гирш and Хирш, Иегуда and Иехуда
    ("я", "иа"),
    ("ю", "иу"),
    ("ия", "иа"),
)


class TransliterationInputInvalid(ValueError):
    """The text cannot be looked up; the message says why, naming the limit."""


@dataclass(frozen=True)
class Transliteration:
    suggestions: list[str]
    unknown: list[str]


def _exact_key(word: str) -> str:
    return _APOSTROPHES.sub("", unicodedata.normalize("NFC", word).casefold())


def _tolerant_key(word: str) -> str:
    key = _exact_key(word)
    cyrillic = any("\u0430" <= char <= "\u044f" or char == "ё" for char in key)
    for old, new in _CYRILLIC_FOLDS if cyrillic else _LATIN_FOLDS:
        key = key.replace(old, new)
    key = _DOUBLES.sub(r"\1", key)
    if cyrillic:
        key = re.sub("(е|а|иа)$", "а", key)
    else:
        # Rivkah/Rivka/Rivke, Mushke/Mushka, Leah/Lea: the endings read alike.
        key = re.sub("(ah|eh|a|e)$", "a", key)
        key = re.sub("(?<=[aeiou])h$", "", key)
    return key


@dataclass(frozen=True)
class _Table:
    exact: dict[str, list[tuple[int, str]]]  # key -> [(row, hebrew)] in the table's order
    tolerant: dict[str, list[tuple[int, str]]]


@cache
def _table() -> _Table:
    exact: dict[str, list[tuple[int, str]]] = {}
    tolerant: dict[str, list[tuple[int, str]]] = {}
    with TABLE_PATH.open(encoding="utf-8", newline="") as handle:
        for row_number, row in enumerate(csv.DictReader(handle)):
            hebrew = row["hebrew"].strip()
            variants = [*row["latin"].split("|"), *row["cyrillic"].split("|")]
            for variant in filter(None, (variant.strip() for variant in variants)):
                words = _WORD_SPLIT.split(variant)
                for index, key in (
                    (exact, " ".join(_exact_key(word) for word in words)),
                    (tolerant, " ".join(_tolerant_key(word) for word in words)),
                ):
                    found = index.setdefault(key, [])
                    if hebrew not in (known for _, known in found):
                        found.append((row_number, hebrew))
    return _Table(exact=exact, tolerant=tolerant)


def _matches(words: list[str], limit: int) -> list[tuple[int, int, str]]:
    """The table's spellings of these words read as one name, as (score, row, hebrew), best
    first; at most `limit`."""
    table = _table()
    found: dict[str, tuple[int, int]] = {}
    for score, index, key in (
        (EXACT, table.exact, " ".join(_exact_key(word) for word in words)),
        (TOLERANT, table.tolerant, " ".join(_tolerant_key(word) for word in words)),
    ):
        for row, hebrew in index.get(key, []):
            if hebrew not in found or found[hebrew] < (score, -row):
                found[hebrew] = (score, -row)
    ranked = sorted(((score, -negative_row, hebrew) for hebrew, (score, negative_row) in found.items()),
                    key=lambda match: (-match[0], match[1]))  # fmt: skip
    return ranked[:limit]


def _segments(words: list[str], limit: int):
    """Each way of reading the words as known names (a known pair such as "Chaya Mushka" read
    whole, or word by word), as lists of per-segment matches. A word nothing matches ends it."""
    if not words:
        yield []
        return
    for length in (2, 1):
        if length > len(words):
            continue
        head = words[:length]
        if length == 1 and _HEBREW_WORD.match(head[0]):
            matches = [(EXACT, -1, head[0])]
        else:
            matches = _matches(head, limit)
        if not matches:
            continue
        for rest in _segments(words[length:], limit):
            yield [matches, *rest]


def name_transliterate(*, text: str, limit: int = 5) -> Transliteration:
    """Up to `limit` Hebrew spellings of a name typed in Latin or Cyrillic letters (or partly in
    Hebrew), best first: every word matched as written before a tolerant match (ch/kh/h, double
    letters, y/i, the a/e/ah endings; likewise in Cyrillic), and the table's first spelling of a
    name before its others. Raises TransliterationInputInvalid for text over MAX_TEXT_LENGTH
    characters or MAX_WORDS words, or a limit outside 1..MAX_LIMIT."""
    if not 1 <= limit <= MAX_LIMIT:
        raise TransliterationInputInvalid(
            _("Ask for 1 to %(max)d suggestions.") % {"max": MAX_LIMIT},
        )
    text = unicodedata.normalize("NFC", text or "").strip()
    if len(text) > MAX_TEXT_LENGTH:
        raise TransliterationInputInvalid(
            _("A name to transliterate is at most %(max)d characters long.") % {"max": MAX_TEXT_LENGTH},
        )
    words = [word for word in _WORD_SPLIT.split(text) if word]
    if len(words) > MAX_WORDS:
        raise TransliterationInputInvalid(
            _("A name to transliterate has at most %(max)d words.") % {"max": MAX_WORDS},
        )
    unknown = [
        word
        for word in words
        if not _HEBREW_WORD.match(word) and not _matches([word], 1) and not _pair_covers(words, word)
    ]
    if not words or unknown:
        return Transliteration(suggestions=[], unknown=unknown)
    scored: dict[str, tuple[int, int]] = {}
    # Bounded: at most 13 readings of six words, each of at most 2**6 combinations past three words.
    per_segment = limit if len(words) <= 3 else 2
    for readings in _segments(words, per_segment):
        for combination in itertools.product(*readings):
            hebrew = " ".join(match[2] for match in combination)
            # Fewer segments (a known pair) first at equal score, then the table's order.
            score = (sum(match[0] for match in combination) * len(words)) // len(combination)
            rank = sum(max(match[1], 0) for match in combination)
            best = scored.get(hebrew)
            if best is None or (score, -rank) > best:
                scored[hebrew] = (score, -rank)
    ranked = sorted(scored, key=lambda hebrew: (-scored[hebrew][0], -scored[hebrew][1]))
    return Transliteration(suggestions=ranked[:limit], unknown=[])


def _pair_covers(words: list[str], word: str) -> bool:
    """Whether a known pair of words ("Bas Sheva") takes in this word."""
    for index, other in enumerate(words):
        if other != word:
            continue
        for pair in (words[index - 1 : index + 1] if index else [], words[index : index + 2]):
            if len(pair) == 2 and _matches(pair, 1):
                return True
    return False
