"""Validation of Hebrew names, shared by the API, the forms and the bulk import."""

import re
import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# Shared with every app that takes text from people; here too for the names' callers.
from core.validators import has_invisible_characters, validate_visible_characters  # noqa: F401

HEBREW_LETTERS = "\u05d0-\u05ea"
# Gershayim and geresh are accepted both as the Hebrew marks and as the ASCII quotes people
# actually type (שליט"א); the hyphen both as '-' and the Hebrew maqaf.
NAME_PUNCTUATION = " \"'\u05f3\u05f4\u05be-"
_ALLOWED = re.compile(f"^[{HEBREW_LETTERS}{re.escape(NAME_PUNCTUATION)}]+$")
_HAS_HEBREW_LETTER = re.compile(f"[{HEBREW_LETTERS}]")
_LATIN = re.compile(r"[A-Za-z]")
_NIQQUD = re.compile("[\u0591-\u05c7]")
_WHITESPACE_RUN = re.compile(r"\s+")


# What the search of names reads as one: the final letters as their plain forms, the maqaf as a
# hyphen, the Hebrew geresh and gershayim as the quotes people type.
SEARCH_FOLDS = (
    ("\u05da", "\u05db"),  # ך כ
    ("\u05dd", "\u05de"),  # ם מ
    ("\u05df", "\u05e0"),  # ן נ
    ("\u05e3", "\u05e4"),  # ף פ
    ("\u05e5", "\u05e6"),  # ץ צ
    ("\u05be", "-"),
    ("\u05f3", "'"),
    ("\u05f4", '"'),
)
_SEARCH_TABLE = str.maketrans(dict(SEARCH_FOLDS))
# Niqqud and cantillation (U+0591-U+05C7), but the maqaf (U+05BE), which is a hyphen.
_MARKS = re.compile("[\u0591-\u05bd\u05bf-\u05c7]")


def hebrew_search_key(value) -> str:
    """What people type to find a name, as names_listed compares it: niqqud and cantillation
    dropped, final letters as their plain forms (models.name_search_key does the same in SQL)."""
    text = _MARKS.sub("", unicodedata.normalize("NFC", str(value or "")))
    return normalize_hebrew_name(text.translate(_SEARCH_TABLE))


def normalize_hebrew_name(value):
    """NFC, trimmed, inner runs of white space folded to one space."""
    if value is None:
        return ""
    return _WHITESPACE_RUN.sub(" ", unicodedata.normalize("NFC", str(value))).strip()


def validate_hebrew_name(value):
    """Raise ValidationError with a message that tells the person what to fix."""
    if not value or not value.strip():
        raise ValidationError(_("This name is required."), code="required")
    # The common case first: only allowed characters (none of them invisible) and a letter.
    if _ALLOWED.fullmatch(value) and _HAS_HEBREW_LETTER.search(value):
        return
    if has_invisible_characters(value):
        raise ValidationError(
            _("The name contains invisible or control characters; please retype it."),
            code="invisible_characters",
        )
    if _LATIN.search(value):
        raise ValidationError(
            _("Please type the name in Hebrew letters (the English name has its own field)."),
            code="latin_letters",
        )
    if _NIQQUD.search(value):
        raise ValidationError(_("Please type the name without vowel points (niqqud)."), code="niqqud")
    raise ValidationError(
        _("Use only Hebrew letters, spaces, gershayim, apostrophes and hyphens."),
        code="not_hebrew",
    )
