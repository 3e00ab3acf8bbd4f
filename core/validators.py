"""Checks of text people type, for every app: characters that would be invisible, or would
reorder what is shown around them (bidirectional overrides), are refused."""

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


def _is_invisible(char):
    # Cf covers bidirectional overrides and zero-width characters; Cc covers NUL and friends.
    return unicodedata.category(char) in {"Cf", "Cc", "Co", "Cs"}


def has_invisible_characters(value: str) -> bool:
    return any(_is_invisible(char) for char in value)


def validate_visible_characters(value: str) -> None:
    """Fields people type beside the Hebrew names (the buyer's name and phone, a team's name): the
    names' rule, so a bidi override cannot reorder what staff and emails show around it."""
    if value and has_invisible_characters(value):
        raise ValidationError(
            _("This contains invisible or control characters; please retype it."), code="invisible_characters"
        )
