import pytest
from django.core.exceptions import ValidationError

from allocation.validators import normalize_hebrew_name, validate_hebrew_name


@pytest.mark.parametrize(
    "name",
    ["מנחם מענדל", "שרה", 'שליט"א', "ר׳ יוסף", "בת־שבע", "בת-שבע", "יוסף יצחק", "מוהרש״ב"],
)
def test_hebrew_names_are_accepted(name):
    validate_hebrew_name(name)


@pytest.mark.parametrize(
    "name, code",
    [
        ("", "required"),
        ("   ", "required"),
        ("Sarah", "latin_letters"),
        ("שרה Cohen", "latin_letters"),
        ("שָׂרָה", "niqqud"),
        ("שרה\u200b", "invisible_characters"),
        ("\u202eשרה", "invisible_characters"),
        ("שרה\x00", "invisible_characters"),
        ("<b>שרה</b>", "latin_letters"),
        ("שרה;--", "not_hebrew"),
        ("123", "not_hebrew"),
        ('""', "not_hebrew"),
    ],
)
def test_bad_names_get_a_specific_error(name, code):
    with pytest.raises(ValidationError) as error:
        validate_hebrew_name(name)
    assert error.value.code == code
    assert str(error.value.messages[0])


def test_normalisation_trims_and_folds_spaces():
    assert normalize_hebrew_name("  מנחם   מענדל \t") == "מנחם מענדל"
