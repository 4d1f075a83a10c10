"""Per-block features: small functions of one block, of its neighbours, and of the page.

The shape follows jusText: each block gets a few clear properties (length, punctuation, how much of
it is link text), then context: the same properties of its neighbours and where it sits relative to
the page's main text region. Nothing assumes English or whitespace tokenisation: tokens are ``\\w+``
runs, and CJK runs count per character (their words are not space-separated).

Features are computed a page at a time, as columns (one numpy array per feature, one value per
block), because segmenting must cost a few milliseconds a page: character classes come from one
table lookup over the whole page, regular expressions run once over the page's joined text (or
only over the few blocks that can hold a match), its tokens come from one ``str.split()``, and the
token statistics (cohesion, the title's echo in the paragraphs) are set operations on integer
arrays of (block, token) pairs.

``featurize`` turns a list of pages (``PageBlocks`` or lists of ``Block``) into one column dict per
page; ``vectorize`` stacks those into the matrix the classifier reads, its rows the blocks of all
pages in order (lining up with ``y`` from ``training.py``), its columns the feature names seen in
training. Both are plain functions: the scikit-learn transformers that wrap them for training
(``BlockFeaturizer``, ``ColumnVectorizer``) live in ``estimators.py``, which inference never imports.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from itertools import count, repeat

import numpy as np

from segmenter.blocks import Block, PageBlocks

Columns = dict[str, np.ndarray]

_WORD = re.compile(r"\w+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_CJK_RANGES = ((0x3040, 0x30ff), (0x3400, 0x4dbf), (0x4e00, 0x9fff), (0xac00, 0xd7af), (0xf900, 0xfaff))
# A sentence end: a mark, any closing quotes or brackets, then a space or the end. Counted without
# the regex (see _sentence_ends), from these characters.
_SENTENCE_END = re.compile(r"[.!?。！？](?:[\"'”’»)\]]*)(?:\s|$)")
_SENTENCE_MARKS = ".!?。！？"
_CLOSING_CODES = frozenset(map(ord, "\"'”’»)]"))
_TERMINAL = tuple(".!?。！？:;\"'”’»)")
_HEADLINE_END = tuple(".!?。！？:")  # a block ending in one of these reads as a sentence, not a headline
_ELLIPSIS = ("...", "…")
_SEPARATOR_CHARS = "|•·»›/"
_URL = re.compile(r"https?://|www\.|@\w+\.\w+")
# Times and dates: r"\b\d{1,2}:\d{2}\b|\b(?:19|20)\d{2}\b|\b\d{1,2}[./-]\d{1,2}[./-]\d{2,4}\b", written to
# open with its first digit (and the \b as "no word character before it") so that the regex engine
# jumps from digit to digit instead of trying every position: the same matches, 3x faster.
_TIME_OR_DATE = re.compile(r"\d(?<!\w\d)(?:\d?:\d{2}\b|(?<=1)9\d{2}\b|(?<=2)0\d{2}\b|\d?[./-]\d{1,2}[./-]\d{2,4}\b)")
# r"©|copyright" ignoring case, opening with a character class for the same reason.
_COPYRIGHT = re.compile(r"[©cC](?:(?<=©)|(?i:opyright))")

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
CUE_MAX_TOKENS = 6  # list headers ("Related Articles", "Most read") are short
MAX_DISTANCE = 200  # distances (to the region, to the title candidate) are clipped here, then logged
# Hint words (class/id of HTML ancestors) kept as features; others are too site-specific to learn from.
HINT_WORDS = frozenset(
    "article body content story text main post entry related teaser promo recommend more popular "
    "trending nav menu header footer sidebar aside widget share social comment comments caption "
    "byline author date time meta tag tags breadcrumb ad ads advert sponsor newsletter subscribe "
    "title headline heading summary lead intro list item card grid rail module".split())

# Character classes, as bits of one lookup table over the Basic Multilingual Plane. WORD is what
# ``\\w`` matches (a letter, digit or number, or "_"), so that tokens can be found without a regex.
ALPHA, UPPER, DIGIT, SPACE, CJK, SEPARATOR, WORD, SENTENCE_MARK = 1, 2, 4, 8, 16, 32, 64, 128


@lru_cache(maxsize=1)
def cue_words() -> frozenset[str]:
    """The list-header vocabulary (``resources/cues.txt``), loaded once."""
    return _word_list("cues.txt")


@lru_cache(maxsize=1)
def action_words() -> frozenset[str]:
    """The calls-to-action vocabulary (``resources/actions.txt``), loaded once."""
    return _word_list("actions.txt")


def _word_list(name: str) -> frozenset[str]:
    text = resources.files("segmenter").joinpath(f"resources/{name}").read_text(encoding="utf-8")
    return frozenset(w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#"))


@lru_cache(maxsize=1)
def char_classes() -> np.ndarray:
    """Class bits of every BMP character (built once, about 30 ms). Characters beyond the BMP
    (emoji, rare CJK) map to the last entry, a non-character with no class."""
    chars = [chr(code) for code in range(0x10000)]
    table = np.zeros(0x10000, dtype=np.uint8)
    table[[c.isalpha() for c in chars]] |= ALPHA
    table[[c.isupper() for c in chars]] |= UPPER
    table[[c.isdigit() for c in chars]] |= DIGIT
    table[[c.isspace() for c in chars]] |= SPACE
    for low, high in _CJK_RANGES:
        table[low:high + 1] |= CJK
    table[[ord(c) for c in _SEPARATOR_CHARS]] |= SEPARATOR
    table[[_is_word(c) for c in chars]] |= WORD
    table[[ord(c) for c in _SENTENCE_MARKS]] |= SENTENCE_MARK
    table[0xFFFF] = 0
    return table


def _is_word(char: str) -> bool:
    """Whether ``\\w`` matches the character (re's definition for str patterns)."""
    return char.isalnum() or char == "_"


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def _classes_of(codes: np.ndarray) -> np.ndarray:
    """The class bits of each code point (``take``: a third cheaper than indexing with uint32)."""
    return char_classes().take(np.minimum(codes, 0xFFFF))


def _lengths(texts: list[str]) -> np.ndarray:
    return np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))


