"""Photos of filled paper cards: queued for their team, typed beside the photo into the grid's
rows, and saved as one order of the team's campaign, credited to the team.

Without the team's double entry, the first entry is saved. With it, the first entry is kept (no
order), a second person types the card again without seeing it, and the two are compared after
the normalisation every name goes through (allocation.services.name_clean): equal, the order is
placed; different, the differences are shown field by field and the order is placed once each is
settled. The card's row is locked (select_for_update) for every step, and the order is a
one-to-one of the card: two saves at once place one order.
"""

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from allocation.models import DedicationKind, Gender, OrderChannel
from allocation.services import Consent, campaign_today, name_clean, order_place
from core.images import photo_clean

from .card_selectors import card_may_delete, card_may_see, card_may_settle
from .grid_services import GRID_FIELDS, grid_row_is_empty, grid_rows_check
from .models import CardPhoto, CardState
from .readers import YES_VALUES

# Larger than a team's photo: handwriting must stay legible when the photo is read beside the grid.
CARD_PHOTO_MAX_SIDE = 2000
# Names on one card: one, or a family's few; more is not a card.
CARD_MAX_ROWS = 20
# Cards whose photo is deleted per transaction by the retention.
CARD_PHOTOS_EXPIRED_BATCH = 500

CARD_FIELD_LABELS = {
    "hebrew_name": gettext_lazy("Hebrew name"),
    "parent_hebrew_name": gettext_lazy("Parent's Hebrew name"),
    "gender": gettext_lazy("ben/bas"),
    "english_name": gettext_lazy("English name"),
    "family_name": gettext_lazy("Family name"),
    "deceased": gettext_lazy("In memory of"),
    "date_of_birth": gettext_lazy("Date of birth"),
    "city": gettext_lazy("City"),
    "country": gettext_lazy("Country"),
    "dedication_kind": gettext_lazy("Dedication"),
    "dedication_text": gettext_lazy("Dedication text"),
    "listed": gettext_lazy("Listed publicly"),
}
# Whole-row differences (a name one typist typed and the other did not) are keyed "<row>:row".
WHOLE_ROW = "row"


# --- Uploading ---------------------------------------------------------------------------------


def _file_name(file) -> str:
    return str(getattr(file, "name", "") or _("a file"))[:80]


def card_photos_upload(*, team, user, files) -> list[CardPhoto]:
    """Queue photos of cards for `team`: at most CARD_PHOTOS_PER_UPLOAD at once, each checked to be
    an image within CARD_PHOTO_MAX_BYTES and written anew (upright, at most CARD_PHOTO_MAX_SIDE
    pixels a side, no EXIF). All or nothing: ValidationError naming each refused file (or the
    limit), and then no card is queued."""
    if not card_may_see(user=user, team=team):
        raise PermissionDenied
    if not team.campaign.active:
        raise ValidationError(_("This campaign is not taking names now."))
    files = list(files)
    if not files:
        raise ValidationError(_("Choose at least one photo of a card."))
    limit = settings.CARD_PHOTOS_PER_UPLOAD
    if len(files) > limit:
        raise ValidationError(
            _("Send at most %(limit)d photos at once (you chose %(count)d): send the others in another upload.")
            % {"limit": limit, "count": len(files)}
        )
    cleaned, problems = [], []
    for file in files:
        try:
            cleaned.append(
                photo_clean(file=file, max_bytes=settings.CARD_PHOTO_MAX_BYTES, max_side=CARD_PHOTO_MAX_SIDE)
            )
        except ValidationError as error:
            problems.append(
                _("“%(file)s”: %(problem)s") % {"file": _file_name(file), "problem": " ".join(error.messages)}
            )
    if problems:
        raise ValidationError([*problems, _("Nothing was uploaded: send the photos again without these.")])
    written = []
    try:
        with transaction.atomic():
            cards = []
            for content in cleaned:
                card = CardPhoto(team=team, uploaded_by=user)
                card.photo.save("card.jpg", content, save=False)
                written.append((card.photo.storage, card.photo.name))
                card.save(force_insert=True)
                cards.append(card)
    except BaseException:
        for storage, name in written:  # all or nothing, the files too
            storage.delete(name)
        raise
    return cards


