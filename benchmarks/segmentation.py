"""Segmentation benchmark: body quality, teasers, titles and speed on the held-out pages, one run.

    python benchmarks/segmentation.py                  # everything, held-out pages (data/split.json)
    python benchmarks/segmentation.py --quick          # 10 pages per set, a smoke run
    python benchmarks/segmentation.py --only baselines # or text, html; repeatable
    python benchmarks/segmentation.py --json out.json  # also save the figures
    python benchmarks/segmentation.py --model /tmp/m   # a model `segmenter train --out /tmp/m` wrote

Sets: the evaluation pages of ``scrapinghub`` and ``l3s-gn1`` in ``data/split.json`` (split by site,
written by training; all pages when the file is missing, with a warning). Body quality is the
article-extraction-benchmark metric from ``../shared/eval/score.py`` (word 4-gram shingle
precision/recall averaged over pages, then F1), imported by path so that figures stay comparable
with the reference ones in ``../shared/README.md``.

Systems, on the same pages:
- ``segmenter text``: ``segment(text_dump, content_type="text").body`` (the WET-style dump);
- ``segmenter html``: ``segment(html, content_type="html").body``;
- ``trafilatura`` (default settings) and ``trafilatura favor_precision``: ``trafilatura.extract(html)``;
- ``readability-lxml``: ``Document(html).summary()`` turned into text (block elements end a line);
- ``whole dump``: the whole text dump taken as the body (the floor any system must beat);
- ``html blocks (all)``: the text of every block ``segmenter.html.html_blocks`` makes, taken as the
  body: the HTML twin of ``whole dump``, and the speed of the block stage alone.

HTML is decoded once per page (``segmenter.page.decode_bytes``: BOM, meta charset as browsers read
it, UTF-8, cp1252) and every HTML system gets the same string; pages/s counts only the system's own call, one page at
a time, in CPU seconds of this process (``time.process_time``), after one untimed warm-up call
(model loading and lazy imports are start-up costs, not per-page ones), so that other jobs on a shared
machine disturb it less than wall time would; each page is timed three times and its fastest time
counts (``--repeat``), for every system alike. A system that raises on a page gets an empty body
for it (counted in ``errors``); ``NotImplementedError`` on the first page marks the system "not
available".

Teasers: on the hand-labelled pages of ``scrapinghub/labels.jsonl`` that are held out, a line is a
teaser when labelled ``teaser_headline`` or ``teaser_blurb``; our labels come from segmenting the
page's text dump, matched to the labelled lines by line index (through the line's offset, so that a
line cut into several blocks still matches); precision/recall/F1 are pooled over lines. A second
row segments the same pages' HTML: a labelled line takes the next unused HTML block of the same text
(whitespace folded), and a line with no such block counts as not a teaser to us (a teaser line it
misses is a false negative). The same lines measure the confidences: accuracy of all five labels,
the mean confidence, and the expected calibration error (ECE: the line-weighted gap between mean
confidence and accuracy in ten confidence bins; 0 when "0.8" is right 80% of the time).

Titles: on the held-out pages with a person's title (L3S-GN1: the first block its annotators marked
``headline``; scrapinghub: the labelled pages' ``title`` line), the share whose ``segment().title``
is the same text once whitespace is folded (``same_title``), from the text dump and from the HTML;
and trafilatura's metadata title (``extract_metadata(html).title``) and readability-lxml's
``short_title()`` on the same pages.

Intervals: a second table resamples the pages of each set with replacement (2,000 draws, seeded) and
gives the 95% percentile interval of each of our F1s, and of its difference from trafilatura's on the
same draws (paired), with the share of draws where ours is ahead; the teaser F1 gets an interval
the same way over its labelled pages. They show which gaps the page sample can tell apart.
"""
from __future__ import annotations

import argparse
import gc
import gzip
import importlib.util
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np

