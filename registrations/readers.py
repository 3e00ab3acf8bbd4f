"""Reading names from what shluchim actually have: CSV from Excel (UTF-8, with or without a BOM,
or Windows-1255, Hebrew Excel's own), XLSX, and rows pasted from a spreadsheet (tab-separated).

Rows are read one at a time, so a file of 200,000 names never sits in memory. Columns are found
by their header, in English or Hebrew, in any order; values keep their text and are checked by
allocation.services.name_clean, like every other way a name arrives.
"""

import codecs
import csv
import datetime
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

from django.utils.translation import gettext as _

# Every column we read, with the headers people write for it (compared without case, spaces,
# underscores, hyphens and quotes).
COLUMN_ALIASES = {
    "hebrew_name": [
        "hebrew_name",
        "hebrew name",
        "name",
        "first name",
        "first_name",
        "hebrew first name",
        "שם",
        "שם עברי",
        "שם פרטי",
        "שם בעברית",
        "שם פרטי עברי",
    ],
    "parent_hebrew_name": [
        "parent_hebrew_name",
        "parent hebrew name",
        "parent",
        "parent name",
        "parent's hebrew name",
        "mother",
        "mother's name",
        "mother name",
        "father",
        "father's name",
        "father name",
        "שם האם",
        "שם האמא",
        "שם ההורה",
        "שם האב",
        "שם האבא",
        "בן/בת של",
        "הורה",
        "שם הורה",
    ],
    "gender": ["gender", "sex", "ben/bas", "ben/bat", "מין", "בן/בת", "מגדר"],
    "english_name": ["english_name", "english name", "name in english", "latin name", "שם באנגלית", "שם לועזי"],
    "family_name": ["family_name", "family name", "last name", "last_name", "surname", "שם משפחה"],
    "deceased": [
        "deceased",
        "in memory",
        "in memory of",
        "iluy nishmas",
        "departed",
        "נפטר",
        "נפטרה",
        'ז"ל',
        "זל",
        "לעילוי נשמת",
        'לע"נ',
        "לענ",
    ],
    "date_of_birth": ["date_of_birth", "date of birth", "dob", "birthday", "birth date", "תאריך לידה"],
    "city": ["city", "town", "עיר", "ישוב", "יישוב"],
    "country": ["country", "country code", "ארץ", "מדינה"],
}
REQUIRED_COLUMNS = ("hebrew_name", "parent_hebrew_name", "gender")

GENDER_VALUES = {
    "m": "m", "male": "m", "man": "m", "boy": "m", "ben": "m", "son": "m",
    "בן": "m", "ז": "m", "זכר": "m",
    "f": "f", "female": "f", "woman": "f", "girl": "f", "bas": "f", "bat": "f", "bat.": "f", "daughter": "f",
    "בת": "f", "נ": "f", "נקבה": "f",
}  # fmt: skip
YES_VALUES = {"1", "yes", "y", "true", "x", "v", "✓", "כן", 'ז"ל', "זל", "נפטר", "נפטרה"}
NO_VALUES = {"", "0", "no", "n", "false", "לא"}

# Enough to tell UTF-8 from Windows-1255: Hebrew in Windows-1255 is never valid UTF-8.
_SNIFF_BYTES = 64 * 1024
_HEADER_FOLD = re.compile(r"[\s_\-'\"׳״]+")


def _fold(header) -> str:
    return _HEADER_FOLD.sub("", str(header or "")).lower()


_ALIAS_TO_COLUMN = {_fold(alias): column for column, aliases in COLUMN_ALIASES.items() for alias in aliases}


