"""What is recorded for a name: the rules every door shares (page, API, import, grid, honour
letters, a staff correction), and corrections of a name already recorded."""

import datetime
import re
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from core.signals import announce_on_commit
from scrolls.models import Campaign

from ..models import (
    DEDICATION_TEXT_MAX_LENGTH,
    DedicationKind,
    Gender,
    Gift,
    GiftLanguage,
    Name,
)
from ..signals import name_corrected
from ..validators import has_invisible_characters, normalize_hebrew_name, validate_hebrew_name

GENDERS = frozenset(Gender.values)  # Gender.values builds a list on every call
_COUNTRY_CODE = re.compile("[A-Z]{2}")
NAME_FIELDS = (
    "hebrew_name",
    "parent_hebrew_name",
    "gender",
    "family_name",
    "english_name",
    "deceased",
    "date_of_birth",
    "city",
    "country",
    "dedication_kind",
    "dedication_text",
    "listed",
)
DEDICATION_KINDS = frozenset(DedicationKind.values)
GIFT_FIELDS = ("recipient_name", "recipient_email", "language", "deliver_on", "message")
GIFT_LANGUAGES = frozenset(GiftLanguage.values)
# How far ahead a gift may be given: a year and a day (a birthday next year).
GIFT_DAYS_AHEAD = 366


class OrderNamesInvalid(ValidationError):
    """Some names of an order are refused; `errors_by_row` maps each refused row's index (from
    0) to its errors by field. `message_dict` has the shape of the API's serializer errors,
    {"names": {"3": {"date_of_birth": ["..."]}}}, so every path reports a row the same way."""

    def __init__(self, errors_by_row: dict[int, dict[str, list[str]]]):
        self.errors_by_row = errors_by_row
        # Flat messages for code that reads error_dict / messages, each naming its row.
        super().__init__(
            {
                "names": [
                    _("Name %(number)d: %(message)s") % {"number": index + 1, "message": message}
                    for index, fields in errors_by_row.items()
                    for messages in fields.values()
                    for message in messages
                ]
            }
        )

    @property
    def message_dict(self):
        return {"names": {str(index): fields for index, fields in self.errors_by_row.items()}}


def campaign_today(*, campaign: Campaign) -> datetime.date:
    """Today in the campaign's time zone: the day of purchase for age limits."""
    return timezone.localdate(timezone=ZoneInfo(campaign.time_zone))


