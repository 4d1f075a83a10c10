"""Readers: crawl dumps and exports -> ``Record``s, one generator per format (datatrove style).

Every reader is a generator over one input and yields plain ``Record``s in file order, so that the
n-th record of an input is always the same record: the local pipeline resumes by counting, and the
Spark job and the local pipeline give records the same ids (``"<input>#<ordinal>"``).

Formats:

- WARC (``response`` records: the HTTP payload, its headers, status and charset), WET (``conversion``
  records: extracted text), ``resource`` records, and ``revisit`` records (yielded with no payload and
  ``refers_to``: the URL whose content they repeat). ``request``, ``metadata`` (WAT) and ``warcinfo``
  records are not documents and are not yielded. WARC/0.18 (ClueWeb09) reads too: warcio accepts its
  headers, and a ``Content-Encoding: gzip`` header on an already-decoded body is tolerated by warcio.
- Compression: plain, per-record gzip (the Common Crawl norm) and one gzip member for the whole file
  (some WET exports): the file is read through ``gzip.GzipFile``, which reads any number of members
  in sequence, so warcio never sees the compression and never needs to seek.
- JSONL (optionally gzipped): one object per line with ``id``, ``url``, and ``text`` or ``html``.
- Folders: every ``.txt``, ``.html`` and ``.htm`` file below the folder, in sorted path order.

Damaged input never crashes a run. A record cut short by the end of the file is yielded with
``truncated=True`` (the pipeline counts it as skipped). An input that cannot be read at all (not a
WARC, a gzip stream that is cut or corrupt, a JSON line that is not an object) raises ``ReaderError``
with a message that names the file and says what is wrong, after yielding every good record before
the damage; the pipeline logs it, counts it and goes on with the next input.
"""
from __future__ import annotations

import gzip
import io
import json
import logging
import os
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from segmenter.page import HTML, TEXT, charset_from_content_type

log = logging.getLogger(__name__)

GZIP_MAGIC = b"\x1f\x8b"
ARCHIVE_STARTS = (b"WARC/", b"filedesc://")  # a WARC record, or the header record of an ARC file
WARC_DOCUMENT_TYPES = ("response", "conversion", "resource", "revisit")
FOLDER_EXTENSIONS = {".txt": TEXT, ".html": HTML, ".htm": HTML}
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".json.gz")
# How far into a file we look to tell WARC from JSONL when the name does not say.
SNIFF_BYTES = 64
ERROR_CHARS = 120  # of warcio's message quoted in a ReaderError
# Remote inputs as cc-pyspark names them; opened through fsspec when it is installed.
REMOTE_SCHEMES = ("s3://", "s3a://", "s3n://", "hdfs://", "gs://", "http://", "https://")


class ReaderError(Exception):
    """An input cannot be read (further): not a known format, or damaged beyond the current record."""


@dataclass(frozen=True)
class Record:
    """One document of an input, before decoding: what every reader yields and the pipeline consumes.

    ``data`` is the payload as the input holds it (bytes for WARC/WET and files, str for JSONL);
    ``content_type`` is ``"html"``, ``"text"`` or None (sniff); ``mime`` the declared media type and
    ``charset`` the declared charset, if any.
    """

    id: str
    source: str
    ordinal: int
    data: bytes | str | None
    url: str | None = None
    content_type: str | None = None
    mime: str | None = None
    charset: str | None = None
    fetched: str | None = None
    record_type: str = "document"
    http_status: int | None = None
    warc_record_id: str | None = None
    refers_to: str | None = None
    truncated: bool = False


def record_id(source: str, ordinal: int) -> str:
    """The id of the ``ordinal``-th record of ``source``: stable across runs, unique across inputs."""
    return f"{source}#{ordinal}"


# ---------------------------------------------------------------------------------------------
# opening inputs


def open_input(uri: str) -> IO[bytes]:
    """Open a local path, ``file://`` URI or remote URI (S3, HDFS, GCS, HTTP via fsspec) for reading."""
    if uri.startswith("file://"):
        uri = uri[len("file://"):]
    if uri.startswith(REMOTE_SCHEMES):
        try:
            import fsspec
        except ImportError as exc:
            raise ReaderError(f"{uri}: reading remote inputs needs fsspec (and s3fs for S3): "
                              "pip install fsspec s3fs") from exc
        return fsspec.open(uri, "rb").open()
    try:
        return open(uri, "rb")
    except OSError as exc:
        raise ReaderError(f"{uri}: cannot open: {exc.strerror}") from exc


class CutStreamError(ReaderError):
    """The compressed stream ends early or is corrupt (a partial download, a cut fragment)."""