def card_delete(*, card_id: int, user) -> None:
    """Take a card not yet saved out of the queue, with its photo (whoever uploaded it, the team's
    owner, staff)."""
    with transaction.atomic():
        card = CardPhoto.objects.select_for_update(of=("self",)).select_related("team").get(pk=card_id)
        if card.state == CardState.SAVED:
            raise ValidationError(_("This card is saved: its photo is deleted with the others of saved cards."))
        if not card_may_delete(user=user, card=card):
            raise PermissionDenied
        storage, name = card.photo.storage, card.photo.name
        card.delete()
        if name:
            transaction.on_commit(lambda: storage.delete(name), robust=True)


# --- Entries -----------------------------------------------------------------------------------


def _tick(value) -> bool:
    return str(value or "").strip().lower() in YES_VALUES


def _row_values(row: dict) -> dict:
    """A row as the grid keeps it (text, "yes" for a tick) in the terms name_clean takes."""
    values = {field: row.get(field, "") for field in GRID_FIELDS}
    values["deceased"] = _tick(values["deceased"])
    values["listed"] = _tick(values["listed"])
    values["date_of_birth"] = values["date_of_birth"] or None
    return values


def _as_text(value) -> str:
    if value is True:
        return "yes"
    if value is False or value is None:
        return ""
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def _normalised(*, rows: list[dict], campaign, today=None) -> list[dict]:
    """Each row as name_clean leaves it, written back in the grid's terms: two entries are the
    same when these are (a name typed with a final letter in the middle, a lower-case country or
    "no dedication" left as the departed's "in memory of" compare equal)."""
    today = today or campaign_today(campaign=campaign)
    normalised = []
    for row in rows:
        cleaned = name_clean(data=_row_values(row), campaign=campaign, today=today)
        as_grid = {field: _as_text(cleaned[field]) for field in GRID_FIELDS}
        if as_grid["dedication_kind"] == DedicationKind.NONE:
            as_grid["dedication_kind"] = ""  # the grid's empty choice
        normalised.append(as_grid)
    return normalised


def card_entry_check(*, rows, campaign) -> list[dict]:
    """The rows typed for a card, as kept: its empty rows left out; ValidationError naming each
    problem by its row (the checks every name goes through), or when there is no name or more
    than CARD_MAX_ROWS."""
    checked = [row for row in grid_rows_check(rows=rows) if not grid_row_is_empty(row)]
    if not checked:
        raise ValidationError(_("Type at least one name from the card."))
    if len(checked) > CARD_MAX_ROWS:
        raise ValidationError(_("A card holds at most %(max)d names.") % {"max": CARD_MAX_ROWS})
    today = campaign_today(campaign=campaign)
    problems = []
    for number, row in enumerate(checked, start=1):
        try:
            name_clean(data=_row_values(row), campaign=campaign, today=today)
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                for message in messages:
                    problems.append(
                        _("Row %(row)d, %(column)s: %(message)s")
                        % {"row": number, "column": CARD_FIELD_LABELS.get(field, field), "message": message}
                    )
    if problems:
        raise ValidationError(problems)
    return checked


@dataclass(frozen=True)
class CardDifference:
    """One difference between a card's two entries: a field of a row (`field`), or a whole row
    that only one of them has (`field` is WHOLE_ROW; the missing side is "")."""

    row: int  # from 1
    field: str
    first: str
    second: str

    @property
    def key(self) -> str:
        return f"{self.row}:{self.field}"

    @property
    def first_shown(self) -> str:
        return self.first if self.field == WHOLE_ROW else _value_shown(self.field, self.first)

    @property
    def second_shown(self) -> str:
        return self.second if self.field == WHOLE_ROW else _value_shown(self.field, self.second)

    @property
    def label(self) -> str:
        if self.field == WHOLE_ROW:
            return _("Row %(row)d: the whole name") % {"row": self.row}
        return _("Row %(row)d: %(column)s") % {"row": self.row, "column": CARD_FIELD_LABELS[self.field]}