def _age_on(day: datetime.date, *, born: datetime.date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _date_of_birth_parse(value) -> datetime.date | None:
    """A date of birth as the API (a date), a form (a date) or a spreadsheet (text) gives it;
    ValueError when it is not a real day."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if not isinstance(value, str):
        raise ValueError(value)
    parsed = parse_date(value.strip())  # ValueError for a well-formed non-day (2020-02-30)
    if parsed is None:
        raise ValueError(value)
    return parsed


def _eligibility_errors(*, cleaned: dict, campaign: Campaign, today: datetime.date) -> dict:
    """The campaign's own rules for a name (who it is for), by field."""
    if not campaign.requires_date_of_birth:
        return {}
    born = cleaned["date_of_birth"]
    if born is None:
        return {"date_of_birth": [_("Give the child's date of birth: this campaign is for children.")]}
    limit = campaign.boys_under_age if cleaned["gender"] == Gender.MALE else campaign.girls_under_age
    if limit is not None and _age_on(today, born=born) >= limit:
        if cleaned["gender"] == Gender.MALE:
            message = _("This campaign is for boys under %(age)d on the day of purchase.")
        else:
            message = _("This campaign is for girls under %(age)d on the day of purchase.")
        return {"date_of_birth": [message % {"age": limit}]}
    return {}


def _dedication_clean(cleaned: dict) -> dict:
    """The dedication's kind and text, in place; errors by field. "In memory of" and deceased are
    one fact: a kind left out follows deceased (clients that know only deceased), the kind
    in_memory makes the name deceased, and a departed name takes no other kind."""
    kind = str(cleaned["dedication_kind"] or "").strip().lower()
    errors = {}
    if not kind:
        kind = DedicationKind.IN_MEMORY if cleaned["deceased"] else DedicationKind.NONE
    elif kind not in DEDICATION_KINDS:
        errors["dedication_kind"] = [
            _("Choose a dedication among: %(kinds)s.") % {"kinds": ", ".join(DedicationKind.values)}
        ]
    elif kind == DedicationKind.IN_MEMORY:
        cleaned["deceased"] = True
    elif cleaned["deceased"] and kind != DedicationKind.NONE:
        errors["dedication_kind"] = [_("A name in memory of the departed takes the dedication “in memory of”.")]
    elif cleaned["deceased"]:
        kind = DedicationKind.IN_MEMORY
    cleaned["dedication_kind"] = str(kind)
    text = normalize_hebrew_name(cleaned["dedication_text"])
    if has_invisible_characters(text):
        errors["dedication_text"] = [_("This contains invisible or control characters; please retype it.")]
    elif len(text) > DEDICATION_TEXT_MAX_LENGTH:
        errors["dedication_text"] = [_("At most %(limit)d characters.") % {"limit": DEDICATION_TEXT_MAX_LENGTH}]
    cleaned["dedication_text"] = text
    return errors


def _field_max_length(field: str) -> int:
    return Name._meta.get_field(field).max_length


def name_clean(*, data: dict, campaign: Campaign, today: datetime.date | None = None, eligibility: bool = True) -> dict:
    """Normalise and validate one name for a campaign, including who the campaign is for
    (age limits, the departed); raise ValidationError keyed by field. `today` is the day of
    purchase (default: today in the campaign's time zone). Whatever comes in (a spreadsheet
    cell of 10,000 characters, a NUL byte, a date that is no day) ends as a message, never as
    a database error. Without `eligibility`, who the campaign is for is not checked again (a
    name accepted once, whose date of birth was erased since)."""
    cleaned = {field: data.get(field) for field in NAME_FIELDS}
    errors = {}
    for field in ("hebrew_name", "parent_hebrew_name"):
        cleaned[field] = normalize_hebrew_name(cleaned[field])
        try:
            validate_hebrew_name(cleaned[field])
        except ValidationError as error:
            errors[field] = error.messages
    if cleaned["gender"] not in GENDERS:
        errors["gender"] = [_("Choose male (ben) or female (bas).")]
    for field in ("family_name", "english_name", "city"):
        cleaned[field] = str(cleaned[field] or "").strip()
        if has_invisible_characters(cleaned[field]):
            errors[field] = [_("This contains invisible or control characters; please retype it.")]
    cleaned["country"] = str(cleaned["country"] or "").strip().upper()
    if cleaned["country"] and not _COUNTRY_CODE.fullmatch(cleaned["country"]):
        errors["country"] = [_("Give the country as its two-letter code, e.g. US or IL.")]
    for field in ("hebrew_name", "parent_hebrew_name", "family_name", "english_name", "city"):
        limit = _field_max_length(field)
        if field not in errors and len(cleaned[field]) > limit:
            errors[field] = [_("At most %(limit)d characters.") % {"limit": limit}]
    # A campaign for the departed writes every name in memory, whatever the form said.
    cleaned["deceased"] = True if campaign.for_the_departed else bool(cleaned["deceased"])
    errors.update(_dedication_clean(cleaned))
    cleaned["listed"] = bool(cleaned["listed"])
    try:
        cleaned["date_of_birth"] = _date_of_birth_parse(cleaned["date_of_birth"])
    except ValueError:
        errors["date_of_birth"] = [_("Give the date of birth as YYYY-MM-DD.")]
    else:
        today = today or campaign_today(campaign=campaign)
        if cleaned["date_of_birth"] and cleaned["date_of_birth"] > today:
            errors["date_of_birth"] = [_("The date of birth cannot be in the future.")]
    if eligibility and "gender" not in errors and "date_of_birth" not in errors:
        errors.update(_eligibility_errors(cleaned=cleaned, campaign=campaign, today=today))
    if data.get("gift"):  # only then: a name without a gift has no "gift" key (NAME_FIELDS are the columns)
        try:
            cleaned["gift"] = gift_clean(data=data["gift"], today=today or campaign_today(campaign=campaign))
        except ValidationError as error:
            # Keyed gift_<field>: the buy page's fields, and plain to read in the API's 400.
            errors.update({f"gift_{field}": messages for field, messages in error.message_dict.items()})
    if errors:
        raise ValidationError(errors)
    return cleaned


def gift_clean(*, data, today: datetime.date) -> dict:
    """A name's gift (names[].gift): the recipient's name and email (required), the language
    of the e-card (he, en or ru; "" for the order's), the day to deliver it (none: at once; not
    before `today`, at most GIFT_DAYS_AHEAD after) and a short message; ValidationError by field."""
    if not isinstance(data, dict):
        raise ValidationError(
            {"gift": [_("Give the gift as recipient_name, recipient_email, language, deliver_on and message.")]}
        )
    cleaned = {field: data.get(field) for field in GIFT_FIELDS}
    errors = {}
    for field in ("recipient_name", "message"):
        cleaned[field] = str(cleaned[field] or "").strip()
        limit = Gift._meta.get_field(field).max_length
        if has_invisible_characters(cleaned[field]):
            errors[field] = [_("This contains invisible or control characters; please retype it.")]
        elif len(cleaned[field]) > limit:
            errors[field] = [_("At most %(limit)d characters.") % {"limit": limit}]
    if not cleaned["recipient_name"] and "recipient_name" not in errors:
        errors["recipient_name"] = [_("Give the recipient's name.")]
    email = str(cleaned["recipient_email"] or "").strip()
    try:
        validate_email(email)
    except ValidationError:
        errors["recipient_email"] = [_("Give the recipient's email address.")]
    cleaned["recipient_email"] = email
    cleaned["language"] = str(cleaned["language"] or "").strip().lower()
    if cleaned["language"] and cleaned["language"] not in GIFT_LANGUAGES:
        choices = ", ".join(GiftLanguage.values)
        errors["language"] = [_("Choose a language among: %(languages)s.") % {"languages": choices}]
    try:
        cleaned["deliver_on"] = _date_of_birth_parse(cleaned["deliver_on"])
    except ValueError:
        errors["deliver_on"] = [_("Give the day as YYYY-MM-DD.")]
    else:
        day = cleaned["deliver_on"]
        if day is not None and day < today:
            errors["deliver_on"] = [_("The day of the gift cannot be in the past.")]
        elif day is not None and day > today + datetime.timedelta(days=GIFT_DAYS_AHEAD):
            errors["deliver_on"] = [_("The day of the gift can be at most a year ahead.")]
    if errors:
        raise ValidationError(errors)
    return cleaned


def name_correction_clean(*, name: Name, data: dict) -> dict:
    """A name as it would read with `data` over what it records, cleaned by the same rules as
    when it was given (its order's campaign, the day it was ordered); ValidationError by field."""
    order = name.order
    ordered_on = timezone.localtime(order.created_at, ZoneInfo(order.campaign.time_zone)).date()
    current = {field: getattr(name, field) for field in NAME_FIELDS}
    # One of deceased and the dedication's kind corrected alone: the other follows it.
    if "deceased" in data and "dedication_kind" not in data and name.dedication_kind == DedicationKind.IN_MEMORY:
        current["dedication_kind"] = ""
    elif "dedication_kind" in data and "deceased" not in data:
        current["deceased"] = False
    # Its date of birth erased (the privacy app) after the age limit was checked when it was
    # ordered: the name stays accepted, unless the correction gives a date to check again.
    erased_birth_date = name.date_of_birth is None and not data.get("date_of_birth")
    return name_clean(
        data={**current, **data},
        campaign=order.campaign,
        today=ordered_on,
        eligibility=not (erased_birth_date and order.campaign.requires_date_of_birth),
    )


def name_correct(*, name_id: int, data: dict, corrected_by=None) -> Name:
    """Correct what is recorded for a name, with the same rules as when it was given (against its
    order's campaign and the day it was ordered). Only the fields in `data` change; the name
    stays in its order and its letter. Announces `name_corrected` with the fields that changed
    once it commits (certificates draws a printed one again)."""
    with transaction.atomic():
        name = Name.objects.select_for_update(of=("self",)).select_related("order__campaign").get(pk=name_id)
        cleaned = name_correction_clean(name=name, data=data)
        changed = [field for field in NAME_FIELDS if cleaned[field] != getattr(name, field)]
        if not changed:
            return name
        for field in changed:
            setattr(name, field, cleaned[field])
        if corrected_by is not None:  # else the request's user, if any (HistoryRequestMiddleware)
            name._history_user = corrected_by
        name.save(update_fields=changed)
        announce_on_commit(name_corrected, sender=Name, name_id=name.pk, fields=frozenset(changed))
    return name