class _GuardedGzip(io.RawIOBase):
    """A gzip reader whose "stream cut short" error cannot be mistaken for a clean end.

    warcio treats ``EOFError`` as the end of the archive, so a WARC cut inside a gzip member would
    read as a shorter, valid file; turning it into ``CutStreamError`` makes the damage visible.
    It is deliberately unbuffered: a buffered reader over it would drop the data of a read that
    hits the cut, so the records before the cut would be lost with it.
    """

    def __init__(self, gz: gzip.GzipFile):
        super().__init__()
        self.gz = gz
        self.head = b""  # bytes peeked at and not yet read

    def readable(self) -> bool:
        return True

    def peek(self, size: int = 1) -> bytes:
        """The next ``size`` bytes (or fewer at the end) without consuming them."""
        while len(self.head) < size:
            chunk = self._read_gzip(size - len(self.head))
            if not chunk:
                break
            self.head += chunk
        return self.head

    def readinto(self, buffer) -> int:
        if self.head:
            count = min(len(buffer), len(self.head))
            buffer[:count] = self.head[:count]
            self.head = self.head[count:]
            return count
        chunk = self._read_gzip(len(buffer))
        buffer[:len(chunk)] = chunk
        return len(chunk)

    def _read_gzip(self, size: int) -> bytes:
        try:
            return self.gz.read(size)  # returns what it has before raising on a later call
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise CutStreamError(f"compressed stream is cut short or corrupt ({exc})") from exc

    def close(self) -> None:
        self.gz.close()
        super().close()


def decompressed(raw: IO[bytes]) -> IO[bytes]:
    """A peekable reader of the stream, or of its gzip content (one member or many, by magic bytes)."""
    if isinstance(raw, _GuardedGzip):
        return raw
    buffered = raw if hasattr(raw, "peek") else io.BufferedReader(raw)  # type: ignore[arg-type]
    if buffered.peek(2)[:2] == GZIP_MAGIC:
        return _GuardedGzip(gzip.GzipFile(fileobj=buffered, mode="rb"))
    return buffered


def _lines(stream: IO[bytes], chunk_size: int = 1 << 16) -> Iterator[bytes]:
    """The lines of a binary stream, read in chunks (a line is yielded before a later chunk fails)."""
    rest = b""
    while chunk := stream.read(chunk_size):
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        yield from lines
    if rest:
        yield rest


# ---------------------------------------------------------------------------------------------
# WARC / WET


def read_warc(stream: IO[bytes], source: str) -> Iterator[Record]:
    """Yield the document records of a WARC, WET or WAT stream (plain or gzipped, any member layout)."""
    stream = decompressed(stream)
    head = stream.peek(SNIFF_BYTES)[:SNIFF_BYTES].lstrip()  # type: ignore[attr-defined]
    if head and not head.startswith(ARCHIVE_STARTS):
        # warcio would take any line of five words for an ARC header and read garbage as records
        start = head[:40].decode("utf-8", "replace")
        raise ReaderError(f"{source}: not a WARC/WET file, or a fragment without its first record "
                          f"header (it must start with 'WARC/'): starts with {start!r}")
    ordinal = 0
    try:
        for warc_record in ArchiveIterator(stream):
            if warc_record.rec_type not in WARC_DOCUMENT_TYPES:
                continue
            yield _warc_document(warc_record, source, ordinal)
            ordinal += 1
    except ArchiveLoadFailed as exc:
        if ordinal == 0:
            raise ReaderError(f"{source}: not a WARC/WET file, or a fragment without its first record "
                              f"header (it must start with 'WARC/'): {_first_line(str(exc))}") from exc
        raise ReaderError(f"{source}: damaged after record {ordinal}: {_first_line(str(exc))}") from exc
    except CutStreamError as exc:
        # warcio reads ahead (16 KB), so the last complete records before a cut can go with it.
        raise ReaderError(f"{source}: {exc}; {ordinal} records were read before it") from exc


def _warc_document(warc_record, source: str, ordinal: int) -> Record:
    """One WARC record -> Record (payload read whole; a payload shorter than declared is truncated)."""
    headers = warc_record.rec_headers
    http = warc_record.http_headers
    data = warc_record.content_stream().read()
    # raw_stream is warcio's LimitReader over Content-Length: bytes left unread mean the file ended
    # inside the record.
    truncated = getattr(warc_record.raw_stream, "limit", 0) > 0
    if truncated:
        log.warning("%s: record %d (%s) is truncated", source, ordinal, headers.get_header("WARC-Target-URI"))
    rec_type = warc_record.rec_type
    if http is not None:
        declared = http.get_header("Content-Type")
        status = _int_or_none(http.get_statuscode())
    else:
        declared = headers.get_header("Content-Type")
        status = None
    return Record(
        id=record_id(source, ordinal), source=source, ordinal=ordinal,
        data=None if rec_type == "revisit" else data,
        url=headers.get_header("WARC-Target-URI"),
        content_type=_page_kind(declared, rec_type),
        mime=(declared or "").split(";")[0].strip().lower() or None,
        charset=charset_from_content_type(declared),
        fetched=headers.get_header("WARC-Date"),
        record_type=rec_type, http_status=status,
        warc_record_id=headers.get_header("WARC-Record-ID"),
        refers_to=headers.get_header("WARC-Refers-To-Target-URI") if rec_type == "revisit" else None,
        truncated=truncated,
    )