def _value_shown(field: str, value: str) -> str:
    """A value of the grid's terms in words: ben or bas, yes or no, the dedication's name."""
    if field == "gender":
        return str(dict(Gender.choices).get(value, value))
    if field in ("deceased", "listed"):
        return _("yes") if value else _("no")
    if field == "dedication_kind":
        return str(dict(DedicationKind.choices).get(value or DedicationKind.NONE, value))
    return value


def _row_summary(row: dict) -> str:
    return " · ".join(
        _value_shown(field, row[field]) for field in GRID_FIELDS if row[field] and field not in ("deceased", "listed")
    )


def _differences(first: list[dict], second: list[dict]) -> list[CardDifference]:
    differences = []
    for index in range(max(len(first), len(second))):
        one = first[index] if index < len(first) else None
        two = second[index] if index < len(second) else None
        if one is None or two is None:
            differences.append(
                CardDifference(
                    row=index + 1,
                    field=WHOLE_ROW,
                    first=_row_summary(one) if one else "",
                    second=_row_summary(two) if two else "",
                )
            )
            continue
        differences.extend(
            CardDifference(row=index + 1, field=field, first=one[field], second=two[field])
            for field in GRID_FIELDS
            if one[field] != two[field]
        )
    return differences


def card_entry_differences(*, card: CardPhoto) -> list[CardDifference]:
    """Where the card's two entries differ, after normalisation; [] before the second entry."""
    if card.first_entry is None or card.second_entry is None:
        return []
    campaign = card.team.campaign
    return _differences(
        _normalised(rows=card.first_entry, campaign=campaign), _normalised(rows=card.second_entry, campaign=campaign)
    )


def _card_locked(card_id: int) -> CardPhoto:
    # The card's row only: its team's and campaign's rows stay free for everyone else.
    return CardPhoto.objects.select_for_update(of=("self",)).select_related("team__campaign").get(pk=card_id)


def _already_saved(card: CardPhoto) -> ValidationError:
    return ValidationError(_("This card is saved already (order %(order)d).") % {"order": card.order_id})


def _card_save(*, card: CardPhoto, rows: list[dict], user, consent: Consent | None) -> None:
    """Place the card's order (credited to its team) and mark the card saved; the caller holds
    the card's lock and saves it."""
    card.order = order_place(
        campaign=card.team.campaign,
        names=[_row_values(row) for row in rows],
        created_by=user,
        channel=OrderChannel.SHLIACH,
        team=card.team,
        consent=consent,
    )
    card.state = CardState.SAVED
    card.saved_at = timezone.now()


def card_entry_submit(*, card_id: int, user, rows, consent: Consent | None = None) -> CardPhoto:
    """The names typed from a card's photo by `user` (the team's owner, a member, staff).

    A card waiting for its first entry: without the team's double entry its names become one
    order of the team's campaign, credited to the team, and the card is saved; with double entry
    the entry is kept and the card waits for a second person. A card waiting for its second
    entry (a card started under double entry stays so): typed by someone else, it is compared
    with the first; equal, the order is placed, else the card waits for the differences to be
    settled (card_entry_settle). ValidationError for rows with problems (nothing kept), for the
    first typist typing it again, or a card past typing."""
    with transaction.atomic():
        card = _card_locked(card_id)
        if not card_may_see(user=user, team=card.team):
            raise PermissionDenied
        if card.state == CardState.SAVED:
            raise _already_saved(card)
        if card.state == CardState.MISMATCH:
            raise ValidationError(_("This card was typed twice already: its differences are waiting to be settled."))
        campaign = card.team.campaign
        checked = card_entry_check(rows=rows, campaign=campaign)
        now = timezone.now()
        if card.state == CardState.QUEUED:
            card.first_entry, card.first_entry_by, card.first_entry_at = checked, user, now
            if card.team.double_entry:
                card.state = CardState.TYPED
            else:
                _card_save(card=card, rows=checked, user=user, consent=consent)
            card.save()
            return card
        # Waiting for its second entry.
        if card.first_entry_by_id == user.pk:
            if checked == card.first_entry:
                return card  # the same entry sent twice (a double click): kept once
            raise ValidationError(_("You typed this card's first entry: a second person must type it again."))
        card.second_entry, card.second_entry_by, card.second_entry_at = checked, user, now
        first = _normalised(rows=card.first_entry, campaign=campaign)
        second = _normalised(rows=checked, campaign=campaign)
        if first == second:
            _card_save(card=card, rows=second, user=user, consent=consent)
        else:
            card.state = CardState.MISMATCH
        card.save()
        return card