from segmenter import segment
from segmenter.blocks import text_blocks
from segmenter.html import html_blocks
from segmenter.model import CompiledModel
from segmenter.page import decode_bytes

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = REPO.parent / "shared"
DEFAULT_SPLIT = REPO / "data" / "split.json"
SETS = ("scrapinghub", "l3s-gn1")
GROUPS = ("text", "html", "baselines")
# Enough pages to catch a broken system in a few seconds, not to rank systems.
QUICK_PAGES = 10
TEASER_LABELS = frozenset({"teaser_headline", "teaser_blurb"})
CALIBRATION_BINS = 10
# Elements after which readability's summary text starts a new line (else words would glue).
_SUMMARY_BLOCK_TAGS = ("p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "pre",
                       "blockquote", "figcaption", "dd", "dt", "section", "article", "table")


@dataclass(frozen=True)
class EvalPage:
    """One held-out page: its HTML (decoded), its WET-style dump and its true body."""

    id: str
    corpus: str
    html: str
    text_dump: str
    truth: str


@dataclass
class SystemResult:
    """Scores and speed of one system on one set."""

    system: str
    corpus: str
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    pages: int = 0
    seconds: float = 0.0
    errors: int = 0
    note: str = ""
    page_counts: list[tuple[float, float, float]] = field(default_factory=list, repr=False)  # score.py's, per page

    @property
    def pages_per_second(self) -> float | None:
        return self.pages / self.seconds if self.seconds > 0 else None


@dataclass
class TeaserResult:
    """Teaser-line precision/recall/F1 pooled over the labelled held-out pages, and how well the
    confidences of all their lines' labels are calibrated."""

    source: str = "text"
    pages: int = 0
    lines: int = 0
    matched_lines: int = 0  # labelled lines we have a block for (all, from a text dump)
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0
    seconds: float = 0.0
    note: str = ""
    per_page: list[dict] = field(default_factory=list)
    confidences: list[float] = field(default_factory=list)  # per labelled line: our label's confidence
    correct: list[bool] = field(default_factory=list)  # and whether our label is the person's

    @property
    def accuracy(self) -> float:
        return sum(self.correct) / len(self.correct) if self.correct else 0.0

    @property
    def calibration_error(self) -> float:
        """Expected calibration error over ten equal-width confidence bins."""
        bins: dict[int, list[tuple[float, bool]]] = {}
        for confidence, correct in zip(self.confidences, self.correct, strict=True):
            bins.setdefault(min(int(confidence * CALIBRATION_BINS), CALIBRATION_BINS - 1), []).append(
                (confidence, correct))
        gap = sum(abs(sum(c for c, _ in members) - sum(ok for _, ok in members)) for members in bins.values())
        return gap / len(self.correct) if self.correct else 0.0

    @property
    def precision(self) -> float:
        predicted = self.true_positives + self.false_positives
        return self.true_positives / predicted if predicted else 0.0

    @property
    def recall(self) -> float:
        actual = self.true_positives + self.false_negatives
        return self.true_positives / actual if actual else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


# --- inputs ---------------------------------------------------------------------------------------

