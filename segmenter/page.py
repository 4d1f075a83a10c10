"""Page: raw input turned into decoded text that knows whether it is HTML or plain text.

Decoding order (what a browser or a careful crawler does): a byte-order mark wins, then the
charset the caller declared (HTTP header, WARC header), then a ``<meta charset>`` in the first
bytes of an HTML document, then UTF-8, then cp1252 as the last resort. A declared label names the
encoding browsers use for it (the WHATWG Encoding Standard): "iso-8859-1" and "us-ascii" pages are
read as windows-1252, "gb2312" as GB18030, "shift_jis" as windows-31j, and so on, so that the
curly quotes and dashes such pages hold come out as text, not as C1 control characters (on 69 of
the 240 L3S-GN1 pages labelled iso-8859-1 they did). Undecodable bytes are
replaced, never raised on, so one bad byte cannot fail a whole batch; ``Page.replaced_chars``
says how many were replaced so that callers (the API) can refuse text that is mostly garbage.
"""
from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

TEXT = "text"
HTML = "html"
CONTENT_TYPES = (TEXT, HTML)

_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.IGNORECASE)
# An HTML document announces itself early: a doctype or one of the structural tags near the top.
_HTML_SNIFF = re.compile(r"<\s*(!doctype\s+html|html|head|body|meta|title|div|p|article|section|table|"
                         r"script|style|span|a\s|br|h[1-6]|ul|li)\b", re.IGNORECASE)
SNIFF_CHARS = 4096
# Labels whose bytes browsers decode with a superset (WHATWG Encoding Standard), by Python codec name.
_BROWSER_ENCODING = {
    "iso8859-1": "cp1252", "ascii": "cp1252", "iso8859-9": "cp1254", "tis-620": "cp874", "iso8859-11": "cp874",
    "gb2312": "gb18030", "gbk": "gb18030", "shift_jis": "cp932", "euc_kr": "cp949", "big5": "big5hkscs",
}
# Labels Python does not know by these names.
_EXTRA_LABELS = {"windows-874": "cp874", "x-sjis": "cp932", "x-gbk": "gb18030", "x-cp1252": "cp1252"}


class PageError(ValueError):
    """The input cannot be turned into a page (wrong type, unknown content type)."""


@dataclass(frozen=True)
class Page:
    """One decoded input document."""

    text: str
    content_type: str = TEXT  # "text" or "html"
    url: str | None = None
    source: str | None = None
    fetched: str | None = None
    replaced_chars: int = 0

    @classmethod
    def from_input(cls, data: str | bytes | Page, content_type: str | None = None,
                   charset: str | None = None, url: str | None = None,
                   source: str | None = None, fetched: str | None = None) -> Page:
        """Build a page from a str, bytes, or an existing Page (returned as is)."""
        if isinstance(data, Page):
            return data
        if isinstance(data, (bytes, bytearray, memoryview)):
            text, replaced = decode_bytes(bytes(data), charset)
        elif isinstance(data, str):
            text, replaced = data, 0
        else:
            raise PageError(f"page must be str or bytes, not {type(data).__name__}")
        kind = normalise_content_type(content_type) if content_type else sniff_content_type(text)
        return cls(text, kind, url, source, fetched, replaced)


def normalise_content_type(content_type: str) -> str:
    """Map 'html', 'text/html; charset=x', 'text', 'text/plain' ... to 'html' or 'text'."""
    value = content_type.split(";")[0].strip().lower()
    if value in (HTML, "text/html", "application/xhtml+xml"):
        return HTML
    if value in (TEXT, "text/plain", "plain"):
        return TEXT
    raise PageError(f"unsupported content type {content_type!r}: use text/plain or text/html")


def sniff_content_type(text: str) -> str:
    """'html' when the start of the text looks like markup, else 'text'."""
    head = text[:SNIFF_CHARS].lstrip()
    if head.startswith("<") and _HTML_SNIFF.search(head):
        return HTML
    # Markup that starts after a little junk (a BOM-less XML prolog, a comment) still counts
    # if several structural tags appear.
    return HTML if len(_HTML_SNIFF.findall(head)) >= 3 else TEXT


def charset_from_content_type(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header value, if any."""
    if not content_type:
        return None
    match = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9_\-:.]+)", content_type, re.IGNORECASE)
    return match.group(1) if match else None


def decode_bytes(data: bytes, charset: str | None = None, browser_labels: bool = True) -> tuple[str, int]:
    """Decode bytes to text; return the text and the number of replaced characters. With
    ``browser_labels=False`` a declared label means Python's codec of that name (iso-8859-1 as
    Latin-1), as the shipped model's training pages were read (``training.read_html``)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _decode(data[len(bom):], encoding)
    candidates = [charset] if charset else []
    meta = _META_CHARSET.search(data[:SNIFF_CHARS])
    if meta:
        label = meta.group(1).decode("ascii", "replace")
        # A page whose <meta> could be read as ASCII is not UTF-16 or UTF-32, whatever it says.
        utf16 = browser_labels and (browser_encoding(label) or "").startswith(("utf-16", "utf-32"))
        candidates.append("utf-8" if utf16 else label)
    for label in candidates:
        encoding = browser_encoding(label) if browser_labels else _python_encoding(label)
        if encoding is not None:
            return _decode(data, encoding)
    try:
        return data.decode("utf-8"), 0
    except UnicodeDecodeError:
        pass
    text, replaced = _decode(data, "utf-8")
    # Mostly-invalid UTF-8 is more likely a legacy single-byte page than a few bad bytes.
    if replaced > max(8, len(data) // 100):
        return data.decode("cp1252", errors="replace"), 0
    return text, replaced


def browser_encoding(label: str) -> str | None:
    """The Python codec a browser's decoder for this charset label matches, or None if unknown."""
    label = label.strip().lower()
    name = _python_encoding(_EXTRA_LABELS.get(label, label))
    return _BROWSER_ENCODING.get(name, name) if name else None


def _python_encoding(label: str) -> str | None:
    """Python's codec for the label, or None if it knows none."""
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _decode(data: bytes, encoding: str) -> tuple[str, int]:
    text = data.decode(encoding, errors="replace")
    return text, text.count("\ufffd")