def _page_kind(declared: str | None, rec_type: str) -> str | None:
    """'text' for WET conversions, 'html' for HTML payloads, 'text' for text/plain, else None (sniff)."""
    if rec_type == "conversion":
        return TEXT
    mime = (declared or "").split(";")[0].strip().lower()
    if mime in ("text/html", "application/xhtml+xml"):
        return HTML
    if mime == "text/plain":
        return TEXT
    return None


# ---------------------------------------------------------------------------------------------
# JSONL and folders


def read_jsonl(stream: IO[bytes], source: str) -> Iterator[Record]:
    """Yield one Record per JSON line (``id``, ``url``, ``text`` or ``html``); blank lines are ignored.

    A line that is not valid JSON is yielded as a truncated record (the pipeline skips and counts
    it), so one bad line does not end the file.
    """
    ordinal = 0
    try:
        for lineno, line in enumerate(_lines(decompressed(stream)), 1):
            if not line.strip():
                continue
            yield _jsonl_document(line, source, ordinal, lineno)
            ordinal += 1
    except CutStreamError as exc:
        raise ReaderError(f"{source}: {exc}, after record {ordinal}") from exc


def _jsonl_document(line: bytes, source: str, ordinal: int, lineno: int) -> Record:
    try:
        obj = json.loads(line)
    except ValueError:
        obj = None
    if not isinstance(obj, dict):
        log.warning("%s: line %d is not a JSON object", source, lineno)
        return Record(record_id(source, ordinal), source, ordinal, None, truncated=True, record_type="jsonl")
    if obj.get("html") is not None:
        data, kind = obj["html"], HTML
    else:
        data, kind = obj.get("text"), TEXT if obj.get("text") is not None else None
    ident = obj.get("id")
    return Record(
        id=str(ident) if ident is not None else record_id(source, ordinal), source=source,
        ordinal=ordinal, data=data if isinstance(data, str) else None, url=obj.get("url"),
        content_type=kind, fetched=obj.get("fetched"), record_type="jsonl")


def read_folder(folder: str) -> Iterator[Record]:
    """Yield every ``.txt``/``.html``/``.htm`` file below ``folder`` in sorted relative-path order."""
    paths = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        paths.extend(os.path.join(root, name) for name in files
                     if os.path.splitext(name)[1].lower() in FOLDER_EXTENSIONS)
    for ordinal, path in enumerate(sorted(paths)):
        with open(path, "rb") as handle:
            data = handle.read()
        rel = os.path.relpath(path, folder)
        yield Record(id=record_id(folder, ordinal), source=folder, ordinal=ordinal, data=data,
                     url=rel, content_type=FOLDER_EXTENSIONS[os.path.splitext(path)[1].lower()],
                     record_type="file")


# ---------------------------------------------------------------------------------------------
# dispatch


def read_input(uri: str) -> Iterator[Record]:
    """Yield the records of one input of any supported kind: folder, JSONL, or WARC/WET/WAT."""
    if os.path.isdir(uri):
        yield from read_folder(uri)
        return
    with open_input(uri) as raw:
        stream = decompressed(raw)
        if _looks_like_jsonl(uri, stream):
            yield from read_jsonl(stream, uri)
        else:
            yield from read_warc(stream, uri)


def read_inputs(uris: Iterable[str], errors: list[str] | None = None) -> Iterator[Record]:
    """Yield the records of every input in order; an unreadable input is logged and appended to
    ``errors`` (when given, else re-raised) and the next input is read."""
    for uri in uris:
        try:
            yield from read_input(uri)
        except ReaderError as exc:
            if errors is None:
                raise
            log.error("%s", exc)
            errors.append(str(exc))


def _looks_like_jsonl(uri: str, stream: IO[bytes]) -> bool:
    name = uri.lower()
    if name.endswith(JSONL_SUFFIXES):
        return True
    if ".warc" in name or ".wet" in name or ".wat" in name or ".arc" in name:
        return False
    head = stream.peek(SNIFF_BYTES)[:SNIFF_BYTES]  # type: ignore[attr-defined]
    return head.lstrip().startswith(b"{")


def _first_line(message: str) -> str:
    """warcio's message, shortened: it quotes the whole first line, which can be a page of text."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    text = " ".join(lines[:2]) if lines else "unknown format"
    return text if len(text) <= ERROR_CHARS else text[:ERROR_CHARS] + "..."


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
