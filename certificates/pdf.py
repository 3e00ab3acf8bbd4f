"""Writing a PDF page by page from pages of other PDFs, in constant memory.

pypdf's PdfWriter keeps every page it is given until it writes the file, so a booklet of
100,000 pages would be held whole. PdfPageWriter instead copies each page, with the objects it
uses (fonts, images, content), straight to the output and keeps only the byte offset of every
object it wrote and the numbers of the pages, for the cross-reference table at the end. Objects
are copied as they are (streams stay compressed) and renumbered; the pages hang under one page
tree.

Two more things make certificates cheap to draw and small:
* WeasyPrint gives all pages of a document one resource dictionary; a page copied alone keeps
  only the resources its content names, so one certificate does not carry its batch's images.
* A page can be laid over an "underlay" page (the parts of a certificate that are the same on
  every page, drawn once per batch), which is written once per output as a form XObject.
"""

import re
from array import array
from io import BytesIO
from typing import BinaryIO

from pypdf import PdfReader
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    IndirectObject,
    NameObject,
    NullObject,
    StreamObject,
    TextStringObject,
)

_CATALOG_ID = 1
_PAGES_ID = 2
_RESOURCE_KINDS = ("/Font", "/XObject", "/ExtGState", "/Pattern", "/Shading", "/ColorSpace", "/Properties")
_NAME_RE = re.compile(rb"/([^\s/\[\]()<>{}%]+)")
_UNDERLAY = "/UnitySeferUnderlay"
_CONTAINERS = (IndirectObject, DictionaryObject, ArrayObject)


def _names_used(content: bytes) -> set[str]:
    """Every /Name in a content stream: the resources it may use (a superset, which is safe)."""
    return {"/" + name.decode("latin-1") for name in _NAME_RE.findall(content)}


def _contents_data(page: DictionaryObject) -> bytes:
    contents = page.get("/Contents")
    if contents is None:
        return b""
    streams = contents if isinstance(contents, ArrayObject) else [contents]
    return b"\n".join(stream.get_object().get_data() for stream in streams)


class _CountingOutput:
    """The output, counting bytes so objects' offsets are known without seeking."""

    def __init__(self, out: BinaryIO):
        self._out = out
        self.position = 0

    def write(self, data: bytes) -> int:
        self._out.write(data)
        self.position += len(data)
        return len(data)


class PdfSource:
    """A PDF pages are copied from, with the numbers its objects were given in the output
    (objects shared by several pages, such as fonts, are written once).

    `leaves` may be shared by the sources of one reader copied to several outputs (a batch of
    certificates split one per file): it keeps, serialized, each object that refers to no
    other (font programs, glyph widths), which is then written again without any work."""

    def __init__(self, reader: PdfReader, *, leaves: dict | None = None):
        self.reader = reader
        self.numbers: dict[tuple[int, int], int] = {}
        self.underlays: dict[int, int] = {}  # page index -> number of its form XObject
        self.leaves: dict[tuple[int, int], bytes] = {} if leaves is None else leaves