def load_scorer(shared: Path) -> ModuleType:
    """Import ``shared/eval/score.py`` by path (it is not a package)."""
    path = shared / "eval" / "score.py"
    spec = importlib.util.spec_from_file_location("shared_eval_score", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot import the scorer at {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_split(path: Path) -> dict | None:
    """The train/eval split written by training, or None (then every page is evaluated)."""
    if not path.exists():
        print(f"warning: {path} not found: evaluating ALL pages (training pages included)", file=sys.stderr)
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def eval_ids(split: dict | None, corpus: str) -> set[str] | None:
    """Held-out page ids of ``corpus``, or None for all pages."""
    if split is None:
        return None
    if corpus not in split or "eval" not in split[corpus]:
        raise SystemExit(f"split has no eval pages for {corpus}")
    return set(split[corpus]["eval"])


def read_pages_jsonl(shared: Path, corpus: str) -> list[dict]:
    with gzip.open(shared / "corpora" / "segmentation" / corpus / "pages.jsonl.gz", "rt",
                   encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def read_html(shared: Path, corpus: str, row: dict) -> str:
    """A page's HTML, decoded (``decode_bytes``: as every HTML system gets it)."""
    raw = gzip.open(shared / "corpora" / "segmentation" / corpus / row["html_path"]).read()
    return decode_bytes(raw)[0]


def load_pages(shared: Path, corpus: str, ids: set[str] | None, limit: int | None) -> list[EvalPage]:
    """The held-out pages of one set, in file order, at most ``limit``."""
    pages = []
    for row in read_pages_jsonl(shared, corpus):
        if ids is not None and row["id"] not in ids:
            continue
        pages.append(EvalPage(row["id"], corpus, read_html(shared, corpus, row), row["text_dump"], row["truth_body"]))
        if limit is not None and len(pages) >= limit:
            break
    return pages


# --- systems --------------------------------------------------------------------------------------

# The model our rows use: None for the shipped one, or the one given with --model.
MODEL: CompiledModel | None = None


def segmenter_text(page: EvalPage) -> str:
    return segment(page.text_dump, content_type="text", model=MODEL).body


def segmenter_html(page: EvalPage) -> str:
    return segment(page.html, content_type="html", model=MODEL).body


def trafilatura_default(page: EvalPage) -> str:
    import trafilatura
    return trafilatura.extract(page.html) or ""


def trafilatura_precision(page: EvalPage) -> str:
    import trafilatura
    return trafilatura.extract(page.html, favor_precision=True) or ""


def readability_lxml(page: EvalPage) -> str:
    from readability import Document
    return summary_text(Document(page.html).summary())


def summary_text(fragment: str) -> str:
    """Readability's summary HTML as text, a line per block element."""
    import lxml.html
    if not fragment.strip():
        return ""
    root = lxml.html.fromstring(fragment)
    for element in root.iter(*_SUMMARY_BLOCK_TAGS):
        element.tail = "\n" + (element.tail or "")
    return root.text_content()


def whole_dump(page: EvalPage) -> str:
    return page.text_dump


def html_blocks_text(page: EvalPage) -> str:
    return "\n".join(block.text for block in html_blocks(page.html))


Extractor = Callable[[EvalPage], str]
# (name, group for --only, function); the order is the table's.
SYSTEMS: tuple[tuple[str, str, Extractor], ...] = (
    ("segmenter text", "text", segmenter_text),
    ("segmenter html", "html", segmenter_html),
    ("trafilatura", "baselines", trafilatura_default),
    ("trafilatura favor_precision", "baselines", trafilatura_precision),
    ("readability-lxml", "baselines", readability_lxml),
    ("whole dump", "baselines", whole_dump),
    ("html blocks (all)", "html", html_blocks_text),
)


def run_system(name: str, extract: Extractor, pages: list[EvalPage], scorer: ModuleType,
               repeats: int = 1) -> SystemResult:
    """Extract every page's body with one system, time it, score it against the truth.

    With ``repeats`` > 1 every page is extracted that many times and its fastest time counts (as
    ``timeit`` does: a shared machine's noise only ever adds time); the scores are the first pass's.
    """
    result = SystemResult(name, pages[0].corpus if pages else "")
    pairs = []
    if pages:  # warm-up, untimed: loading a model or a lazy import is not a per-page cost
        try:
            extract(pages[0])
        except Exception:  # the timed loop below records the failure
            pass
    # The pages and loaded models are long-lived, as in the server and the batch workers, which
    # freeze them after start-up: a full garbage collection walking them is not a per-page cost.
    # Done alike for every system.
    gc.collect()
    gc.freeze()
    for index, page in enumerate(pages):
        fastest = float("inf")
        for attempt in range(max(repeats, 1)):
            started = time.process_time()
            try:
                output = extract(page)
            except NotImplementedError as error:
                if index == 0:
                    result.note = f"not available: {error}"
                    return result
                output, failed = "", True
            except Exception:  # a baseline failing on one page must not end the run
                output, failed = "", True
            else:
                failed = False
            fastest = min(fastest, time.process_time() - started)
            if attempt == 0:
                body, result.errors = output, result.errors + failed
        result.seconds += fastest
        pairs.append((page.truth, body))
    scores = scorer.segmentation_scores(pairs)
    result.precision, result.recall, result.f1 = scores["precision"], scores["recall"], scores["f1"]
    result.pages = len(pairs)
    result.page_counts = [scorer.page_counts(truth, body) for truth, body in pairs]
    if pairs and abs(f1_of_counts(result.page_counts) - result.f1) > 1e-12:
        raise RuntimeError("f1_of_counts no longer matches shared/eval/score.py's segmentation_scores")
    return result


# --- how far the figures can move: a bootstrap over pages ----------------------------------------

# The held-out sets are 64 and 196 pages and the teaser set 12: a page more or less of one kind moves
# a figure by more than some gaps between systems. Resampling the pages (with replacement, the same
# draws for every system, so that differences are paired) shows by how much.
BOOTSTRAP_DRAWS = 2000
BOOTSTRAP_SEED = 7


def f1_of_counts(counts: list[tuple[float, float, float]]) -> float:
    """F1 from score.py's per-page (tp, fp, fn) shares, as its ``segmentation_scores`` computes it:
    precision and recall averaged over the pages where each is defined, then their harmonic mean."""
    precisions = [1.0 if fp == fn == 0 else tp / (tp + fp) for tp, fp, fn in counts if tp + fp > 0 or fn == 0]
    recalls = [1.0 if fp == fn == 0 else tp / (tp + fn) for tp, fp, fn in counts if tp + fn > 0 or fp == 0]
    p = sum(precisions) / len(precisions) if precisions else 0.0
    r = sum(recalls) / len(recalls) if recalls else 0.0
    return 2 * p * r / (p + r) if p + r else 0.0


def bootstrap_draws(n_pages: int, draws: int = BOOTSTRAP_DRAWS, seed: int = BOOTSTRAP_SEED) -> np.ndarray:
    """``draws`` resamples of page indices, one per row."""
    return np.random.default_rng(seed).integers(0, n_pages, size=(draws, n_pages))


def interval(values: np.ndarray | list[float], level: float = 0.95) -> tuple[float, float]:
    """The central ``level`` share of the bootstrap values (a percentile interval)."""
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_f1(counts: list[tuple[float, float, float]], draws: np.ndarray) -> np.ndarray:
    return np.array([f1_of_counts([counts[i] for i in draw]) for draw in draws])


def teaser_f1_draws(per_page: list[dict], draws: np.ndarray) -> np.ndarray:
    """Pooled teaser-line F1 of each resample of the labelled pages."""
    tp, fp, fn = (np.array([page[key] for page in per_page]) for key in ("tp", "fp", "fn"))
    sums = [(tp[d].sum(), fp[d].sum(), fn[d].sum()) for d in draws]
    return np.array([2 * t / (2 * t + p + n) if t else 0.0 for t, p, n in sums])


# --- teasers --------------------------------------------------------------------------------------

def read_labels(shared: Path) -> list[dict]:
    path = shared / "corpora" / "segmentation" / "scrapinghub" / "labels.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def teaser_scores(shared: Path, ids: set[str] | None, limit: int | None, source: str = "text") -> TeaserResult:
    """Teaser-line P/R/F1 of ``segment()`` on the held-out labelled pages, given their text dump
    (``source="text"``) or their HTML (``"html"``)."""
    result = TeaserResult(source=source)
    rows = {row["id"]: row for row in read_pages_jsonl(shared, "scrapinghub")}
    labelled = [page for page in read_labels(shared) if ids is None or page["id"] in ids]
    if not labelled:
        result.note = "no held-out labelled pages"
        return result
    for page in labelled[:limit]:
        row = rows[page["id"]]
        given = read_html(shared, "scrapinghub", row) if source == "html" else row["text_dump"]
        started = time.process_time()
        try:
            blocks = segment(given, content_type=source, model=MODEL).blocks
        except NotImplementedError as error:
            result.note = f"not available: {error}"
            return result
        result.seconds += time.process_time() - started
        matched = lines_by_offset(page, given, blocks) if source == "text" else lines_by_text(page, blocks)
        _count_teasers(result, page, matched)
    return result


def lines_by_offset(page: dict, dump: str, blocks: list) -> list:
    """Our block for each labelled line of a text dump (line i is ``text_blocks(dump)[i]``), or None."""
    at = {block.start: block for block in blocks}
    lines = text_blocks(dump)
    return [at.get(lines[labelled["i"]].start) for labelled in page["blocks"]]


def lines_by_text(page: dict, blocks: list) -> list:
    """Our HTML block for each labelled line: the next unused block of the same text (whitespace
    folded), or None when the HTML made no such block (the line then counts as not a teaser)."""
    queues: dict[str, list] = {}
    for block in blocks:
        queues.setdefault(" ".join(block.text.split()), []).append(block)
    matched = []
    for labelled in page["blocks"]:
        queue = queues.get(" ".join(labelled["text"].split()))
        matched.append(queue.pop(0) if queue else None)
    return matched


def _count_teasers(result: TeaserResult, page: dict, matched: list) -> None:
    """Add one page's teaser-line counts; ``matched`` holds our block for each labelled line, or None."""
    counts = {"tp": 0, "fp": 0, "fn": 0}
    for labelled, block in zip(page["blocks"], matched, strict=True):
        if block is not None:
            result.confidences.append(block.confidence)
            result.correct.append(block.label == labelled["label"])
        truth = labelled["label"] in TEASER_LABELS
        predicted = block is not None and block.label in TEASER_LABELS
        key = "tp" if truth and predicted else "fp" if predicted else "fn" if truth else None
        if key:
            counts[key] += 1
    result.pages += 1
    result.lines += len(page["blocks"])
    result.matched_lines += sum(block is not None for block in matched)
    result.true_positives += counts["tp"]
    result.false_positives += counts["fp"]
    result.false_negatives += counts["fn"]
    result.per_page.append({"id": page["id"], **counts})


# --- titles ---------------------------------------------------------------------------------------

def true_titles(shared: Path, corpus: str) -> dict[str, str]:
    """A person's title for each page that has one: L3S-GN1's first block its annotators marked
    ``headline``; the ``title`` line of the hand-labelled scrapinghub pages."""
    if corpus == "scrapinghub":
        return {page["id"]: block["text"] for page in read_labels(shared)
                for block in page["blocks"] if block["label"] == "title"}
    path = shared / "corpora" / "segmentation" / corpus / "blocks.jsonl.gz"
    titles = {}
    if path.exists():
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for row in map(json.loads, lines):
                headline = next((b["text"] for b in row["blocks"] if b["human_label"] == "headline"), None)
                if headline is not None:
                    titles[row["id"]] = headline
    return titles


def segmenter_text_title(page: EvalPage) -> str | None:
    return segment(page.text_dump, content_type="text", model=MODEL).title


def segmenter_html_title(page: EvalPage) -> str | None:
    return segment(page.html, content_type="html", model=MODEL).title


def trafilatura_title(page: EvalPage) -> str | None:
    from trafilatura import extract_metadata
    return extract_metadata(page.html).title


def readability_title(page: EvalPage) -> str | None:
    from readability import Document
    return Document(page.html).short_title()


# (name, group for --only, page -> title)
TITLE_SYSTEMS: tuple[tuple[str, str, Callable[[EvalPage], str | None]], ...] = (
    ("segmenter text", "text", segmenter_text_title),
    ("segmenter html", "html", segmenter_html_title),
    ("trafilatura metadata", "baselines", trafilatura_title),
    ("readability-lxml short_title", "baselines", readability_title),
)


def title_accuracy(pages: list[EvalPage], titles: dict[str, str], title_of: Callable[[EvalPage], str | None]
                   ) -> tuple[int, int]:
    """(right, pages): how many of the pages with a person's title get it from ``title_of``
    (``same_title``; a system that fails on a page gets it wrong)."""
    right = 0
    scored = [page for page in pages if page.id in titles]
    for page in scored:
        try:
            right += same_title(title_of(page), titles[page.id])
        except Exception:  # a baseline failing on one page must not end the run
            pass
    return right, len(scored)


def same_title(ours: str | None, truth: str) -> bool:
    """The same text once whitespace is folded. L3S-GN1's annotations lost every character beyond
    Latin-1 ("each other?s show" for "each other’s show"): against a title with a "?", ours is read
    with such characters as "?" too."""
    ours, truth = " ".join((ours or "").split()), " ".join(truth.split())
    if ours == truth:
        return True
    return "?" in truth and "".join(c if ord(c) < 256 else "?" for c in ours) == truth


# --- the table ------------------------------------------------------------------------------------

def _figure(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_table(results: list[SystemResult], teasers: list[TeaserResult]) -> str:
    """One markdown table: a row per system, P/R/F1 and pages/s per set; the teaser rows after."""
    corpora = [c for c in SETS if any(r.corpus == c for r in results)]
    header = ["system"] + [f"{c} {m}" for c in corpora for m in ("P", "R", "F1", "pages/s")]
    rows = []
    for name in dict.fromkeys(r.system for r in results):
        row = [name]
        for corpus in corpora:
            found = next((r for r in results if r.system == name and r.corpus == corpus), None)
            if found is None or found.note:
                row += ["n/a", "", "", ""]
                continue
            speed = "-" if name == "whole dump" else _figure(found.pages_per_second, 0)
            errors = f" ({found.errors} err)" if found.errors else ""
            row += [_figure(found.precision), _figure(found.recall), _figure(found.f1) + errors, speed]
        rows.append(row)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    pages = {c: next((r.pages for r in results if r.corpus == c and r.pages), 0) for c in corpora}
    lines.append("")
    lines.append("pages: " + ", ".join(f"{c} {n}" for c, n in pages.items()))
    notes = [f"{r.system} ({r.corpus}): {r.note}" for r in results if r.note]
    for teaser in teasers:
        lines.append("")
        lines.append(format_teasers(teaser))
    return "\n".join(lines + [f"note: {note}" for note in notes])


def format_teasers(teasers: TeaserResult) -> str:
    if teasers.note:
        return f"teaser lines (scrapinghub labelled, held out; segmenter {teasers.source}): {teasers.note}"
    speed = teasers.pages / teasers.seconds if teasers.seconds else None
    unmatched = teasers.lines - teasers.matched_lines
    missing = f", {unmatched} with no block of the same text (not teasers to us)" if unmatched else ""
    return (f"teaser lines (scrapinghub labelled, held out; segmenter {teasers.source}): P {teasers.precision:.3f} "
            f"R {teasers.recall:.3f} F1 {teasers.f1:.3f} on {teasers.pages} pages, {teasers.lines} lines{missing} "
            f"({teasers.true_positives + teasers.false_negatives} teaser lines); {_figure(speed, 0)} pages/s\n"
            f"block labels on the same lines: accuracy {teasers.accuracy:.3f}, mean confidence "
            f"{sum(teasers.confidences) / max(len(teasers.confidences), 1):.3f}, "
            f"calibration error (ECE) {teasers.calibration_error:.3f}")


def format_intervals(results: list[SystemResult], teasers: list[TeaserResult],
                     baseline: str = "trafilatura", draws: int = BOOTSTRAP_DRAWS) -> str:
    """Bootstrap intervals of our F1s, and of their differences from ``baseline`` on the same draws."""
    lines = [f"95% intervals, bootstrap over pages ({draws} draws; differences paired on the same draws):",
             f"| set | system | F1 | 95% interval | minus {baseline} | 95% interval | draws ahead |",
             "|---|---|---|---|---|---|---|"]
    for corpus in SETS:
        ours = [r for r in results if r.corpus == corpus and r.system.startswith("segmenter") and r.page_counts]
        if not ours:
            continue
        sample = bootstrap_draws(len(ours[0].page_counts), draws)
        other = next((r for r in results if r.corpus == corpus and r.system == baseline and r.page_counts), None)
        theirs = bootstrap_f1(other.page_counts, sample) if other else None
        for result in ours:
            f1s = bootstrap_f1(result.page_counts, sample)
            row = [corpus, result.system, _figure(result.f1), "{:.3f}-{:.3f}".format(*interval(f1s))]
            if theirs is None:
                row += ["-", "-", "-"]
            else:
                low, high = interval(f1s - theirs)
                row += [f"{result.f1 - other.f1:+.3f}", f"{low:+.3f} to {high:+.3f}", f"{np.mean(f1s > theirs):.0%}"]
            lines.append("| " + " | ".join(row) + " |")
    for teaser in teasers:
        if teaser.per_page:
            low, high = interval(teaser_f1_draws(teaser.per_page, bootstrap_draws(len(teaser.per_page), draws)))
            lines.append(f"teaser lines, segmenter {teaser.source}: F1 {teaser.f1:.3f}, 95% interval "
                         f"{low:.3f}-{high:.3f} ({len(teaser.per_page)} pages)")
    return "\n".join(lines)


# --- main -----------------------------------------------------------------------------------------

_STARTUP_PROBE = """
import sys, time
started = time.perf_counter()
import segmenter
imported = time.perf_counter()
from segmenter.model import default_model_path, default_pipeline_path, shipped_model
shipped_model()
loaded = time.perf_counter()
heavy = sorted({name.split(".")[0] for name in sys.modules} & {"sklearn", "scipy", "skops"})
print(imported - started, loaded - imported, default_model_path().stat().st_size,
      default_pipeline_path().stat().st_size, ",".join(heavy) or "none")
"""


def startup_costs() -> str:
    """Model file sizes, and import and load times in a fresh interpreter (what a new worker pays:
    ``import segmenter`` and ``shipped_model()``, the compiled model inference loads)."""
    import subprocess

    output = subprocess.run([sys.executable, "-c", _STARTUP_PROBE], capture_output=True, text=True,
                            check=True).stdout.split()
    import_s, load_s = float(output[0]), float(output[1])
    size, pipeline_size, heavy = int(output[2]), int(output[3]), output[4]
    return (f"shipped model: {size / 1e6:.2f} MB (model.npz; the scikit-learn Pipeline, model.skops: "
            f"{pipeline_size / 1e6:.1f} MB); fresh process: import segmenter {import_s:.2f} s, load model "
            f"{load_s:.3f} s (scikit-learn, scipy, skops imported: {heavy})")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_PAGES} pages per set")
    parser.add_argument("--only", action="append", choices=GROUPS,
                        help="run only these systems (repeatable); the teaser rows go with 'text' and 'html'")
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="the shared/ folder")
    parser.add_argument("--split", type=Path, default=DEFAULT_SPLIT, help="train/eval split JSON")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--model", type=Path, metavar="PATH",
                        help="a model.npz, or the folder `segmenter train --out` wrote (default: the shipped model)")
    parser.add_argument("--repeat", type=int, default=3, metavar="N",
                        help="time each page N times and count its fastest (default 3; 1 = one pass)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    global MODEL
    if args.model is not None:
        MODEL = CompiledModel.load(args.model / "model.npz" if args.model.is_dir() else args.model)
    groups = set(args.only or GROUPS)
    limit = QUICK_PAGES if args.quick else None
    scorer = load_scorer(args.shared)
    split = load_split(args.split)
    results: list[SystemResult] = []
    titles: list[dict] = []
    for corpus in SETS:
        pages = load_pages(args.shared, corpus, eval_ids(split, corpus), limit)
        for name, group, extract in SYSTEMS:
            if group in groups:
                results.append(run_system(name, extract, pages, scorer, args.repeat))
                results[-1].corpus = corpus
        truth = true_titles(args.shared, corpus)
        for name, group, title_of in TITLE_SYSTEMS:
            if group in groups:
                right, scored = title_accuracy(pages, truth, title_of)
                titles.append({"corpus": corpus, "system": name, "right": right, "pages": scored})
    teasers = [teaser_scores(args.shared, eval_ids(split, "scrapinghub"), limit, source)
               for source in ("text", "html") if source in groups]
    held_out = "held-out pages (data/split.json)" if split else "ALL pages (no split file)"
    model = f"model {args.model}" if args.model else "the shipped model"
    print(f"Segmentation benchmark on {held_out}, {model}; shingle-4 metric of shared/eval/score.py")
    print(format_table(results, teasers))
    if titles:
        print("\ntitles (a person's title of the held-out page, same_title): " + ", ".join(
            f"{t['corpus']} {t['system']} {t['right']}/{t['pages']} ({t['right'] / max(t['pages'], 1):.3f})"
            for t in titles))
    print()
    print(format_intervals(results, teasers))
    print(startup_costs())
    if args.json:
        payload = {"results": [asdict(r) | {"pages_per_second": r.pages_per_second} for r in results],
                   "teasers": [asdict(t) | {"precision": t.precision, "recall": t.recall, "f1": t.f1,
                                            "accuracy": t.accuracy, "calibration_error": t.calibration_error}
                               for t in teasers],
                   "titles": titles,
                   "split": str(args.split) if split else None, "quick": args.quick}
        args.json.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