def card_entry_settle(*, card_id: int, user, choices: dict, consent: Consent | None = None) -> CardPhoto:
    """Settle each difference of a card's two entries, `choices` {difference key: "first" or
    "second"} (the second typist, the team's owner or staff), and place the card's order with
    the values chosen. ValidationError when a difference is left unchosen or the names chosen do
    not pass the checks (nothing saved); a card saved already is not saved again."""
    with transaction.atomic():
        card = _card_locked(card_id)
        if not card_may_settle(user=user, card=card):
            raise PermissionDenied
        if card.state == CardState.SAVED:
            raise _already_saved(card)
        if card.state != CardState.MISMATCH:
            raise ValidationError(_("This card has no differences to settle."))
        campaign = card.team.campaign
        first = _normalised(rows=card.first_entry, campaign=campaign)
        second = _normalised(rows=card.second_entry, campaign=campaign)
        differences = _differences(first, second)
        unchosen = [
            difference.label for difference in differences if choices.get(difference.key) not in ("first", "second")
        ]
        if unchosen:
            raise ValidationError(
                _("Choose the right value of every difference: %(differences)s.") % {"differences": "; ".join(unchosen)}
            )
        rows = []
        for index in range(max(len(first), len(second))):
            one = first[index] if index < len(first) else None
            two = second[index] if index < len(second) else None
            if one is None or two is None:
                kept = one if choices[f"{index + 1}:{WHOLE_ROW}"] == "first" else two
                if kept is not None:
                    rows.append(kept)
                continue
            row = dict(two)
            for field in GRID_FIELDS:
                if one[field] != two[field] and choices[f"{index + 1}:{field}"] == "first":
                    row[field] = one[field]
            rows.append(row)
        if not rows:
            raise ValidationError(_("Keep at least one name: a card with no name is deleted from the queue instead."))
        _card_save(card=card, rows=rows, user=user, consent=consent)
        card.save()
        return card


# --- Retention ---------------------------------------------------------------------------------


def card_photos_delete_expired(*, now=None) -> int:
    """Delete the photos of cards saved more than CARD_PHOTOS_KEPT_DAYS days ago (0: every saved
    card's), keeping the card, its entries and its order; returns how many. Safe to run twice and
    beside itself: a photo already gone is skipped, a card another run holds is left to it."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(days=settings.CARD_PHOTOS_KEPT_DAYS)
    deleted = 0
    while True:
        with transaction.atomic():
            cards = list(
                CardPhoto.objects.select_for_update(skip_locked=True)
                .filter(state=CardState.SAVED, saved_at__lte=cutoff)
                .exclude(photo="")
                .order_by("saved_at", "id")[:CARD_PHOTOS_EXPIRED_BATCH]
            )
            files = [(card.photo.storage, card.photo.name) for card in cards]
            CardPhoto.objects.filter(pk__in=[card.pk for card in cards]).update(photo="")
            # Once the blanks are committed: a file is never missing under a card that names it.
            transaction.on_commit(lambda files=files: [storage.delete(name) for storage, name in files], robust=True)
        deleted += len(cards)
        if len(cards) < CARD_PHOTOS_EXPIRED_BATCH:
            return deleted
