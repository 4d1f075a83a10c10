"""Per-block features: small functions of one block, of its neighbours, and of the page.

The shape follows jusText: each block gets a few clear properties (length, punctuation, how much of
it is link text), then context: the same properties of its neighbours and where it sits relative to
the page's main text region. Nothing assumes English or whitespace tokenisation: tokens are ``\\w+``
runs, and CJK runs count per character (their words are not space-separated).

``BlockFeaturizer`` is a scikit-learn transformer: ``X`` is a list of pages, each a list of
``Block``; it returns one feature dict per block, all pages concatenated (so the rows line up with
``y`` from ``training.py``).
"""
from __future__ import annotations

import math
import re
from collections import Counter
from functools import lru_cache
from importlib import resources

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction import DictVectorizer

from segmenter.blocks import Block, PageBlocks

_WORD = re.compile(r"\w+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_SENTENCE_END = re.compile(r"[.!?。！？](?:[\"'”’»)\]]*)(?:\s|$)")
_TERMINAL = ".!?。！？:;\"'”’»)"
_SEPARATORS = re.compile(r"[|•·»›/]")
_URL = re.compile(r"https?://|www\.|@\w+\.\w+")
_TIME_OR_DATE = re.compile(r"\b\d{1,2}:\d{2}\b|\b(?:19|20)\d{2}\b|\b\d{1,2}[./-]\d{1,2}[./-]\d{2,4}\b")

# Neighbour offsets whose features are copied in, and the properties copied (the cheap, telling ones).
NEIGHBOUR_OFFSETS = (-2, -1, 1, 2)
NEIGHBOUR_KEYS = ("log_chars", "ends_terminal", "ends_ellipsis", "sentences", "title_case", "link_density",
                  "cue", "cohesion")
# A block of about this many tokens or more counts towards the main text region (see main_region).
REGION_TOKENS = 12
# Topical cohesion (see topical_cohesion): a token this long carries content in most languages;
# one in more than this share of the page's blocks is furniture (site name, "said"); window radius.
CONTENT_TOKEN_CHARS = 4
COMMON_TOKEN_SHARE = 0.3
COMMON_TOKEN_MIN_BLOCKS = 8  # on a short page (a copy-paste) the story's names recur in most lines
COHESION_WINDOW = 3
# A headline has this many tokens (min, max); a paragraph echoes it with this many shared content tokens.
HEADLINE_TOKENS = (3, 30)
ECHO_MIN_TOKENS = 2
# Hint words (class/id of HTML ancestors) kept as features; others are too site-specific to learn from.
HINT_WORDS = frozenset(
    "article body content story text main post entry related teaser promo recommend more popular "
    "trending nav menu header footer sidebar aside widget share social comment comments caption "
    "byline author date time meta tag tags breadcrumb ad ads advert sponsor newsletter subscribe "
    "title headline heading summary lead intro list item card grid rail module".split())


@lru_cache(maxsize=1)
def cue_words() -> frozenset[str]:
    """The list-header vocabulary (``resources/cues.txt``), loaded once."""
    text = resources.files("segmenter").joinpath("resources/cues.txt").read_text(encoding="utf-8")
    return frozenset(w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#"))


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens; CJK runs are split into single characters."""
    out: list[str] = []
    for word in _WORD.findall(text.lower()):
        if _CJK.search(word):
            out.extend(word)
        else:
            out.append(word)
    return out


def text_features(text: str, toks: list[str] | None = None) -> dict[str, float]:
    """Features of one block's text alone (``toks``: its ``tokens()``, if already made)."""
    n = len(text)
    toks = tokens(text) if toks is None else toks
    letters = sum(map(str.isalpha, text))
    upper = sum(map(str.isupper, text))
    digits = sum(map(str.isdigit, text))
    words = text.split()
    capitalised = sum(map(str.isupper, (w[0] for w in words)))
    stripped = text.rstrip()
    lowered = text.lower()
    cue = sum(w in cue_words() for w in _WORD.findall(lowered)) if len(toks) <= 6 else 0
    return {
        "log_chars": math.log1p(n),
        "log_tokens": math.log1p(len(toks)),
        "alpha_ratio": letters / n if n else 0.0,
        "digit_ratio": digits / n if n else 0.0,
        "upper_ratio": upper / letters if letters else 0.0,
        "title_case": capitalised / len(words) if words else 0.0,
        "sentences": math.log1p(len(_SENTENCE_END.findall(text))),
        "ends_terminal": float(stripped[-1:] in _TERMINAL) if stripped else 0.0,
        "ends_ellipsis": float(stripped.endswith(("...", "…"))),
        "separators": math.log1p(len(_SEPARATORS.findall(text))),
        "has_url": float(bool(_URL.search(text))),
        "date_like": float(bool(_TIME_OR_DATE.search(text))),
        "copyright": float("©" in text or "copyright" in lowered),
        "cue": float(cue),
        "cjk": float(bool(_CJK.search(text))),
    }


def main_region(lengths: list[int]) -> tuple[int, int]:
    """The contiguous run of blocks with the most long-block weight (Kadane's maximum subarray).

    Long blocks score positive, short ones slightly negative, so a few short blocks inside the
    article (subheadings, captions) do not split it. Returns (start, end) with end exclusive.
    """
    return max_sum_span(min(length / REGION_TOKENS, 5.0) - 0.6 for length in lengths)


def max_sum_span(scores) -> tuple[int, int]:
    """(start, end) of the contiguous run with the largest positive sum (Kadane); (0, 0) if none."""
    best, best_span, run, run_start = 0.0, (0, 0), 0.0, 0
    for i, score in enumerate(scores):
        if run <= 0:
            run, run_start = score, i
        else:
            run += score
        if run > best:
            best, best_span = run, (run_start, i + 1)
    return best_span


def page_features(blocks: list[Block], title_hint: str | None = None) -> list[dict[str, float]]:
    """Feature dicts for every block of one page, with neighbour and page context.

    ``title_hint`` is the title an HTML page announces about itself (``<title>``, ``og:title``);
    sites append their name to it, so it is compared by the share of the block's tokens it holds.
    """
    toks = [tokens(b.text) for b in blocks]
    own = [text_features(b.text, t) for b, t in zip(blocks, toks, strict=True)]
    for feats, block in zip(own, blocks, strict=True):
        feats.update(_structure_features(block))
    n = len(blocks)
    start, end = main_region([len(t) for t in toks])
    region_vocab = Counter(t for toks_i in toks[start:end] for t in set(toks_i))
    counts = Counter(b.text for b in blocks)
    max_chars = max((len(b.text) for b in blocks), default=1)
    content = content_token_sets(toks)
    cohesion = topical_cohesion(toks, content)
    support = headline_support(toks, content)
    anchor = max(range(n), key=lambda j: (support[j], -j)) if n and max(support) > 0 else None
    anchor_tokens = content[anchor] if anchor is not None else set()
    window_cohesion = _window_mean(cohesion, COHESION_WINDOW)
    for feats, value in zip(own, cohesion, strict=True):
        feats["cohesion"] = value
    hint_tokens = set(tokens(title_hint)) if title_hint else set()
    rows = []
    for i, feats in enumerate(own):
        row = dict(feats)
        row["rel_pos"] = i / n
        row["headline_support"] = math.log1p(support[i])
        row["is_anchor"] = float(i == anchor)
        row["after_anchor"] = _clipped_log_distance(i - anchor) if anchor is not None and i > anchor else 0.0
        row["before_anchor"] = _clipped_log_distance(anchor - i) if anchor is not None and i < anchor else 0.0
        row["anchor_echo"] = (len(content[i] & anchor_tokens) / len(anchor_tokens)
                              if anchor_tokens and i != anchor else 0.0)
        row["chars_vs_max"] = len(blocks[i].text) / max_chars
        row["repeated"] = float(counts[blocks[i].text] > 1)
        row["in_region"] = float(start <= i < end)
        row["before_region"] = _clipped_log_distance(start - i) if i < start else 0.0
        row["after_region"] = _clipped_log_distance(i - end + 1) if i >= end else 0.0
        row["region_overlap"] = _overlap(toks[i], region_vocab, inside=start <= i < end)
        row["window_cohesion"] = window_cohesion[i]
        if i > 0:
            # a blurb is longer and more sentence-like than the headline right above it
            row["longer_than_previous"] = feats["log_chars"] - own[i - 1]["log_chars"]
            row["previous_headline_like"] = float(_headline_like(toks[i - 1], blocks[i - 1].text))
        if hint_tokens and toks[i]:
            row["in_title_hint"] = len(set(toks[i]) & hint_tokens) / len(set(toks[i]))
        for offset in NEIGHBOUR_OFFSETS:
            j = i + offset
            prefix = f"n{offset:+d}_"
            if 0 <= j < n:
                for key in NEIGHBOUR_KEYS:
                    if key in own[j]:
                        row[prefix + key] = own[j][key]
            else:
                row[prefix + "missing"] = 1.0
        rows.append(row)
    return rows


def content_token_sets(page_tokens: list[list[str]]) -> list[set[str]]:
    """Per block, its distinct content tokens: at least ``CONTENT_TOKEN_CHARS`` characters (CJK
    characters always count) and not in more than ``COMMON_TOKEN_SHARE`` of the page's blocks
    (function words, the site's name)."""
    sets = [{t for t in toks if len(t) >= CONTENT_TOKEN_CHARS or _CJK.match(t)} for toks in page_tokens]
    df = Counter(t for s in sets for t in s)
    limit = max(COMMON_TOKEN_MIN_BLOCKS, COMMON_TOKEN_SHARE * len(page_tokens))
    return [{t for t in s if df[t] <= limit} for s in sets]


def headline_support(page_tokens: list[list[str]], content: list[set[str]]) -> list[int]:
    """Per headline-sized block, how many long blocks further down (not the next one) echo at
    least ``ECHO_MIN_TOKENS`` of its content tokens. The article's own title is echoed by its
    paragraphs; a teaser headline only by its own blurb, which sits right after it."""
    long_blocks = [j for j, toks in enumerate(page_tokens) if len(toks) >= REGION_TOKENS]
    support = [0] * len(page_tokens)
    for i, toks in enumerate(page_tokens):
        if not HEADLINE_TOKENS[0] <= len(toks) <= HEADLINE_TOKENS[1] or len(content[i]) < ECHO_MIN_TOKENS:
            continue
        support[i] = sum(len(content[i] & content[j]) >= ECHO_MIN_TOKENS for j in long_blocks if j >= i + 2)
    return support


def topical_cohesion(page_tokens: list[list[str]], content: list[set[str]]) -> list[float]:
    """Per block, the share of its content tokens that recur in a long block elsewhere on the page
    (not its direct neighbours). Paragraphs of one article keep naming the same people and places;
    a teaser's blurb shares words only with its own headline, and so scores low.

    """
    where: dict[str, list[int]] = {}
    for j, toks in enumerate(page_tokens):
        if len(toks) >= REGION_TOKENS:
            for t in content[j]:
                where.setdefault(t, []).append(j)
    out = []
    for i, tokens_i in enumerate(content):
        if not tokens_i:
            out.append(0.0)
            continue
        hits = sum(any(abs(j - i) >= 2 for j in where.get(t, ())) for t in tokens_i)
        out.append(hits / len(tokens_i))
    return out


def _window_mean(values: list[float], radius: int) -> list[float]:
    n = len(values)
    prefix = [0.0]
    for v in values:
        prefix.append(prefix[-1] + v)
    out = []
    for i in range(n):
        lo, hi = max(0, i - radius), min(n, i + radius + 1)
        out.append((prefix[hi] - prefix[lo]) / (hi - lo))
    return out


def _headline_like(block_tokens: list[str], text: str) -> bool:
    """Headline-sized, and not ending like a sentence."""
    return HEADLINE_TOKENS[0] <= len(block_tokens) <= HEADLINE_TOKENS[1] and text.rstrip()[-1:] not in ".!?。！？:"


def _structure_features(block: Block) -> dict[str, float]:
    """HTML signals; plain-text blocks have none (DictVectorizer treats absent keys as 0)."""
    if block.tag is None:
        return {}
    feats = {"is_html": 1.0, "link_density": block.link_density or 0.0, f"tag={block.tag}": 1.0,
             "depth": math.log1p(block.depth or 0)}
    for word in set((block.hints or "").split()) & HINT_WORDS:
        feats[f"hint={word}"] = 1.0
    return feats


def _clipped_log_distance(distance: int) -> float:
    return math.log1p(min(distance, 200))


def _overlap(block_tokens: list[str], region_vocab: Counter, inside: bool) -> float:
    """Share of a block's distinct tokens that recur in the main region (how a title relates to
    its body). A block inside the region would match itself, so its own count is discounted."""
    distinct = set(block_tokens)
    if not distinct:
        return 0.0
    minimum = 2 if inside else 1
    return sum(region_vocab[t] >= minimum for t in distinct) / len(distinct)


class BlockFeaturizer(BaseEstimator, TransformerMixin):
    """Pages (``PageBlocks``, or plain lists of Blocks) -> one feature dict per block, pages
    concatenated."""

    def fit(self, X, y=None):  # noqa: N803 (scikit-learn's naming)
        return self

    def transform(self, X):  # noqa: N803
        rows: list[dict[str, float]] = []
        for page in X:
            if isinstance(page, PageBlocks):
                rows.extend(page_features(page.blocks, page.title_hint))
            else:
                rows.extend(page_features(page))
        return rows


class FastDictVectorizer(DictVectorizer):
    """DictVectorizer with a dense ``transform`` that costs one dict lookup per value.

    scikit-learn's own transform builds a sparse matrix through Python-level index lists and was
    the largest single cost of segmenting a page; fitting, the vocabulary and the output are the
    same (dense, ``sparse=False``), only faster. Unknown feature names are ignored, as there.
    """

    def transform(self, X):  # noqa: N803
        vocabulary = self.vocabulary_
        out = np.zeros((len(X), len(vocabulary)), dtype=self.dtype)
        for i, row in enumerate(X):
            for name, value in row.items():
                j = vocabulary.get(name)
                if j is not None:
                    out[i, j] = value
        return out
