"""What every PDF the project draws with WeasyPrint shares (certificates, receipts, reports):
fetching only the project's own static files, telling a font that is installed from fontconfig's
silent substitute, and text that cannot reorder what surrounds it.

WeasyPrint fetches through StaticOnlyURLFetcher, which serves the project's static files and
data: URIs and refuses everything else (file:, http:, ...).
"""

import ctypes
import ctypes.util
import functools
import logging
import mimetypes
import posixpath
import unicodedata
from urllib.parse import unquote, urlsplit

from django.contrib.staticfiles import finders
from django.templatetags.static import static
from weasyprint.urls import URLFetcher, URLFetcherResponse

logger = logging.getLogger(__name__)

# The origin a document's relative URLs resolve against. ".invalid" never resolves (RFC 2606),
# so nothing could be fetched from it even if a URL slipped past the fetcher.
STATIC_ORIGIN = "https://certificate.invalid"


# --- Fonts -----------------------------------------------------------------------------------


@functools.cache
def _fontconfig():
    path = ctypes.util.find_library("fontconfig") or "libfontconfig.so.1"
    library = ctypes.CDLL(path)
    library.FcPatternCreate.restype = ctypes.c_void_p
    library.FcPatternAddString.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
    library.FcConfigSubstitute.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
    library.FcDefaultSubstitute.argtypes = [ctypes.c_void_p]
    library.FcFontMatch.restype = ctypes.c_void_p
    library.FcFontMatch.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
    library.FcPatternGetString.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.POINTER(ctypes.c_char_p),
    ]
    library.FcPatternDestroy.argtypes = [ctypes.c_void_p]
    return library


@functools.cache
def font_file(family: str, style: str = "") -> str | None:
    """The file of an installed font family (and style) as fontconfig matches it, or None where
    fontconfig would silently substitute another family (or is not installed)."""
    try:
        fc = _fontconfig()
    except OSError:
        return None
    pattern = fc.FcPatternCreate()
    try:
        fc.FcPatternAddString(pattern, b"family", family.encode())
        if style:
            fc.FcPatternAddString(pattern, b"style", style.encode())
        fc.FcConfigSubstitute(None, pattern, 0)  # FcMatchPattern
        fc.FcDefaultSubstitute(pattern)
        result = ctypes.c_int()
        match = fc.FcFontMatch(None, pattern, ctypes.byref(result))
        if not match:
            return None
        try:
            index, value, found = 0, ctypes.c_char_p(), set()
            while fc.FcPatternGetString(match, b"family", index, ctypes.byref(value)) == 0:
                found.add(value.value.decode(errors="replace").casefold())
                index += 1
            if family.casefold() not in found or fc.FcPatternGetString(match, b"file", 0, ctypes.byref(value)) != 0:
                return None
            return value.value.decode()
        finally:
            fc.FcPatternDestroy(match)
    finally:
        fc.FcPatternDestroy(pattern)


def font_installed(family: str) -> bool:
    """Whether fontconfig (which WeasyPrint draws with) has this family, rather than a
    substitute it would silently pick."""
    return font_file(family) is not None


# --- Fetching ----------------------------------------------------------------------------------


class URLRefused(ValueError):
    pass


class StaticOnlyURLFetcher(URLFetcher):
    """Serves the project's static files (by their URL under STATIC_ORIGIN) and data: URIs;
    refuses anything else, and records what it served and refused."""

    def __init__(self):
        super().__init__(timeout=1, allow_redirects=False)
        self.served: list[str] = []
        self.refused: list[str] = []

    def fetch(self, url, headers=None):
        if url.startswith("data:"):
            self.served.append(url[:48])
            return super().fetch(url, headers)
        path = self._static_file(url)
        if path is None:
            self.refused.append(url)
            logger.warning("PDF rendering refused to fetch %r", url[:200])
            raise URLRefused(f"not a static file of the project: {url[:200]}")
        self.served.append(url)
        with open(path, "rb") as file:
            body = file.read()
        content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
        return URLFetcherResponse(url, body=body, headers={"Content-Type": content_type})

    @staticmethod
    def _static_file(url: str) -> str | None:
        prefix = STATIC_ORIGIN + static("")
        if not url.startswith(prefix):
            return None
        parts = urlsplit(url)
        if parts.query or parts.fragment:
            return None
        relative = unquote(url[len(prefix) :])
        # finders.find refuses absolute paths and '..' as well; this says so plainly.
        if not relative or relative.startswith("/") or ".." in relative.split("/") or "\\" in relative:
            return None
        if posixpath.normpath(relative) != relative:
            return None
        return finders.find(relative)


# --- Text that is data -------------------------------------------------------------------------


# Bidirectional controls and other invisible characters: a name carrying them could reorder
# the text around it, so they are dropped (what is left prints exactly as typed).
def plain_text(value) -> str:
    text = "".join(char for char in str(value or "") if unicodedata.category(char) not in {"Cc", "Cf", "Co", "Cs"})
    return " ".join(text.split())


def isolated(value) -> str:
    """Plain text between FIRST STRONG ISOLATE and POP DIRECTIONAL ISOLATE: laid out in its own
    direction, it cannot reorder what surrounds it (WeasyPrint ignores CSS unicode-bidi:
    isolate, but the text layout engine honours these characters)."""
    text = plain_text(value)
    return f"\u2068{text}\u2069" if text else ""
