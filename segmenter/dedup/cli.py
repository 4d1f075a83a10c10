"""``segmenter dedup IN.jsonl``: cluster a JSONL collection, or add it to a persistent store.

Input lines: JSON objects with ``id`` and ``text`` (optional ``url``, ``source``, ``title``,
``seen``). Output (stdout or ``--out``), one line per document, in input order:
``{"id", "cluster", "similarity"}`` (cluster = id of the cluster's first document), or with
``--store PATH`` ``{"id", "story", "similarity", "is_new"}`` after adding to the store.
Bad lines (invalid JSON, missing fields, duplicate ids) are skipped and counted on stderr;
``--strict`` makes the first one an error (exit 2).
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from typing import TextIO

from .config import DedupConfig
from .document import Document

TUNABLE = (("ngram", int), ("num_perm", int), ("seed", int), ("threshold", float),
           ("containment", float), ("min_tokens", int))


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``dedup`` command."""
    p = subparsers.add_parser("dedup", help="merge near-duplicate texts of a JSONL file into stories",
                              description="Merge near-duplicate texts of a JSONL file into stories, "
                                          "or add them to a persistent story store.")
    p.add_argument("input", nargs="?", help="JSONL file with id and text per line ('-' for stdin)")
    p.add_argument("--out", help="write results here instead of stdout")
    p.add_argument("--store", help="add the documents to this SQLite story store")
    p.add_argument("--expire-before", metavar="TIME",
                   help="with --store: then remove documents not seen since TIME (ISO-8601)")
    p.add_argument("--strict", action="store_true", help="stop at the first bad line (exit 2)")
    for name, kind in TUNABLE:
        p.add_argument("--" + name.replace("_", "-"), type=kind, default=None,
                       help=f"DedupConfig.{name} (default {getattr(DedupConfig(), name)})")
    p.add_argument("--exact", action="store_true", default=None,
                   help="verify candidates on shingle sets instead of signatures (DedupConfig.exact)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``segmenter dedup``."""
    from segmenter.cli import CLIError

    try:
        config = _config(args)
    except ValueError as exc:
        raise CLIError(str(exc)) from exc
    if args.expire_before and not args.store:
        raise CLIError("--expire-before needs --store")
    if args.input is None:
        if not args.expire_before:
            raise CLIError("give an input file (or --store PATH --expire-before TIME)")
        return _expire(args.store, config, args.expire_before, CLIError)
    with ExitStack() as stack:
        source = sys.stdin if args.input == "-" else _open(stack, args.input, "r", CLIError)
        reader = Reader(source, strict=args.strict)
        out = _open(stack, args.out, "w", CLIError) if args.out else sys.stdout
        try:
            # the store path streams (batch by batch); clustering needs the whole collection
            rows = _store_rows(reader, config, args.store, CLIError) if args.store \
                else _cluster_rows(list(reader), config)
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        except ValueError as exc:  # --strict: the first bad line
            raise CLIError(str(exc)) from exc
    reader.report()
    return _expire(args.store, config, args.expire_before, CLIError) if args.expire_before else 0


def _config(args: argparse.Namespace) -> DedupConfig | None:
    given = {name: getattr(args, name) for name, _ in TUNABLE if getattr(args, name) is not None}
    if args.exact:
        given["exact"] = True
    if args.store and not given:
        return None  # an existing store's own config, or the default for a new one
    return DedupConfig(**given)


def _open(stack: ExitStack, path: str, mode: str, error: type[Exception]) -> TextIO:
    try:
        return stack.enter_context(open(path, mode, encoding="utf-8", errors="replace"))
    except OSError as exc:
        raise error(f"cannot open {path}: {exc.strerror}") from exc


def _cluster_rows(docs: list[Document], config: DedupConfig | None) -> Iterator[dict]:
    from .cluster import cluster

    for item in cluster(docs, config):
        yield {"id": item.id, "cluster": item.cluster, "similarity": item.similarity}


def _store_rows(docs: Iterable[Document], config: DedupConfig | None, path: str,
                error: type[Exception]) -> Iterator[dict]:
    import sqlite3

    from .index import ADD_BATCH, StoryIndex
    from .store import ConfigMismatch

    try:
        index = StoryIndex.open(path, config)
    except (ConfigMismatch, sqlite3.DatabaseError) as exc:
        raise error(f"store {path}: {exc}") from exc
    with index:
        for batch in _batches(docs, ADD_BATCH):
            for doc, res in zip(batch, index.add_many(batch), strict=True):
                yield {"id": doc.id, "story": res.story_id, "similarity": res.similarity,
                       "is_new": res.is_new}


def _batches(items: Iterable[Document], size: int) -> Iterator[list[Document]]:
    batch: list[Document] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _expire(path: str, config: DedupConfig | None, before: str, error: type[Exception]) -> int:
    import sqlite3

    from .index import StoryIndex
    from .store import ConfigMismatch

    try:
        with StoryIndex.open(path, config) as index:
            removed = index.expire(before)
    except (ConfigMismatch, sqlite3.DatabaseError, ValueError) as exc:
        raise error(f"store {path}: {exc}") from exc
    print(f"segmenter dedup: expired {removed} document(s) not seen since {before}", file=sys.stderr)
    return 0


class Reader:
    """Documents from JSONL lines; bad lines are counted (or raise ValueError when strict)."""

    def __init__(self, lines: TextIO, strict: bool = False) -> None:
        self.lines = lines
        self.strict = strict
        self.kept = 0
        self.skipped = 0
        self.first_problem: str | None = None

    def __iter__(self) -> Iterator[Document]:
        seen: set[str] = set()
        for number, line in enumerate(self.lines, 1):
            if not line.strip():
                continue
            try:
                doc = Document.from_dict(_json(line))
                if doc.id in seen:
                    raise ValueError(f"duplicate id {doc.id!r}")
            except ValueError as exc:  # json.JSONDecodeError is a ValueError
                self._skip(f"line {number}: {_short(exc)}")
                continue
            seen.add(doc.id)
            self.kept += 1
            yield doc

    def _skip(self, problem: str) -> None:
        if self.strict:
            raise ValueError(problem)
        self.skipped += 1
        self.first_problem = self.first_problem or problem

    def report(self) -> None:
        """One line on stderr when lines were skipped."""
        if self.skipped:
            print(f"segmenter dedup: {self.kept} documents, skipped {self.skipped} bad line(s) "
                  f"(first: {self.first_problem})", file=sys.stderr)


def _json(line: str) -> object:
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"bad JSON ({exc.msg} at column {exc.colno})") from exc
    except RecursionError as exc:
        raise ValueError("bad JSON (nested too deeply)") from exc


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]