def _block_starts(lengths: np.ndarray) -> np.ndarray:
    """Where each text starts in ``"\\n".join(texts)``, from the texts' lengths."""
    starts = np.zeros(len(lengths), dtype=np.int64)
    np.cumsum(lengths[:-1] + 1, out=starts[1:])
    return starts


def _count_per_block(masks: list[np.ndarray], starts: np.ndarray) -> np.ndarray:
    """Per mask (over the characters of the texts joined by "\\n"), per text from ``starts``: how
    many of the text's characters it holds. One sum per text and joint: the "\\n" joints hold no
    counted class (and a trailing one keeps every start in range)."""
    stacked = np.zeros((len(masks), len(masks[0]) + 1), dtype=bool)
    stacked[:, :-1] = masks
    # Summed as bytes into int32 (a text of 2**31 characters is not a block): numpy's fast path,
    # a third cheaper than bools into int64.
    return np.add.reduceat(stacked.view(np.uint8), starts, axis=1, dtype=np.int32).astype(np.int64)


@dataclass(frozen=True)
class JoinedText:
    """A page's texts joined by "\\n", as both the token and the text features read it: each text's
    length, start and end, the join's code points and their character classes, and the join
    lower-cased (None when lowering lengthens a text, as U+0130 "İ": positions would not line up)."""

    lengths: np.ndarray
    starts: np.ndarray
    ends: list[str]  # each text's last three characters before any trailing space
    joined: str
    codes: np.ndarray
    classes: np.ndarray
    lowered: str | None

    @classmethod
    def of(cls, texts: list[str]) -> JoinedText:
        joined = "\n".join(texts)
        codes = _code_points(joined)
        lowered = joined.lower()  # the same as lowering text by text: "\n" ends a word (final sigma)
        lengths = _lengths(texts)
        ends = [t.rstrip()[-3:] for t in texts]
        return cls(lengths, _block_starts(lengths), ends, joined, codes, _classes_of(codes),
                   lowered if len(lowered) == len(joined) else None)


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens; CJK runs are split into single characters."""
    words = _WORD.findall(text.lower())
    if not _CJK.search(text):
        return words
    out: list[str] = []
    for word in words:
        if _CJK.search(word):
            out.extend(word)
        else:
            out.append(word)
    return out


def page_tokens(texts: list[str], text: JoinedText | None = None) -> tuple[list[str], np.ndarray]:
    """Every text's ``tokens()``, as one list (texts in order) and a count per text. ``text``: the
    texts joined (``JoinedText.of(texts)``), if already made.

    The same tokens as calling ``tokens()`` on each text, found at once for the whole page: every
    non-word character of the lower-cased page becomes a space and ``str.split()`` cuts the words
    out (word characters are never whitespace): a third of the cost of a regex search per text.
    A page with CJK characters, whose runs split per character, takes ``tokens()`` text by text.
    """
    text = JoinedText.of(texts) if text is None else text
    if text.lowered is not None:
        # Each character lowered to one: the join's positions hold, and so do its WORD and CJK
        # classes (lowering a character never changes them; a test checks every character).
        codes, classes, starts = _code_points(text.lowered), text.classes, text.starts
    else:
        lowered = list(map(str.lower, texts))
        codes, starts = _code_points("\n".join(lowered)), _block_starts(_lengths(lowered))
        classes = _classes_of(codes)
    if (classes & CJK).any():
        per_text = [tokens(t) for t in texts]
        return [t for toks in per_text for t in toks], np.fromiter(map(len, per_text), np.int64, len(texts))
    is_word = (classes & WORD) > 0
    beyond_table = (codes > 0xFFFF).nonzero()[0]  # emoji are no words, but 𝐀 or 𠀀 are
    is_word[beyond_table] = [_is_word(chr(code)) for code in codes[beyond_table].tolist()]
    # Non-word characters become spaces: zeroed, then raised to the space, which every word
    # character lies above (the lowest, "0", is 48).
    spaced = np.maximum(codes * is_word, np.uint32(ord(" ")))
    words = spaced.tobytes().decode("utf-32-le").split()
    word_start = is_word & np.concatenate(([True], ~is_word[:-1]))
    return words, _count_per_block([word_start], starts)[0]


def _sentence_ends(codes: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Where ``_SENTENCE_END`` matches in a text (its ``codes`` and their ``classes``), at under half
    the cost of the regex's scan: at each sentence mark, past any closing characters, a space or
    the end of the text (the table's SPACE is the regex's ``\\s``). The matches cannot overlap, as
    none of the characters a match takes is a mark."""
    marks = ((classes & SENTENCE_MARK) > 0).nonzero()[0]  # (nonzero() of bools: 3x faster than of bytes)
    codes = np.append(codes, ord(" "))  # the end of the text reads as a space
    after = marks + 1

    def closing() -> np.ndarray:
        return np.array([code in _CLOSING_CODES for code in codes[after].tolist()], dtype=bool)

    past = closing()
    while past.any():  # rarely more than one closing character
        after += past
        past &= closing()
    return marks[(np.append(classes, SPACE)[after] & SPACE) > 0]


