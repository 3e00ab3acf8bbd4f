"""Reading names from what shluchim actually have: CSV from Excel (UTF-8, with or without a BOM,
or Windows-1255, Hebrew Excel's own), XLSX, and rows pasted from a spreadsheet (tab-separated).

Rows are read one at a time, so a file of 200,000 names never sits in memory. Columns are found
by their header, in English or Hebrew, in any order; values keep their text and are checked by
allocation.services.name_clean, like every other way a name arrives.

Nothing in a file may cost more than its limits (settings IMPORT_MAX_*): rows and columns are
counted as they are read, and an XLSX file's zip is measured before openpyxl opens it and while
openpyxl reads it (see `_xlsx_open`). A file over a limit is refused whole, the limit named.
"""

import codecs
import csv
import datetime
import io
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from allocation.models import DEDICATION_HEBREW

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
    "dedication_kind": ["dedication_kind", "dedication", "dedication kind", "הקדשה", "סוג הקדשה"],
    "dedication_text": ["dedication_text", "dedication text", "נוסח ההקדשה", "טקסט הקדשה"],
    "listed": ["listed", "list publicly", "public", "פרסום", "לפרסם"],
}
REQUIRED_COLUMNS = ("hebrew_name", "parent_hebrew_name", "gender")
DEDICATION_BY_HEBREW = {hebrew: str(kind) for kind, hebrew in DEDICATION_HEBREW.items()}

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
    if column in ("deceased", "listed"):
        folded = text.strip().lower()
        if folded in YES_VALUES:
            return True
        if folded not in NO_VALUES:
            problems.append(RowProblem(number, column, _("Write yes or no, not “%(value)s”.") % {"value": text}))
        return False
    if column == "dedication_kind":
        # The kind's identifier (in_memory), or its customary Hebrew words (לעילוי נשמת);
        # anything else goes on to name_clean, which names the kinds it takes.
        folded = text.strip()
        return DEDICATION_BY_HEBREW.get(folded, folded.lower())
    if column == "date_of_birth":
        return text or None
    return text


def _count(value: int) -> str:
    return number_format(value, force_grouping=True)


def _megabytes(size: int) -> str:
    megabytes = round(size / 1_000_000, 2)
    return number_format(int(megabytes) if megabytes == int(megabytes) else megabytes)


def _too_many_rows(limit: int) -> FileRefused:
    return FileRefused(
        _("The file has more than %(limit)s rows of names (the limit): split it into several files.")
        % {"limit": _count(limit)}
    )


def _beyond_the_rows(number: int, blank: bool, limit: int) -> bool:
    """Whether row `number` (the header is 1) makes a file of more than `limit` rows of names.
    Empty rows may follow the last name (Excel leaves some), but only so many: a sheet can claim
    a million of them in a few bytes."""
    return number > limit + 1 and (not blank or number > 2 * limit + 1)


def _columns_check(row, number: int, limit: int) -> None:
    """Refuse a row with anything beyond the first `limit` columns."""
    if any(_cell_text(value) for value in row[limit:]):
        raise FileRefused(
            _("Row %(row)d has more than %(limit)s columns (the limit): delete the columns that are not needed.")
            % {"row": number, "limit": _count(limit)}
        )


def sheet_rows(cells: Iterator[list]) -> Iterator[SheetRow]:
    """Rows of cells (the first being the header) into SheetRows; blank rows are skipped. More
    than IMPORT_MAX_ROWS rows of names, or anything beyond IMPORT_MAX_COLUMNS columns, refuses the
    file."""
    max_rows, max_columns = settings.IMPORT_MAX_ROWS, settings.IMPORT_MAX_COLUMNS
    try:
        header = next(cells)
    except StopIteration:
        raise FileRefused(_("The file is empty.")) from None
    if len(header) > max_columns:
        _columns_check(header, 1, max_columns)
    mapping, _unknown = columns_from_header(header)
    for number, row in enumerate(cells, start=2):
        if len(row) > max_columns:  # the check only where it can refuse: once a row is a lot of rows
            _columns_check(row, number, max_columns)
        # None is most cells of a wide spreadsheet's rows: not worth a call each.
        texts = [_cell_text(value) if value is not None else "" for value in row]
        if number > max_rows + 1:
            if _beyond_the_rows(number, not any(texts), max_rows):
                raise _too_many_rows(max_rows)
            continue
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


