"""XLSX files built by hand, byte by byte where it matters: what openpyxl writes is always well
behaved, and the files that hurt a site are not. Shared by tests/test_import_limits.py and
bench/import_limits.py."""

import io
import random
import struct
import zipfile
from xml.sax.saxutils import escape

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE = "http://schemas.openxmlformats.org/package/2006/relationships"
TYPES = "application/vnd.openxmlformats-officedocument.spreadsheetml"

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    f'<Override PartName="/xl/workbook.xml" ContentType="{TYPES}.sheet.main+xml"/>'
    f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{TYPES}.worksheet+xml"/>'
    f'<Override PartName="/xl/styles.xml" ContentType="{TYPES}.styles+xml"/>'
    "{shared}</Types>"
)
SHARED_OVERRIDE = f'<Override PartName="/xl/sharedStrings.xml" ContentType="{TYPES}.sharedStrings+xml"/>'
ROOT_RELS = (
    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="{PACKAGE}">'
    f'<Relationship Id="rId1" Type="{RELATIONSHIPS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
WORKBOOK = (
    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="{MAIN}" xmlns:r="{RELATIONSHIPS}">'
    '<sheets><sheet name="Names" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="{PACKAGE}">'
    f'<Relationship Id="rId1" Type="{RELATIONSHIPS}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{RELATIONSHIPS}/styles" Target="styles.xml"/>'
    f'<Relationship Id="rId3" Type="{RELATIONSHIPS}/sharedStrings" Target="sharedStrings.xml"/>'
    "</Relationships>"
)
STYLES = (
    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><styleSheet xmlns="{MAIN}">'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
    "</styleSheet>"
)


def column_letters(index: int) -> str:
    """1 -> A, 16384 -> XFD."""
    letters = ""
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def xlsx(*, sheet, shared_strings=None, styles=STYLES, extra=()) -> bytes:
    """A workbook of one sheet: the parts given as bytes (or str), or as an iterable of byte
    chunks for a part too large to hold twice."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        shared = SHARED_OVERRIDE if shared_strings is not None else ""
        archive.writestr("[Content_Types].xml", CONTENT_TYPES.format(shared=shared))
        archive.writestr("_rels/.rels", ROOT_RELS)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        for name, part in [("xl/styles.xml", styles), ("xl/worksheets/sheet1.xml", sheet),
                           ("xl/sharedStrings.xml", shared_strings), *extra]:  # fmt: skip
            if part is None:
                continue
            if isinstance(part, (bytes, str)):
                archive.writestr(name, part)
                continue
            with archive.open(name, "w", force_zip64=True) as stream:
                for chunk in part:
                    stream.write(chunk)
    return out.getvalue()


def sheet(rows, *, dimension=None, shared=False):
    """A worksheet of `rows` (lists of text; None leaves a cell out, or a row), numbered from 1,
    each cell addressed; text inline, or as indexes into the shared strings (then `shared` is a
    dict that collects them)."""
    head = f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="{MAIN}">'
    if dimension:
        head += f'<dimension ref="{dimension}"/>'
    parts = [head + "<sheetData>"]
    for number, row in enumerate(rows, start=1):
        if row is None:
            continue
        cells = []
        for index, value in enumerate(row, start=1):
            if value is None:
                continue
            where = f"{column_letters(index)}{number}"
            if shared is not False:
                cells.append(f'<c r="{where}" t="s"><v>{shared.setdefault(value, len(shared))}</v></c>')
            else:
                cells.append(f'<c r="{where}" t="inlineStr"><is><t>{escape(value)}</t></is></c>')
        parts.append(f'<row r="{number}">{"".join(cells)}</row>')
    parts.append("</sheetData></worksheet>")
    return "".join(parts).encode()


def shared_strings(strings: dict) -> bytes:
    items = "".join(f"<si><t>{escape(text)}</t></si>" for text in strings)
    return f'<sst xmlns="{MAIN}" count="{len(strings)}" uniqueCount="{len(strings)}">{items}</sst>'.encode()


def shared_workbook(rows) -> bytes:
    """A workbook as Excel writes one: every text in the shared strings."""
    strings = {}
    data = sheet(rows, dimension=f"A1:{column_letters(max(map(len, rows)))}{len(rows)}", shared=strings)
    return xlsx(sheet=data, shared_strings=shared_strings(strings))


def empty_strings(size: int, *, seed=1):
    """About `size` bytes of shared strings that are all empty: the most strings per byte, each
    an object openpyxl keeps, with a random byte of white space after each so that they do not
    compress beyond what real text does."""
    chooser = random.Random(seed)
    yield f'<sst xmlns="{MAIN}">'.encode()
    written, block = 0, 100_000
    while written < size:
        spaces = chooser.choices(b" \t\r\n", k=block // 6)
        chunk = b"".join(b"<si/>" + bytes([space]) for space in spaces)
        written += len(chunk)
        yield chunk
    yield b"</sst>"


def zip_bomb_strings(size: int):
    """`size` bytes of one short string repeated: compresses about a thousand times."""
    yield f'<sst xmlns="{MAIN}">'.encode()
    chunk = b"<si><t>a</t></si>" * 50_000
    for _ in range(size // len(chunk)):
        yield chunk
    yield b"</sst>"


def size_declared(content: bytes, name: str, size: int) -> bytes:
    """The zip with the uncompressed size of its part `name` rewritten to `size`, in the part's
    local header and in the central directory: a lie, the data unchanged."""
    data = bytearray(content)
    info = zipfile.ZipFile(io.BytesIO(content)).getinfo(name)
    struct.pack_into("<I", data, info.header_offset + 22, size)
    position = data.find(b"PK\x01\x02")
    while position >= 0:
        (name_length,) = struct.unpack_from("<H", data, position + 28)
        if bytes(data[position + 46 : position + 46 + name_length]) == name.encode():
            struct.pack_into("<I", data, position + 24, size)
        position = data.find(b"PK\x01\x02", position + 4)
    return bytes(data)


def many_parts(count: int, *, name_length=1) -> bytes:
    """A zip of `count` empty parts (a genuine workbook's among them)."""
    out = io.BytesIO(xlsx(sheet=sheet([["hebrew_name", "parent_hebrew_name", "gender"], ["משה", "שרה", "m"]])))
    with zipfile.ZipFile(out, "a", zipfile.ZIP_STORED) as archive:
        for index in range(count):
            archive.writestr(f"{index:0{name_length}d}", b"")
    return out.getvalue()
