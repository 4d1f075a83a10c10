"""Training data: block labels derived from the corpora in ../shared/corpora/segmentation/.

Where each label comes from (weakest source last, used only where nothing better exists):
- ``scrapinghub/labels.jsonl``: 40 pages labelled block by block by a person (all five labels).
- body: a block is ``body`` when its text is found in the page's ground-truth article text
  (``truth_body``), by its normalised token sequence (short blocks must also sit next to a long
  body block, so a stray "Home" that happens to occur in the article does not count).
- title: L3S's human ``headline`` label; elsewhere the block that best matches the HTML ``<title>``
  / ``og:title`` (the title is the page's own headline, which sites repeat there).
- teasers: L3S's human "related content" and its link-structure flag (``heuristic_teaser``); on
  unlabelled scrapinghub pages, blocks equal to the text of a multi-word link to another page of
  the same site, and the summary line right after such a link.
Everything else is ``other``.

The split is by site (registered domain), so no site is both trained on and evaluated on; the
evaluation sites are drawn with a fixed seed and written to ``data/split.json``.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from segmenter.article import BODY, OTHER, TEASER_BLURB, TEASER_HEADLINE, TITLE
from segmenter.blocks import Block, text_blocks

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"
CORPORA = ("scrapinghub", "l3s-gn1")
EVAL_SHARE = 0.3  # of sites held out; enough pages for a stable F1 (about 50 and 180 pages)
SPLIT_SEED = "segmenter-split-v1"
_NORM = re.compile(r"\w+")
SHORT_BLOCK_TOKENS = 6  # below this a block counts as body only when next to a long body block


@dataclass
class LabeledPage:
    id: str
    corpus: str
    url: str
    blocks: list[Block]
    labels: list[str]
    truth_body: str


def site_of(url: str) -> str:
    """The registered-domain-ish part of a URL (last two labels; three for co.uk-style hosts)."""
    host = (urlsplit(url).hostname or "").lower().removeprefix("www.")
    parts = host.split(".")
    keep = 3 if len(parts) >= 3 and len(parts[-2]) <= 3 and len(parts[-1]) == 2 else 2
    return ".".join(parts[-keep:])


def is_eval_site(site: str) -> bool:
    """Deterministic, seed-fixed assignment of a site to the evaluation split."""
    digest = hashlib.sha256(f"{SPLIT_SEED}:{site}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < EVAL_SHARE


def read_pages(corpus: str, shared: Path = SHARED) -> Iterator[dict]:
    with gzip.open(shared / "corpora" / "segmentation" / corpus / "pages.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)


def make_split(shared: Path = SHARED) -> dict:
    """Page ids per corpus in train/eval, split by site."""
    split: dict = {"rule": f"site hash (sha256 of '{SPLIT_SEED}:<site>') < {EVAL_SHARE} -> eval",
                   "seed": SPLIT_SEED}
    for corpus in CORPORA:
        parts: dict[str, list[str]] = {"train": [], "eval": []}
        for page in read_pages(corpus, shared):
            parts["eval" if is_eval_site(site_of(page["url"])) else "train"].append(page["id"])
        split[corpus] = {k: sorted(v) for k, v in parts.items()}
    return split


def normalise(text: str) -> str:
    return " ".join(_NORM.findall(text.lower()))


def body_labels(blocks: list[Block], truth_body: str) -> list[bool]:
    """Which blocks are part of the ground-truth article text."""
    truth = f" {normalise(truth_body)} "
    found = []
    for block in blocks:
        norm = normalise(block.text)
        found.append(bool(norm) and f" {norm} " in truth)
    long_body = [f and len(normalise(b.text).split()) >= SHORT_BLOCK_TOKENS for f, b in zip(found, blocks)]
    n = len(blocks)
    out = []
    for i, (is_found, block) in enumerate(zip(found, blocks)):
        if is_found and len(normalise(block.text).split()) < SHORT_BLOCK_TOKENS:
            near = range(max(0, i - 2), min(n, i + 3))
            is_found = any(long_body[j] for j in near if j != i)
        out.append(is_found)
    return out


def best_title_match(blocks: list[Block], candidates: list[str], labels: list[str]) -> int | None:
    """Index of the non-body block most similar to one of the title candidates (Dice on tokens)."""
    targets = [set(normalise(c).split()) for c in candidates if c]
    best, best_score = None, 0.6  # below this the page's <title> is too unlike any block
    for i, block in enumerate(blocks):
        if labels[i] != OTHER:
            continue
        words = set(normalise(block.text).split())
        for target in targets:
            if words and target:
                score = 2 * len(words & target) / (len(words) + len(target))
                if score > best_score:
                    best, best_score = i, score
    return best


_ARTICLE_SLUG = re.compile(r"[^/]*[a-z0-9]+[-_][a-z0-9]+[-_][a-z0-9]+[^/]*|.*\d{5,}.*", re.IGNORECASE)
TEASER_MIN_WORDS = 4  # shorter link texts are menus and section names, not headlines


def is_article_url(url: str) -> bool:
    """A URL whose path names one article: a slug of three or more words, or a long numeric id."""
    segments = [s for s in urlsplit(url).path.split("/") if s]
    return any(_ARTICLE_SLUG.fullmatch(s) for s in segments)


def html_signals(html: str, page_url: str) -> tuple[list[str], list[str]]:
    """Title candidates (<title>, og:title, first <h1>) and the normalised texts of links to other
    articles (teaser candidates; a link may wrap a headline and its blurb together)."""
    import lxml.html

    try:
        doc = lxml.html.fromstring(html)
    except Exception:  # noqa: BLE001 - a page lxml cannot parse just gives no weak labels
        return [], []
    titles = [" ".join(doc.xpath("string(//title)").split())]
    titles += [m.get("content", "") for m in doc.xpath("//meta[@property='og:title']")]
    titles += [" ".join(h.text_content().split()) for h in doc.xpath("//h1")[:1]]
    page = page_url.split("#")[0]
    links = []
    for a in doc.iter("a"):
        target = urljoin(page_url, a.get("href") or "").split("#")[0]
        text = normalise(a.text_content())
        if target != page and len(text.split()) >= TEASER_MIN_WORDS and is_article_url(target):
            links.append(text)
    return titles, links


def label_page(page: dict, corpus: str, human: dict | None, l3s: dict | None, html: str | None) -> list[str]:
    """Labels for the text-dump blocks of one page, from the best source available."""
    blocks = text_blocks(page["text_dump"])
    if human is not None:
        return [b["label"] for b in human["blocks"]]
    labels = [BODY if is_body else OTHER for is_body in body_labels(blocks, page["truth_body"])]
    if l3s is not None:
        _apply_l3s(blocks, labels, l3s)
    elif html is not None:
        titles, links = html_signals(html, page["url"])
        title = best_title_match(blocks, titles, labels)
        if title is not None:
            labels[title] = TITLE
        _apply_links(blocks, labels, links)
    return labels


def _apply_l3s(blocks: list[Block], labels: list[str], l3s: dict) -> None:
    by_text: dict[str, dict] = {}
    for b in l3s["blocks"]:
        by_text.setdefault(" ".join(b["text"].split()), b)
    title_done = False
    for i, block in enumerate(blocks):
        info = by_text.get(" ".join(block.text.split()))
        if info is None:
            continue
        if info["human_label"] == "headline" and not title_done:
            labels[i], title_done = TITLE, True
        elif labels[i] == OTHER and (info["human_label"] == "related" or info["heuristic_teaser"]):
            kind = info["heuristic_teaser"] or ("teaser_blurb" if len(block.text.split()) > 15
                                                else "teaser_headline")
            labels[i] = kind


def _apply_links(blocks: list[Block], labels: list[str], links: list[str]) -> None:
    """A block that starts a link to another article is a teaser headline; a block inside such a
    link (after its start), or a longer line right after a headline, is its blurb."""
    starts = {text for text in links}
    joined = "\n".join(links)
    for i, block in enumerate(blocks):
        norm = normalise(block.text)
        if labels[i] != OTHER or len(norm.split()) < TEASER_MIN_WORDS and norm not in starts:
            continue
        if norm in starts or any(link.startswith(norm + " ") for link in links):
            labels[i] = TEASER_HEADLINE
        elif i > 0 and labels[i - 1] == TEASER_HEADLINE and (
                norm in joined or len(norm.split()) >= 8 and not block.text.rstrip().endswith(":")):
            labels[i] = TEASER_BLURB


def read_html(corpus: str, relative: str, shared: Path = SHARED) -> str | None:
    from segmenter.page import decode_bytes

    path = shared / "corpora" / "segmentation" / corpus / relative
    try:
        with gzip.open(path, "rb") as f:
            return decode_bytes(f.read())[0]
    except OSError:
        return None


def labeled_pages(corpus: str, ids: set[str] | None = None, shared: Path = SHARED) -> Iterator[LabeledPage]:
    """Text-dump pages of a corpus with derived block labels (only ``ids`` if given)."""
    root = shared / "corpora" / "segmentation" / corpus
    human: dict[str, dict] = {}
    if (root / "labels.jsonl").exists():
        with open(root / "labels.jsonl", encoding="utf-8") as f:
            human = {d["id"]: d for d in map(json.loads, f)}
    l3s: dict[str, dict] = {}
    if (root / "blocks.jsonl.gz").exists():
        with gzip.open(root / "blocks.jsonl.gz", "rt", encoding="utf-8") as f:
            l3s = {d["id"]: d for d in map(json.loads, f)}
    for page in read_pages(corpus, shared):
        if ids is not None and page["id"] not in ids:
            continue
        html = None if page["id"] in human or page["id"] in l3s else read_html(corpus, page["html_path"], shared)
        labels = label_page(page, corpus, human.get(page["id"]), l3s.get(page["id"]), html)
        yield LabeledPage(page["id"], corpus, page["url"], text_blocks(page["text_dump"]), labels,
                          page["truth_body"])