def _lines_counted(raw) -> int:
    lines = 0
    while chunk := raw.read(1 << 20):
        lines += chunk.count(b"\n")
    raw.seek(0)
    return lines


def _csv_rows_check(text: io.TextIOBase, delimiter: str, lines: int) -> None:
    """Refuse a CSV file of too many rows before a row is cleaned: counting its lines costs next
    to nothing, and only a file of more lines than the limit is read once more (at csv's own
    speed) to count its rows as the walk will."""
    limit = settings.IMPORT_MAX_ROWS
    if lines <= limit + 1:  # the header and the limit's rows; one more unended line, the walk refuses
        return
    try:
        for number, row in enumerate(csv.reader(text, delimiter=delimiter), start=1):
            if number > limit + 1 and _beyond_the_rows(number, not any(cell.strip() for cell in row), limit):
                raise _too_many_rows(limit)
    except (UnicodeDecodeError, csv.Error):
        pass  # the walk names the row
    finally:
        text.seek(0)


def _csv_cells(raw) -> Iterator[list]:
    lines = _lines_counted(raw)
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
    _csv_rows_check(text, delimiter, lines)
    reader = csv.reader(text, delimiter=delimiter)
    try:
        yield from reader
    except UnicodeDecodeError:
        raise _not_text(reader.line_num + 1) from None
    except csv.Error as error:
        raise FileRefused(
            _("Row %(row)d cannot be read as CSV (%(error)s).") % {"row": reader.line_num, "error": error}
        ) from None


# --- XLSX: a zip of XML parts, measured before openpyxl opens it and as it reads -------------
#
# openpyxl, even read-only, reads some parts whole (the shared strings, the styles, the
# workbook: about 20 and 120 times their size in memory at worst) and streams only the rows of
# the worksheets. A few hundred kilobytes of zip can declare gigabytes of either.

_ZIP_END = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_END = b"PK\x06\x06"
# Below this a part cannot hurt, whatever its ratio (small parts of real files compress well).
_RATIO_FLOOR_BYTES = 1_000_000
# Spreadsheets never carry a DTD; its entities would expand after the bytes were counted.
_DOCTYPE = b"<!DOCTYPE"
# openpyxl's ways of failing on a damaged file (not the task's limits: those must reach the task).
_DAMAGED = (
    zipfile.BadZipFile, zlib.error, EOFError, struct.error, ValueError, KeyError, IndexError, TypeError,
    AttributeError, SyntaxError, OSError, NotImplementedError, RuntimeError,
)  # fmt: skip


def _cannot_open() -> FileRefused:
    return FileRefused(_("This XLSX file cannot be opened; save it again from Excel."))


def _part_too_large(name: str, limit: int) -> FileRefused:
    return FileRefused(
        _(
            "This XLSX file holds a part (%(part)s) larger than %(limit)s MB once uncompressed (the limit): "
            "save it as CSV (UTF-8), or split it into several files."
        )
        % {"part": name[:80], "limit": _megabytes(limit)}
    )


def _zip_directory_size(raw) -> int | None:
    """The size of the zip's central directory, found as zipfile finds it (the end record last,
    else searched for in the comment; zip64's when its locator precedes it), before zipfile reads
    the whole directory into objects; None if there is none."""
    raw.seek(0, io.SEEK_END)
    file_size = raw.tell()
    if file_size < 22:
        return None
    raw.seek(file_size - 22)
    record = raw.read(22)
    end = file_size - 22
    if not (record[:4] == _ZIP_END and record[-2:] == b"\x00\x00"):
        start = max(file_size - 65536 - 22, 0)
        raw.seek(start)
        data = raw.read()
        found = data.rfind(_ZIP_END)
        if found < 0 or len(data) - found < 22:
            return None
        record, end = data[found : found + 22], start + found
    (size,) = struct.unpack("<I", record[12:16])
    if end >= 76:
        raw.seek(end - 76)
        zip64 = raw.read(76)
        if zip64[56:60] == _ZIP64_LOCATOR and zip64[:4] == _ZIP64_END:
            (size,) = struct.unpack("<Q", zip64[40:48])
    raw.seek(0)
    return size