def _ending_with(ends: list[str], suffixes: tuple[str, ...]) -> np.ndarray:
    """Per text end: whether it ends with one of ``suffixes`` (an empty one never does)."""
    return np.fromiter(map(str.endswith, ends, repeat(suffixes)), dtype=bool, count=len(ends))


def _blocks_holding(joined: str, starts: np.ndarray, needles: tuple[str, ...]) -> np.ndarray:
    """Per block (texts joined by "\\n", starting at ``starts``): whether it holds any of ``needles``."""
    positions = []
    for needle in needles:
        at = joined.find(needle)
        while at >= 0:
            positions.append(at)
            at = joined.find(needle, at + 1)
    holding = np.zeros(len(starts), dtype=bool)
    holding[starts.searchsorted(positions, side="right") - 1] = True
    return holding


def text_features(text: str) -> dict[str, float]:
    """Features of one block's text alone (a convenience over ``text_columns``)."""
    return {name: float(values[0]) for name, values in text_columns([text]).items()}


def text_columns(texts: list[str], page: PageTokens | None = None, text: JoinedText | None = None) -> Columns:
    """Features of each block's text alone, as columns. ``page``: the blocks' tokens; ``text``:
    the texts joined (``JoinedText.of(texts)``); each made here if not given."""
    n = len(texts)
    text = JoinedText.of(texts) if text is None else text
    page = PageTokens.from_texts(texts, text) if page is None else page
    joined, starts, codes, classes = text.joined, text.starts, text.codes, text.classes
    is_space = (classes & SPACE) > 0
    # A word starts at a non-space character after a space; the "\n" joints keep blocks apart.
    word_start = ~is_space & np.concatenate(([True], is_space[:-1]))

    def per_block(*masks: np.ndarray) -> np.ndarray:
        return _count_per_block(masks, starts).astype(float)

    def per_block_count(positions: np.ndarray) -> np.ndarray:
        return np.bincount(starts.searchsorted(positions, side="right") - 1, minlength=n).astype(float)

    def found_in(pattern: re.Pattern, candidates: np.ndarray) -> np.ndarray:
        """1.0 where ``pattern`` matches in the block, searching only the ``candidates`` (the
        others cannot hold a match): cheaper than a regex scan of the whole page."""
        found = np.zeros(n)
        for i in candidates.nonzero()[0].tolist():
            found[i] = pattern.search(texts[i]) is not None
        return found

    is_upper = (classes & UPPER) > 0
    letters, upper, digits, separators, cjk, words, title_words, beyond_table = per_block(
        (classes & ALPHA) > 0, is_upper, (classes & DIGIT) > 0, (classes & SEPARATOR) > 0, (classes & CJK) > 0,
        word_start, word_start & is_upper, codes > 0xFFFF)
    # A time or date holds three digits or more (the table knows no digit beyond the BMP: any such
    # character may be one); a link holds one of its three markers.
    may_be_date = digits + beyond_table >= 3
    may_be_url = _blocks_holding(joined, starts, ("://", "www.", "@"))
    # A copyright sign or word, lower-cased, holds "©" or "copyr" (only "İ" and "ı" match a letter of
    # "copyright" ignoring case but lower-case to another character, and those come after "r").
    # Where lowering changes the page's length, its positions do not line up: search every block.
    may_be_copyright = (_blocks_holding(text.lowered, starts, ("©", "copyr")) if text.lowered is not None
                        else np.ones(n, dtype=bool))
    chars = text.lengths.astype(float)
    is_cue, is_action = page.vocabulary_mask(cue_words()), page.vocabulary_mask(action_words())
    token_counts = page.counts.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "log_chars": np.log1p(chars),
            "log_tokens": np.log1p(token_counts),
            "alpha_ratio": np.where(chars > 0, letters / chars, 0.0),
            "digit_ratio": np.where(chars > 0, digits / chars, 0.0),
            "upper_ratio": np.where(letters > 0, upper / letters, 0.0),
            "title_case": np.where(words > 0, title_words / words, 0.0),
            "sentences": np.log1p(per_block_count(_sentence_ends(codes, classes))),
            "ends_terminal": _ending_with(text.ends, _TERMINAL).astype(float),
            "ends_ellipsis": _ending_with(text.ends, _ELLIPSIS).astype(float),
            "separators": np.log1p(separators),
            "has_url": found_in(_URL, may_be_url),
            "date_like": found_in(_TIME_OR_DATE, may_be_date),
            "copyright": found_in(_COPYRIGHT, may_be_copyright),
            "cue": np.where(page.counts <= CUE_MAX_TOKENS, page.tokens_per_block(is_cue), 0.0),
            # share, not count: "Sign up for our newsletter" is furniture, a story about apps is not
            "action_share": page.tokens_per_block(is_action) / np.maximum(token_counts, 1.0),
            "cjk": np.minimum(cjk, 1.0),
        }


