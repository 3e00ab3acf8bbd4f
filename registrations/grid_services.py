"""The data-entry grid: rows typed by a shliach are kept as a draft while they type, then sent
as one CSV file into the same import (check, preview, confirm) as an uploaded spreadsheet."""

import csv
import io
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from allocation.services import Consent

from .models import NameDraft, NameImport
from .services import name_import_start

# The CSV header, in the order the import documents its columns.
GRID_FIELDS = (
    "hebrew_name",
    "parent_hebrew_name",
    "gender",
    "english_name",
    "family_name",
    "deceased",
    "date_of_birth",
    "city",
    "country",
    "dedication_kind",
    "dedication_text",
    "listed",
)
# Gender and the dedication's kind have a default, "in memory of" and "listed" are ticks: none
# alone makes a row someone typed.
_TYPED_FIELDS = tuple(
    field for field in GRID_FIELDS if field not in ("gender", "deceased", "dedication_kind", "listed")
)
GRID_MAX_ROWS = 5000
GRID_MAX_VALUE_LENGTH = 200


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, as JSON's "\ud800" decodes to
        return False
    return True


def _rows_check(rows) -> list[dict]:
    """The rows as stored, or ValidationError saying what is wrong with their shape. The values
    themselves are checked by the import; here only what keeps a draft small and well formed."""
    if not isinstance(rows, list):
        raise ValidationError(_("“rows” must be a list of rows."))
    if len(rows) > GRID_MAX_ROWS:
        raise ValidationError(
            _("The grid holds at most %(max)d rows; import these and start a new grid for the rest.")
            % {"max": GRID_MAX_ROWS}
        )
    checked = []
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise ValidationError(_("Row %(row)d is not a row of cells.") % {"row": number})
        unknown = sorted(set(row) - set(GRID_FIELDS))
        if unknown:
            raise ValidationError(
                _("Row %(row)d has unknown columns: %(columns)s.") % {"row": number, "columns": ", ".join(unknown)}
            )
        for field, value in row.items():
            if not isinstance(value, str):
                raise ValidationError(_("Row %(row)d: “%(column)s” must be text.") % {"row": number, "column": field})
            if len(value) > GRID_MAX_VALUE_LENGTH:
                raise ValidationError(
                    _("Row %(row)d: “%(column)s” is longer than %(max)d characters.")
                    % {"row": number, "column": field, "max": GRID_MAX_VALUE_LENGTH}
                )
            if "\x00" in value or not _encodable(value):
                # PostgreSQL keeps neither a NUL nor half a surrogate pair in JSON: say so, not a 500.
                raise ValidationError(
                    _("Row %(row)d: “%(column)s” holds a character that cannot be kept (a NUL or a broken character).")
                    % {"row": number, "column": field}
                )
        # Empty cells are left out: a draft of thousands of rows stays small.
        checked.append({field: value for field, value in row.items() if value})
    return checked


def grid_rows_check(*, rows) -> list[dict]:
    """The grid's rows as kept (empty cells left out), or ValidationError naming what is wrong
    with their shape: the check of a draft, shared by the typing of a card's photo."""
    return _rows_check(rows)


def name_draft_save(*, user, campaign, rows) -> NameDraft:
    """Keep the grid's rows as they are now (replacing what was kept); ValidationError if the
    rows are not a list of at most GRID_MAX_ROWS rows of known text cells."""
    checked = _rows_check(rows)
    draft, _created = NameDraft.objects.update_or_create(created_by=user, campaign=campaign, defaults={"rows": checked})
    return draft


def name_draft_clear(*, user, campaign) -> None:
    NameDraft.objects.filter(created_by=user, campaign=campaign).delete()


def grid_row_is_empty(row: dict) -> bool:
    return not any(str(row.get(field) or "").strip() for field in _TYPED_FIELDS)


def grid_rows_csv(*, rows: list[dict]) -> bytes:
    """UTF-8 CSV with a header row, one line for each row that is not empty."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(GRID_FIELDS)
    for row in rows:
        if grid_row_is_empty(row):
            continue
        writer.writerow([str(row.get(field) or "").strip() for field in GRID_FIELDS])
    return buffer.getvalue().encode("utf-8")


def name_draft_import(*, user, campaign, now=None, consent: Consent | None = None) -> NameImport:
    """Send the draft's rows to the import and clear the draft; ValidationError if there is
    nothing to import. The draft row is locked so a double submit imports it once."""
    with transaction.atomic():
        draft = NameDraft.objects.select_for_update().filter(created_by=user, campaign=campaign).first()
        rows = [row for row in (draft.rows if draft else []) if not grid_row_is_empty(row)]
        if not rows:
            raise ValidationError(_("The grid is empty: type at least one name before importing."))
        # The time the shliach sees on their cards' campaign, not the server's UTC.
        when = timezone.localtime(now or timezone.now(), ZoneInfo(campaign.time_zone))
        name_import = name_import_start(
            user=user,
            campaign=campaign,
            source_name=_("Grid %(when)s") % {"when": when.strftime("%Y-%m-%d %H:%M")},
            content=grid_rows_csv(rows=rows),
            consent=consent,
        )
        draft.delete()
    return name_import