class _MeasuredPart:
    """A part as openpyxl reads it: its bytes counted as they come out of the zip, whatever
    size it declared. `limit` is its own, or None for a part that counts with the others read
    whole (IMPORT_XLSX_MAX_WHOLE_BYTES, together)."""

    def __init__(self, stream, *, archive, info, limit):
        self._stream, self._archive, self._info, self._limit = stream, archive, info, limit
        self._given = 0
        self._tail = b""

    def read(self, size=-1):
        if size is None or size < 0:
            chunks = []
            while chunk := self.read(1 << 20):  # measured a megabyte at a time, not all at once
                chunks.append(chunk)
            return b"".join(chunks)
        data = self._stream.read(size)
        self._measure(data)
        return data

    def _measure(self, data):
        self._given += len(data)
        self._archive.given += len(data)
        if self._limit is None:
            self._archive.given_whole += len(data)
            if self._archive.given_whole > settings.IMPORT_XLSX_MAX_WHOLE_BYTES:
                if self._info.filename in self._archive.worksheets:
                    # openpyxl reads a sheet through to find its size when the sheet does not say it.
                    raise FileRefused(
                        _(
                            "The sheet of this XLSX file does not say its size, as Excel's do: save it again from "
                            "Excel, or as CSV (UTF-8)."
                        )
                    )
                raise FileRefused(
                    _(
                        "The workbook, styles and other parts of this XLSX file (its sheet aside) are larger than "
                        "%(limit)s MB together (the limit): save it as CSV (UTF-8)."
                    )
                    % {"limit": _megabytes(settings.IMPORT_XLSX_MAX_WHOLE_BYTES)}
                )
        elif self._given > self._limit:
            raise _part_too_large(self._info.filename, self._limit)
        if self._archive.given > settings.IMPORT_XLSX_MAX_TOTAL_BYTES:
            raise _xlsx_too_large()
        ratio = settings.IMPORT_XLSX_MAX_RATIO
        if self._given > _RATIO_FLOOR_BYTES and self._given > ratio * max(self._info.compress_size, 1):
            raise _too_compressed(self._info.filename, ratio)
        if _DOCTYPE in data or _DOCTYPE in self._tail + data[: len(_DOCTYPE) - 1]:
            raise FileRefused(
                _("This XLSX file holds a document type declaration, which spreadsheets never do: save it again.")
            )
        self._tail = data[-(len(_DOCTYPE) - 1) :]

    def close(self):
        self._stream.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _MeasuredZip(zipfile.ZipFile):
    """The zip openpyxl reads through. While the workbook opens, openpyxl reads its parts whole:
    the shared strings (once) up to IMPORT_XLSX_MAX_SHARED_STRINGS_BYTES, every other part
    (styles, workbook, relationships, the start of each sheet) up to IMPORT_XLSX_MAX_WHOLE_BYTES
    together. Once `streaming`, the worksheet's rows up to IMPORT_XLSX_MAX_SHEET_BYTES. All
    parts together give at most IMPORT_XLSX_MAX_TOTAL_BYTES."""

    def __init__(self, file):
        super().__init__(file)
        self.given = self.given_whole = 0
        self.shared_strings = None
        self.worksheets = set()
        self.streaming = False
        self._opened = set()

    def open(self, name, mode="r", pwd=None, **kwargs):
        stream = super().open(name, mode, pwd, **kwargs)
        if mode != "r":
            return stream
        info = name if isinstance(name, zipfile.ZipInfo) else self.getinfo(name)
        if self.streaming:
            limit = settings.IMPORT_XLSX_MAX_SHEET_BYTES
        elif info.filename == self.shared_strings and info.filename not in self._opened:
            limit = settings.IMPORT_XLSX_MAX_SHARED_STRINGS_BYTES
        else:
            limit = None
        self._opened.add(info.filename)
        return _MeasuredPart(stream, archive=self, info=info, limit=limit)


def _xlsx_too_large() -> FileRefused:
    return FileRefused(
        _("This XLSX file is larger than %(limit)s MB once uncompressed (the limit): split it into several files.")
        % {"limit": _megabytes(settings.IMPORT_XLSX_MAX_TOTAL_BYTES)}
    )