def main_region(lengths) -> tuple[int, int]:
    """The contiguous run of blocks with the most long-block weight (Kadane's maximum subarray).

    Long blocks score positive, short ones slightly negative, so a few short blocks inside the
    article (subheadings, captions) do not split it. Returns (start, end) with end exclusive.
    """
    scores = np.minimum(np.asarray(lengths, dtype=float) / REGION_TOKENS, 5.0) - 0.6
    return max_sum_span(scores.tolist())


def max_sum_span(scores) -> tuple[int, int]:
    """(start, end) of the contiguous run with the largest positive sum (Kadane); (0, 0) if none."""
    if isinstance(scores, np.ndarray):
        scores = scores.tolist()  # Python floats: the same sums, at half the cost of numpy scalars
    best, best_span, run, run_start = 0.0, (0, 0), 0.0, 0
    for i, score in enumerate(scores):
        if run <= 0:
            run, run_start = score, i
        else:
            run += score
        if run > best:
            best, best_span = run, (run_start, i + 1)
    return best_span


@dataclass(frozen=True)
class PageTokens:
    """A page's tokens as integer arrays: every distinct (block, token) pair, sorted by block, then
    token id; set operations between blocks become array operations on these pairs."""

    vocabulary: list[str]
    first: dict[str, int]    # token -> where it first occurs in the page (its id: token_ids[first[token]])
    counts: np.ndarray       # tokens per block (with repeats)
    token_ids: np.ndarray    # token id of every token, blocks in order (with repeats)
    pair_block: np.ndarray   # block of each distinct (block, token) pair
    pair_token: np.ndarray   # token id of each pair
    content: np.ndarray      # per pair: a content token (see content_pairs)

    @classmethod
    def from_texts(cls, texts: list[str], text: JoinedText | None = None) -> PageTokens:
        """The ``tokens()`` of each text (see ``page_tokens``)."""
        text = JoinedText.of(texts) if text is None else text
        # (lower-casing makes no CJK character and unmakes none, as for page_tokens)
        return cls.from_flat(*page_tokens(texts, text), may_hold_cjk=bool((text.classes & CJK).any()))

    @classmethod
    def from_tokens(cls, page_tokens: list[list[str]]) -> PageTokens:
        """From each block's token list."""
        counts = np.fromiter(map(len, page_tokens), dtype=np.int64, count=len(page_tokens))
        return cls.from_flat([t for toks in page_tokens for t in toks], counts)

    @classmethod
    def from_flat(cls, flat: list[str], counts: np.ndarray, may_hold_cjk: bool = True) -> PageTokens:
        """From all tokens of the page in block order, ``counts[i]`` of them in block ``i``.
        ``may_hold_cjk=False`` says that no token holds a CJK character (see ``content_pairs``)."""
        # ids by first occurrence, as a running dict would give them, with the loops in C: one pass
        # finds where each token first occurs (setdefault keeps the first position), and the ids
        # number those positions in order.
        first: dict[str, int] = {}
        first_at = np.fromiter(map(first.setdefault, flat, count()), dtype=np.int64, count=len(flat))
        is_first = np.zeros(len(flat), dtype=np.int64)
        is_first[first_at] = 1
        token_ids = (is_first.cumsum() - 1)[first_at]
        n, size = len(counts), max(len(first), 1)
        pair_keys = np.arange(n, dtype=np.int64).repeat(counts) * size + token_ids
        keys, _ = _unique_counts(pair_keys)
        pair_block, pair_token = np.divmod(keys, size)
        vocabulary = list(first)
        return cls(vocabulary, first, counts, token_ids, pair_block, pair_token,
                   content_pairs(vocabulary, pair_block, pair_token, n, may_hold_cjk))

    @property
    def n_blocks(self) -> int:
        return len(self.counts)

    def vocabulary_mask(self, words: frozenset[str] | set[str]) -> np.ndarray:
        """Per token id: whether the token is one of ``words`` (looked up from the smaller side: a
        word list is shorter than a page's vocabulary)."""
        mask = np.zeros(len(self.vocabulary), dtype=bool)
        mask[self.token_ids[[self.first[word] for word in self.first.keys() & words]]] = True
        return mask

    def tokens_per_block(self, vocabulary_mask: np.ndarray) -> np.ndarray:
        """Per block, how many of its tokens (with repeats) are in ``vocabulary_mask`` (by id)."""
        token_block = np.arange(self.n_blocks).repeat(self.counts)
        return np.bincount(token_block, weights=vocabulary_mask[self.token_ids], minlength=self.n_blocks)

    def per_block(self, pair_values: np.ndarray) -> np.ndarray:
        """Sum of a per-pair quantity for each block."""
        return np.bincount(self.pair_block, weights=pair_values, minlength=self.n_blocks)

    def share(self, pair_mask: np.ndarray) -> np.ndarray:
        """Per block, the share of its distinct tokens whose pair is in ``pair_mask`` (0 if none)."""
        distinct = np.bincount(self.pair_block, minlength=self.n_blocks).astype(float)
        return np.divide(self.per_block(pair_mask), distinct, out=np.zeros(self.n_blocks), where=distinct > 0)

    def content_sets(self) -> list[set[str]]:
        """Per block, its content tokens as strings (for inspection and tests)."""
        sets: list[set[str]] = [set() for _ in range(self.n_blocks)]
        for block, token in zip(self.pair_block[self.content], self.pair_token[self.content], strict=True):
            sets[block].add(self.vocabulary[token])
        return sets