class FileRefused(Exception):
    """The file as a whole cannot be read (not a spreadsheet, no header we know): nothing in it
    is imported. `message` says what to do."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


@dataclass
class RowProblem:
    row: int
    column: str
    message: str


@dataclass
class SheetRow:
    """One row of names as read: `number` is the row the shliach sees in their spreadsheet
    (the header is row 1); `values` has our column names as keys."""

    number: int
    values: dict
    problems: list


def columns_from_header(header: list) -> tuple[dict[int, str], list[str]]:
    """Map header cells to our columns: ({cell index: column}, [headers we do not know])."""
    mapping, unknown = {}, []
    for index, cell in enumerate(header):
        column = _ALIAS_TO_COLUMN.get(_fold(cell))
        if column and column not in mapping.values():
            mapping[index] = column
        elif str(cell or "").strip():
            unknown.append(str(cell).strip())
    missing = [column for column in REQUIRED_COLUMNS if column not in mapping.values()]
    if missing:
        raise FileRefused(
            _(
                "The first row must name the columns. Missing: %(missing)s. Known columns: %(known)s "
                "(or their Hebrew names, e.g. שם, שם האם, בן/בת)."
            )
            % {"missing": ", ".join(missing), "known": ", ".join(COLUMN_ALIASES)}
        )
    return mapping, unknown


def _cell_text(value) -> str:
    if type(value) is str:  # every cell of a CSV
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.date().isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _convert(column: str, text: str, problems: list, number: int):
    """Spreadsheet words into what name_clean takes (gender m/f, deceased yes/no)."""
    if column == "gender":
        gender = GENDER_VALUES.get(text.strip().lower().rstrip("."))
        if gender is None:
            problems.append(
                RowProblem(number, column, _("Write m or f (ben or bas, בן or בת), not “%(value)s”.") % {"value": text})
            )
        return gender
    if column == "deceased":
        folded = text.strip().lower()
        if folded in YES_VALUES:
            return True
        if folded not in NO_VALUES:
            problems.append(RowProblem(number, column, _("Write yes or no, not “%(value)s”.") % {"value": text}))
        return False
    if column == "date_of_birth":
        return text or None
    return text


def sheet_rows(cells: Iterator[list]) -> Iterator[SheetRow]:
    """Rows of cells (the first being the header) into SheetRows; blank rows are skipped."""
    try:
        header = next(cells)
    except StopIteration:
        raise FileRefused(_("The file is empty.")) from None
    mapping, _unknown = columns_from_header(header)
    for number, row in enumerate(cells, start=2):
        texts = [_cell_text(value) for value in row]
        if not any(texts):
            continue
        problems = []
        values = {}
        for index, column in mapping.items():
            text = texts[index] if index < len(texts) else ""
            values[column] = _convert(column, text, problems, number)
        yield SheetRow(number=number, values=values, problems=problems)


def _csv_text_stream(raw: io.BufferedIOBase) -> io.TextIOBase:
    """A text stream of a CSV file in the encoding it is in: UTF-8 (BOM or not) or Windows-1255."""
    head = raw.read(_SNIFF_BYTES)
    raw.seek(0)
    if head.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    else:
        try:
            # A multi-byte character cut at the end of the sample is still UTF-8.
            codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
            encoding = "utf-8"
        except UnicodeDecodeError:
            encoding = "cp1255"
    return io.TextIOWrapper(raw, encoding=encoding, newline="")


def _not_text(row: int) -> FileRefused:
    return FileRefused(
        _("Row %(row)d is not in UTF-8 or Windows-1255 text: save the file again as CSV UTF-8.") % {"row": row}
    )


def _csv_cells(raw) -> Iterator[list]:
    text = _csv_text_stream(raw)
    try:
        first_line = text.readline()
    except UnicodeDecodeError:  # binary, or UTF-16: refused, not retried as a crash
        raise _not_text(1) from None
    text.seek(0)
    if "\t" in first_line:
        delimiter = "\t"  # pasted from a spreadsheet
    elif first_line.count(";") > first_line.count(","):
        delimiter = ";"  # Excel in locales with a decimal comma
    else:
        delimiter = ","
    reader = csv.reader(text, delimiter=delimiter)
    try:
        yield from reader
    except UnicodeDecodeError:
        raise _not_text(reader.line_num + 1) from None
    except csv.Error as error:
        raise FileRefused(
            _("Row %(row)d cannot be read as CSV (%(error)s).") % {"row": reader.line_num, "error": error}
        ) from None


def _xlsx_cells(raw) -> Iterator[list]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(raw, read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a damaged file
        raise FileRefused(_("This XLSX file cannot be opened; save it again from Excel.")) from None
    try:
        sheet = workbook.worksheets[0]
        yield from (list(row) for row in sheet.iter_rows(values_only=True))
    finally:
        workbook.close()


def rows_read(raw) -> Iterator[SheetRow]:
    """The rows of a CSV or XLSX file (a binary file object that can seek)."""
    signature = raw.read(4)
    raw.seek(0)
    if signature == b"PK\x03\x04":
        if not zipfile.is_zipfile(raw):
            raise FileRefused(_("This XLSX file cannot be opened; save it again from Excel."))
        raw.seek(0)
        cells = _xlsx_cells(raw)
    else:
        cells = _csv_cells(raw)
    yield from sheet_rows(cells)