class PdfPageWriter:
    def __init__(self, out: BinaryIO, *, title: str = ""):
        self._out = _CountingOutput(out)
        self._title = title
        # offsets[n] is where object n starts; objects 0, 1, 2 are written at the end.
        self._offsets = array("Q", [0, 0, 0])
        self._kids = array("Q")
        self._references_made = 0
        self._out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")

    @property
    def page_count(self) -> int:
        return len(self._kids)

    def add_page(self, source: PdfSource, index: int, *, underlay: tuple[PdfSource, int] | None = None) -> None:
        """Copy page `index` of `source` to the end of the output, drawn over page
        `underlay[1]` of `underlay[0]` when given."""
        page = source.reader.pages[index]
        number = self._reserve()
        contents = page.get("/Contents")
        copy = DictionaryObject()
        for key, value in dict.items(page):
            if key not in ("/Parent", "/Resources", "/Contents"):
                dict.__setitem__(copy, key, self._renumbered(value, source))
        copy[NameObject("/Parent")] = IndirectObject(_PAGES_ID, 0, None)
        resources = self._resources(page.get("/Resources"), _names_used(_contents_data(page)), source)
        parts = ArrayObject()
        if underlay is not None:
            form = self._underlay_form(*underlay)
            xobjects = resources.get("/XObject") or DictionaryObject()
            xobjects[NameObject(_UNDERLAY)] = IndirectObject(form, 0, None)
            resources[NameObject("/XObject")] = xobjects
            call = DecodedStreamObject()
            call.set_data(f"q {_UNDERLAY} Do Q\n".encode())
            parts.append(IndirectObject(self._write_new(call), 0, None))
        if contents is not None:
            for stream in contents if isinstance(contents, ArrayObject) else [contents]:
                parts.append(self._renumbered(stream, source))
        copy[NameObject("/Resources")] = resources
        copy[NameObject("/Contents")] = parts
        self._write(number, copy)
        self._kids.append(number)

    def add_pages(self, reader: PdfReader) -> None:
        source = PdfSource(reader)
        for index in range(len(reader.pages)):
            self.add_page(source, index)

    def close(self) -> None:
        """Write the page tree, the catalogue, the cross-reference table and the trailer."""
        kids = " ".join(f"{kid} 0 R" for kid in self._kids)
        self._start_object(_PAGES_ID)
        self._out.write(f"<< /Type /Pages /Count {len(self._kids)} /Kids [{kids}] >>\nendobj\n".encode())
        self._start_object(_CATALOG_ID)
        self._out.write(f"<< /Type /Catalog /Pages {_PAGES_ID} 0 R >>\nendobj\n".encode())
        info = ""
        if self._title:
            info_id = self._reserve()
            self._start_object(info_id)
            TextStringObject(self._title).write_to_stream(title := BytesIO())
            self._out.write(b"<< /Title " + title.getvalue() + b" /Producer (UnitySefer) >>\nendobj\n")
            info = f" /Info {info_id} 0 R"
        xref_at = self._out.position
        lines = [f"xref\n0 {len(self._offsets)}\n", "0000000000 65535 f \n"]
        lines += [f"{offset:010d} 00000 n \n" for offset in self._offsets[1:]]
        self._out.write("".join(lines).encode())
        self._out.write(
            f"trailer\n<< /Size {len(self._offsets)} /Root {_CATALOG_ID} 0 R{info} >>\n"
            f"startxref\n{xref_at}\n%%EOF\n".encode()
        )

    # --- copying ---------------------------------------------------------------------------

    def _reserve(self) -> int:
        self._offsets.append(0)
        return len(self._offsets) - 1

    def _start_object(self, number: int) -> None:
        self._offsets[number] = self._out.position
        self._out.write(f"{number} 0 obj\n".encode())

    def _write(self, number: int, obj) -> None:
        self._start_object(number)
        obj.write_to_stream(self._out)
        self._out.write(b"\nendobj\n")

    def _write_new(self, obj) -> int:
        number = self._reserve()
        self._write(number, obj)
        return number

    def _underlay_form(self, source: PdfSource, index: int) -> int:
        """The underlay page as a form XObject, written once per output."""
        if index not in source.underlays:
            page = source.reader.pages[index]
            # Compressed once per source reader, however many files it is copied into.
            key = ("underlay", index)
            if key not in source.leaves:
                content = _contents_data(page)
                plain = DecodedStreamObject()
                plain.set_data(content)
                source.leaves[key] = (content, plain.flate_encode())
            content, encoded = source.leaves[key]
            form = StreamObject()
            form._data = encoded._data
            form[NameObject("/Filter")] = encoded["/Filter"]
            form[NameObject("/Type")] = NameObject("/XObject")
            form[NameObject("/Subtype")] = NameObject("/Form")
            form[NameObject("/BBox")] = ArrayObject(page.mediabox)
            form[NameObject("/Resources")] = self._resources(page.get("/Resources"), _names_used(content), source)
            source.underlays[index] = self._write_new(form)
        return source.underlays[index]

    def _resources(self, resources, used: set[str], source: PdfSource) -> DictionaryObject:
        """A copy of a resource dictionary keeping only what `used` names."""
        copy = DictionaryObject()
        if resources is None:
            return copy
        for key, value in dict.items(resources.get_object()):
            if key in _RESOURCE_KINDS:
                kept = DictionaryObject()
                for name, item in dict.items(value.get_object()):
                    if name in used:
                        dict.__setitem__(kept, name, self._renumbered(item, source))
                dict.__setitem__(copy, key, kept)
            else:
                dict.__setitem__(copy, key, self._renumbered(value, source))
        return copy

    def _reference(self, ref: IndirectObject, source: PdfSource):
        key = (ref.idnum, ref.generation)
        if key in source.numbers:
            return IndirectObject(source.numbers[key], 0, None)
        if key in source.leaves:
            number = source.numbers[key] = self._reserve()
            self._start_object(number)
            self._out.write(source.leaves[key])
            return IndirectObject(number, 0, None)
        target = ref.get_object()
        if isinstance(target, DictionaryObject) and target.get("/Type") in ("/Page", "/Pages", "/Catalog"):
            # Only what a page draws is copied, never a way back into the source's page tree.
            return NullObject()
        number = source.numbers[key] = self._reserve()
        references_before = self._references_made
        copy = self._renumbered(target, source)
        body = BytesIO()
        copy.write_to_stream(body)
        body.write(b"\nendobj\n")
        if self._references_made == references_before:
            source.leaves[key] = body.getvalue()
        self._start_object(number)
        self._out.write(body.getvalue())
        return IndirectObject(number, 0, None)

    def _renumbered(self, value, source: PdfSource):
        if isinstance(value, IndirectObject):
            self._references_made += 1
            return self._reference(value, source)
        if isinstance(value, StreamObject):
            copy = StreamObject()
            copy._data = value._data  # the stream as stored (still compressed)
            used = _names_used(value.get_data()) if "/Resources" in value else set()
            for key, item in dict.items(value):
                if key == "/Resources":  # a form or pattern: keep what its own content names
                    dict.__setitem__(copy, key, self._resources(item, used, source))
                elif key != "/Length":  # rewritten from the data
                    dict.__setitem__(copy, key, self._renumbered(item, source))
            return copy
        if isinstance(value, DictionaryObject):
            copy = DictionaryObject()
            for key, item in dict.items(value):
                dict.__setitem__(copy, key, self._renumbered(item, source))
            return copy
        if isinstance(value, ArrayObject):
            if not any(isinstance(item, _CONTAINERS) for item in list.__iter__(value)):
                return value  # numbers and names (glyph widths): nothing to renumber
            return ArrayObject(self._renumbered(item, source) for item in list.__iter__(value))
        return value


def pdf_pages_split(pdf: bytes, groups: list[list[int]], *, titles: list[str] | None = None) -> list[bytes]:
    """One PDF per group of page indexes of `pdf`."""
    reader = PdfReader(BytesIO(pdf))
    parts = []
    for number, indexes in enumerate(groups):
        out = BytesIO()
        writer = PdfPageWriter(out, title=titles[number] if titles else "")
        source = PdfSource(reader)
        for index in indexes:
            writer.add_page(source, index)
        writer.close()
        parts.append(out.getvalue())
    return parts