def _unique_counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_counts=True)`` of an integer array, by sorting: at page size
    numpy 2's hash-based unique is about 10x slower."""
    values = np.sort(values)
    first = np.concatenate(([True], values[1:] != values[:-1]))[:len(values)].nonzero()[0]
    bounds = np.concatenate((first, [len(values)]))
    return values[first], bounds[1:] - bounds[:-1]


def content_pairs(vocabulary: list[str], pair_block: np.ndarray, pair_token: np.ndarray, n_blocks: int,
                  may_hold_cjk: bool = True) -> np.ndarray:
    """Which (block, token) pairs hold a content token: at least ``CONTENT_TOKEN_CHARS`` characters
    (CJK characters always count) and not in more than ``COMMON_TOKEN_SHARE`` of the page's blocks
    (function words, the site's name). ``may_hold_cjk=False``: no token holds a CJK character, so
    none is looked for (the search costs as much as the rest of this function)."""
    if not vocabulary:
        return np.zeros(0, dtype=bool)
    long_enough = np.fromiter(map(len, vocabulary), dtype=np.int64, count=len(vocabulary)) >= CONTENT_TOKEN_CHARS
    short = (~long_enough).nonzero()[0]
    if may_hold_cjk and _CJK.search("".join(vocabulary)):  # one search; a CJK page checks each short token
        long_enough[short] = [bool(_CJK.match(vocabulary[i])) for i in short]
    candidate = long_enough[pair_token]
    blocks_with = np.bincount(pair_token[candidate], minlength=len(vocabulary))
    limit = max(COMMON_TOKEN_MIN_BLOCKS, COMMON_TOKEN_SHARE * n_blocks)
    return candidate & (blocks_with[pair_token] <= limit)


