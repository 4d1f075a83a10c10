"""The pure middle of every batch job: one ``Record`` in, one output row out.

``process_record`` is the function the local pipeline's workers and the Spark job's ``mapPartitions``
both call, so that the two give identical articles. A row is a plain JSON-ready dict:

    id, url, source, ordinal, status ("ok" | "skipped" | "failed"), reason, kind, title, body,
    teasers [{headline, blurb}], story_id (filled in by the dedup stage), and, when dedup is on,
    ``signature`` (the MinHash of the body, base64) and ``shingles`` (its shingle count), both
    dropped from the final output.

Status rules: a record is *skipped* when there is nothing to segment (revisit, truncated, empty,
HTTP status not 2xx, a payload that is neither HTML nor text); *failed* when segmentation raised
or ran over the per-document time limit; else *ok* (an index page with no body is ok, with no story).
"""
from __future__ import annotations

import base64
import functools
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from segmenter.alarm import can_interrupt, interrupt_after
from segmenter.batch.readers import Record
from segmenter.engine import segment
from segmenter.page import Page

OK, SKIPPED, FAILED = "ok", "skipped", "failed"
# Rows keep at most this much of an error message: enough to group failures, never a whole page.
MAX_REASON_CHARS = 200


class DocumentTimeout(Exception):
    """One document ran over the per-document time limit."""


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise DocumentTimeout in the block after ``seconds`` (SIGALRM; main thread only, else no limit).

    A signal is the one way to stop pure-Python work from outside without a thread per document;
    it interrupts between bytecodes, so a long call inside a C extension ends when it returns.
    """
    if not seconds or not can_interrupt():
        yield
        return
    with interrupt_after(seconds, lambda: DocumentTimeout(f"over the {seconds:g}s time limit")):
        yield


@functools.lru_cache(maxsize=1)  # once per process (a fork inherits the limit with the cache)
def one_thread_per_process() -> None:
    """Limit BLAS/OpenMP pools (the gradient-boosting predictor's) to one thread in this process.

    Batch jobs run one process per core; on a page of ~150 blocks, an OpenMP team per prediction
    costs more than it saves (measured on news-181 HTML: 35 ms a page with 1 thread, 133 ms with
    2 on a busy 2-core machine), and two processes each starting a team per core oversubscribe.
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def skip_reason(record: Record) -> str | None:
    """Why a record has nothing to segment, or None when it has."""
    if record.truncated:
        return "truncated record" if record.data is not None else "unreadable record"
    if record.record_type == "revisit":
        return f"revisit of {record.refers_to or record.url}"
    if record.http_status is not None and not 200 <= record.http_status < 300:
        return f"http status {record.http_status}"
    if record.mime and record.content_type is None:
        return f"unsupported content type {record.mime}"
    if not record.data or not (record.data.strip() if isinstance(record.data, (str, bytes)) else True):
        return "empty payload"
    return None


def base_row(record: Record) -> dict:
    """The fields every row has, whatever became of the record."""
    return {"id": record.id, "url": record.url, "source": record.source, "ordinal": record.ordinal,
            "status": None, "reason": None, "kind": None, "title": None, "body": None,
            "teasers": [], "story_id": None}


def process_record(record: Record, signer=None, timeout: float | None = None) -> dict:
    """Segment one record (and sign its body when ``signer`` is given) into an output row.

    ``signer(text) -> (signature bytes, shingle count)`` is the dedup stage's signature function
    (``stories.Signer``);
    ``timeout`` is the per-document limit in seconds. Never raises for a bad document.
    """
    row = segment_record(record, timeout)
    if signer is not None and row["body"]:
        sign_rows([row], signer)
    return row


def segment_record(record: Record, timeout: float | None = None) -> dict:
    """The row of one record, segmented but not signed (``process_record`` without the signature)."""
    row = base_row(record)
    reason = skip_reason(record)
    if reason:
        row.update(status=SKIPPED, reason=reason)
        return row
    try:
        with time_limit(timeout):
            page = Page.from_input(record.data, record.content_type, record.charset, record.url,
                                   record.source, record.fetched)
            result = segment(page).to_dict(include_blocks=False)
    except DocumentTimeout as exc:
        row.update(status=FAILED, reason=str(exc))
        return row
    except Exception as exc:  # noqa: BLE001 - one bad page must not end a batch; the row says why
        row.update(status=FAILED, reason=f"{type(exc).__name__}: {exc}"[:MAX_REASON_CHARS])
        return row
    row.update(status=OK, kind=result["kind"], title=result["title"], body=result["body"],
               teasers=result["teasers"])
    return row


def sign_rows(rows: list[dict], signer) -> None:
    """Add ``signature`` and ``shingles`` to the rows with a body, signing their bodies together.

    MinHash of one text pays numpy's per-call costs for every step (~0.25 ms a news article); a
    batch of them shares those costs (~0.1 ms each), and each signature is the same either way.
    A row whose signing fails is marked failed, as it was when signing ran per record.
    """
    signed = [row for row in rows if row["body"]]
    if not signed:
        return
    try:
        signatures = signer.sign_many([row["body"] for row in signed])
    except Exception:  # noqa: BLE001 - find the one text that fails, the others keep their signature
        for row in signed:
            try:
                _set_signature(row, signer(row["body"]))
            except Exception as exc:  # noqa: BLE001
                row.update(status=FAILED, reason=f"{type(exc).__name__}: {exc}"[:MAX_REASON_CHARS],
                           kind=None, title=None, body=None, teasers=[])
        return
    for row, signature in zip(signed, signatures, strict=True):
        _set_signature(row, signature)


def _set_signature(row: dict, signature: tuple[bytes, int]) -> None:
    row["signature"] = base64.b64encode(signature[0]).decode("ascii")
    row["shingles"] = signature[1]


def process_records(records: Iterable[Record], signer=None, timeout: float | None = None,
                    sign_batch: int = 8) -> Iterator[dict]:
    """``process_record`` over a stream (what a worker batch runs): rows in input order, the same
    rows as ``process_record`` gives, with up to ``sign_batch`` bodies signed at once."""
    one_thread_per_process()
    pending: list[dict] = []
    for record in records:
        pending.append(segment_record(record, timeout))
        if len(pending) >= sign_batch:
            if signer is not None:
                sign_rows(pending, signer)
            yield from pending
            pending = []
    if signer is not None:
        sign_rows(pending, signer)
    yield from pending