def _too_compressed(name: str, ratio: int) -> FileRefused:
    return FileRefused(
        _(
            "This XLSX file holds a part (%(part)s) compressed more than %(ratio)s times (the limit), as no "
            "spreadsheet is: save it again from Excel, or as CSV (UTF-8)."
        )
        % {"part": name[:80], "ratio": _count(ratio)}
    )


def _xlsx_measure(archive: _MeasuredZip) -> None:
    """Refuse, from the zip's directory alone, what declares more than the limits allow."""
    infos = archive.infolist()
    limit = settings.IMPORT_XLSX_MAX_ENTRIES
    if len(infos) > limit:
        raise FileRefused(
            _("This XLSX file has more than %(limit)s parts (the limit): save it again from Excel, or as CSV.")
            % {"limit": _count(limit)}
        )
    ratio = settings.IMPORT_XLSX_MAX_RATIO
    for info in infos:
        if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _cannot_open()  # encrypted, or compressed as Excel never does
        if info.file_size > settings.IMPORT_XLSX_MAX_SHEET_BYTES:
            raise _part_too_large(info.filename, settings.IMPORT_XLSX_MAX_SHEET_BYTES)
        if info.file_size > _RATIO_FLOOR_BYTES and info.file_size > ratio * max(info.compress_size, 1):
            raise _too_compressed(info.filename, ratio)
    if sum(info.file_size for info in infos) > settings.IMPORT_XLSX_MAX_TOTAL_BYTES:
        raise _xlsx_too_large()


def _xlsx_open(raw):
    """openpyxl's read-only workbook of an XLSX file, and the measured zip it reads through."""
    # openpyxl only where a spreadsheet is read: the web processes never load it.
    from openpyxl.packaging.manifest import Manifest
    from openpyxl.reader.excel import ExcelReader
    from openpyxl.xml.constants import ARC_CONTENT_TYPES, SHARED_STRINGS, WORKSHEET_TYPE
    from openpyxl.xml.functions import fromstring

    size = _zip_directory_size(raw)
    if size is None:
        raise _cannot_open()
    # zipfile makes an object of every entry of the directory: 1 KB a part is plenty.
    if size > settings.IMPORT_XLSX_MAX_ENTRIES * 1024:
        raise FileRefused(
            _("This XLSX file has more than %(limit)s parts (the limit): save it again from Excel, or as CSV.")
            % {"limit": _count(settings.IMPORT_XLSX_MAX_ENTRIES)}
        )
    try:
        archive = _MeasuredZip(raw)
        _xlsx_measure(archive)
        # The shared strings are the part openpyxl finds as it does, by their content type.
        manifest = Manifest.from_tree(fromstring(archive.read(ARC_CONTENT_TYPES)))
        archive.worksheets = {part.PartName[1:] for part in manifest.Override if part.ContentType == WORKSHEET_TYPE}
        strings = manifest.find(SHARED_STRINGS)
        if strings is not None:
            archive.shared_strings = strings.PartName[1:]
            declared = archive.getinfo(archive.shared_strings).file_size
            if declared > settings.IMPORT_XLSX_MAX_SHARED_STRINGS_BYTES:
                raise _part_too_large(archive.shared_strings, settings.IMPORT_XLSX_MAX_SHARED_STRINGS_BYTES)
        reader = ExcelReader(raw, read_only=True, data_only=True, keep_links=False)
        reader.archive, reader.valid_files = archive, archive.namelist()
        reader.read()
    except _DAMAGED:
        raise _cannot_open() from None
    return reader.wb, archive


def _xlsx_cells(raw) -> Iterator[tuple]:
    workbook, archive = _xlsx_open(raw)
    try:
        if not workbook.worksheets:
            raise _cannot_open()
        sheet = workbook.worksheets[0]
        # Its declared dimension (A1:XFD1048576, say) is ignored: rows are read as they are, and
        # no further right than one column past the limit, which refuses the file if filled.
        sheet.reset_dimensions()
        archive.streaming = True
        yield from sheet.iter_rows(values_only=True, max_col=settings.IMPORT_MAX_COLUMNS + 1)
    except _DAMAGED:
        raise _cannot_open() from None
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