def headline_support(page: PageTokens) -> np.ndarray:
    """Per headline-sized block, how many long blocks further down (not the next one) echo at
    least ``ECHO_MIN_TOKENS`` of its content tokens. The article's own title is echoed by its
    paragraphs; a teaser headline only by its own blurb, which sits right after it."""
    n = page.n_blocks
    block, token = page.pair_block[page.content], page.pair_token[page.content]
    content_size = np.bincount(block, minlength=n)
    is_head = ((page.counts >= HEADLINE_TOKENS[0]) & (page.counts <= HEADLINE_TOKENS[1])
               & (content_size >= ECHO_MIN_TOKENS))
    head_block, head_token = block[is_head[block]], token[is_head[block]]
    long_pairs = page.counts[block] >= REGION_TOKENS
    by_token = (token[long_pairs] * n + block[long_pairs]).argsort()  # by token, then block
    long_block, long_token = block[long_pairs][by_token], token[long_pairs][by_token]
    # Join the head pairs with the long pairs on the token: one row per (head, long block, token).
    # A token's long pairs are a run of the sorted ones: its count, from where the counts before end.
    per_token = np.bincount(long_token, minlength=max(len(page.vocabulary), 1))
    first, count = (per_token.cumsum() - per_token)[head_token], per_token[head_token]
    rows = np.arange(len(head_block)).repeat(count)
    offsets = np.arange(count.sum()) - (count.cumsum() - count).repeat(count)
    heads, longs = head_block[rows], long_block[first.repeat(count) + offsets]
    below = longs >= heads + 2
    pairs, shared = _unique_counts(heads[below] * n + longs[below])
    return np.bincount(pairs[shared >= ECHO_MIN_TOKENS] // n, minlength=n).astype(float)


def topical_cohesion(page: PageTokens) -> np.ndarray:
    """Per block, the share of its content tokens that recur in a long block elsewhere on the page
    (not its direct neighbours). Paragraphs of one article keep naming the same people and places;
    a teaser's blurb shares words only with its own headline, and so scores low."""
    n = page.n_blocks
    block, token = page.pair_block[page.content], page.pair_token[page.content]
    if not len(block):
        return np.zeros(n)
    is_long = page.counts >= REGION_TOKENS
    size = max(len(page.vocabulary), 1)
    long_blocks_with = np.bincount(token[is_long[block]], minlength=size)
    # Long blocks holding the token among the block itself and its two neighbours do not count.
    # Ordered by token, then block, the pair of the same token in the next block (if any) comes
    # right after a pair.
    by_token = (token * n + block).argsort()
    ordered_block, ordered_token = block[by_token], token[by_token]
    in_next = (ordered_token[1:] == ordered_token[:-1]) & (ordered_block[1:] == ordered_block[:-1] + 1)
    next_holds, previous_holds = np.zeros(len(block), dtype=bool), np.zeros(len(block), dtype=bool)
    next_holds[by_token[:-1]] = in_next
    previous_holds[by_token[1:]] = in_next
    long_next = np.concatenate((is_long[1:], [False]))[block]
    long_previous = np.concatenate(([False], is_long[:-1]))[block]
    nearby = (is_long[block].astype(np.int64)  # the block itself holds its own tokens
              + (next_holds & long_next) + (previous_holds & long_previous))
    hits = np.bincount(block, weights=(long_blocks_with[token] - nearby) > 0, minlength=n)
    total = np.bincount(block, minlength=n)
    return np.divide(hits, total, out=np.zeros(n), where=total > 0)


def page_features(blocks: list[Block], title_hint: str | None = None) -> Columns:
    """Feature columns for the blocks of one page, with neighbour and page context.

    ``title_hint`` is the title an HTML page announces about itself (``<title>``, ``og:title``);
    sites append their name to it, so it is compared by the share of the block's tokens it holds.
    A column absent from a page (``in_title_hint`` without a hint, HTML signals on plain text)
    reads as 0, as in scikit-learn's DictVectorizer.
    """
    n = len(blocks)
    if not n:
        return {}
    texts = [b.text for b in blocks]
    text = JoinedText.of(texts)
    page = PageTokens.from_texts(texts, text)
    cols = text_columns(texts, page, text)
    cols.update(_structure_columns(blocks))
    counts = page.counts
    index = np.arange(n)

    start, end = main_region(counts)
    in_region = (index >= start) & (index < end)
    # Share of a block's distinct tokens that recur in the main region (how a title relates to its
    # body). A block inside the region would match itself, so there it needs two region blocks.
    region_vocab = np.bincount(page.pair_token[in_region[page.pair_block]], minlength=len(page.vocabulary))
    recurs = region_vocab[page.pair_token] >= np.where(in_region[page.pair_block], 2, 1)
    cols["region_overlap"] = page.share(recurs)
    cols["in_region"] = in_region.astype(float)
    cols["before_region"] = _log_distance(start - index)  # 0 in the region and after it
    cols["after_region"] = _log_distance(index - end + 1)

    cohesion = topical_cohesion(page)
    cols["cohesion"] = cohesion
    cols["window_cohesion"] = _window_mean(cohesion, COHESION_WINDOW)

    # The title candidate ("anchor"): the headline-sized block its paragraphs echo most.
    support = headline_support(page)
    cols["headline_support"] = np.log1p(support)
    if support.max() > 0:
        anchor = int(np.argmax(support))
        anchor_tokens = np.zeros(max(len(page.vocabulary), 1), dtype=bool)
        anchor_tokens[page.pair_token[page.content & (page.pair_block == anchor)]] = True
        echo = page.per_block(page.content & anchor_tokens[page.pair_token])
        cols["anchor_echo"] = np.where(index != anchor, echo / anchor_tokens.sum(), 0.0)
        cols["is_anchor"] = (index == anchor).astype(float)
        cols["after_anchor"] = _log_distance(index - anchor)
        cols["before_anchor"] = _log_distance(anchor - index)

    lengths = text.lengths.astype(float)
    cols["rel_pos"] = index / n
    cols["chars_vs_max"] = lengths / max(lengths.max(), 1.0)
    repeats = Counter(texts)
    cols["repeated"] = (np.fromiter(map(repeats.__getitem__, texts), dtype=np.int64, count=n) > 1).astype(float)
    # A blurb is longer and more sentence-like than the headline right above it.
    headline_like = ((counts >= HEADLINE_TOKENS[0]) & (counts <= HEADLINE_TOKENS[1])
                     & ~_ending_with(text.ends, _HEADLINE_END))
    log_chars = cols["log_chars"]
    cols["longer_than_previous"] = np.concatenate(([0.0], log_chars[1:] - log_chars[:-1]))
    cols["previous_headline_like"] = np.concatenate(([0.0], headline_like[:-1].astype(float)))
    if title_hint:
        in_hint = page.vocabulary_mask(set(tokens(title_hint)))[page.pair_token]
        cols["in_title_hint"] = page.share(in_hint)
    cols.update(_neighbour_columns(cols, n))
    return cols


def _neighbour_columns(cols: Columns, n: int) -> Columns:
    """``n{offset}_{key}[i] = cols[key][i + offset]`` (0 beyond the page) and ``n{offset}_missing``.

    The copied columns go into one zero-padded matrix (an extra row of ones marks the page), and
    each shifted column is a view into it: one copy in all rather than one per column and offset.
    """
    keys = [key for key in NEIGHBOUR_KEYS if key in cols]
    reach = max(map(abs, NEIGHBOUR_OFFSETS))
    padded = np.zeros((len(keys) + 1, n + 2 * reach))
    for row, key in enumerate(keys):
        padded[row, reach:reach + n] = cols[key]
    padded[-1, reach:reach + n] = 1.0
    out: Columns = {}
    for offset in NEIGHBOUR_OFFSETS:
        shifted = padded[:, reach + offset:reach + offset + n]
        prefix = f"n{offset:+d}_"
        for row, key in enumerate(keys):
            out[prefix + key] = shifted[row]
        out[prefix + "missing"] = 1.0 - shifted[-1]
    return out


def _window_mean(values: np.ndarray, radius: int) -> np.ndarray:
    n = len(values)
    total = np.concatenate(([0.0], np.cumsum(values)))
    lo = np.maximum(np.arange(n) - radius, 0)
    hi = np.minimum(np.arange(n) + radius + 1, n)
    return (total[hi] - total[lo]) / (hi - lo)


def _log_distance(distance: np.ndarray) -> np.ndarray:
    """log1p of the distance, clipped to [0, MAX_DISTANCE]: 0 on the far side (distance <= 0)."""
    return np.log1p(np.minimum(np.maximum(distance, 0), MAX_DISTANCE))


def html_only_column(name: str) -> bool:
    """Whether only a page with HTML signals or a title hint has the column (``_structure_columns``,
    the neighbours' ``link_density``, ``in_title_hint``): on a plain-text page it reads 0."""
    return (name in ("is_html", "link_density", "depth", "in_title_hint") or name.startswith(("tag=", "hint="))
            or name.endswith("_link_density"))


def _structure_columns(blocks: list[Block]) -> Columns:
    """HTML signals; plain-text blocks have none. Tag and hint words become one-hot columns."""
    if blocks[0].tag is None:
        return {}
    n = len(blocks)
    cols: Columns = {
        "is_html": np.ones(n),
        "link_density": np.array([b.link_density or 0.0 for b in blocks]),
        "depth": np.log1p([b.depth or 0 for b in blocks]),
    }
    for i, block in enumerate(blocks):
        names = [f"tag={block.tag}"] + [f"hint={w}" for w in set((block.hints or "").split()) & HINT_WORDS]
        for name in names:
            if name not in cols:
                cols[name] = np.zeros(n)
            cols[name][i] = 1.0
    return cols


def featurize(pages: list) -> list[Columns]:
    """One column dict per page (``PageBlocks``, or a plain list of Blocks)."""
    return [page_features(page.blocks, page.title_hint) if isinstance(page, PageBlocks) else page_features(page)
            for page in pages]


def vectorize(pages: list[Columns], vocabulary: dict[str, int]) -> np.ndarray:
    """Column dicts (one per page) -> one dense matrix: a row per block, pages in order; column
    ``vocabulary[name]`` for each feature name. A name missing from a page reads as 0 and a name not
    in ``vocabulary`` is ignored (DictVectorizer's conventions, at the cost of one copy per column).

    The matrix is laid out feature by feature (Fortran order): a column is written in one contiguous
    copy, and the packed trees read it that way (``model.py``)."""
    sizes = [len(next(iter(page.values()))) if page else 0 for page in pages]
    by_feature = np.zeros((len(vocabulary), sum(sizes)))
    row = 0
    for page, size in zip(pages, sizes, strict=True):
        for name, values in page.items():
            j = vocabulary.get(name)
            if j is not None:
                by_feature[j, row:row + size] = values
        row += size
    return by_feature.T
