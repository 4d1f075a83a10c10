"""Normalisation and word n-gram shingling, with a fast vectorised shingle hash.

The pipeline for one text is ``normalize -> tokens -> shingles -> 32-bit hashes``:

* ``normalize``: Unicode NFKC and case folding (of the first ``MAX_TEXT_CHARS`` characters),
  every run of punctuation/whitespace folded into one space. CJK characters (Han, kana, Hangul)
  become one token each, so CJK text is shingled by characters, other scripts by words.
* ``tokens``: the normalised words, each cut to ``MAX_TOKEN_CHARS``.
* ``shingles(text, n)``: the space-joined word n-grams (a text shorter than ``n`` words gives one
  shingle of all its words; an empty text gives none).
* ``shingle_hashes`` computes the hash of every shingle of many texts at once with numpy: a
  polynomial hash of each token's code points (mod 2**64, Horner's rule run on all tokens at
  once, so no Python loop per token), then a polynomial over the ``n`` token hashes and the
  MurmurHash3 64-bit finaliser. ``shingle_hash32`` is the same function of one shingle, written
  plainly; it is the ``hashfunc`` to give a datasketch ``MinHash`` so that it computes exactly
  our signatures.

Why not SHA-1 per shingle (datasketch's default)? It costs a Python call per shingle, which alone
caps signatures at a few thousand documents per second; ``DedupConfig(hash="sha1")`` still
selects it when signatures must equal datasketch's defaults bit for bit.
"""
from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence

import numpy as np

# Han, kana and Hangul: each character is a token (CJK is written without spaces between words).
_CJK_RANGES = ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xAC00, 0xD7AF), (0xF900, 0xFAFF))
_CJK = re.compile("([" + "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in _CJK_RANGES) + "])")
_NON_WORD = re.compile(r"[\W_]+")

_MASK64 = (1 << 64) - 1
# Odd 64-bit multipliers (from splitmix64 / MurmurHash3); any odd constants would do.
TOKEN_BASE = 0x9E3779B97F4A7C15      # polynomial base over a token's code points
SHINGLE_BASE = 0xBF58476D1CE4E5B9    # polynomial base over the n token hashes of a shingle
# Longer tokens are cut to their first characters (they are base64, hashes or glued OCR lines).
MAX_TOKEN_CHARS = 64
# Only the start of a longer text is signed: news texts are far shorter, and this bounds the
# memory of one signature (about 30 bytes per character while hashing) whatever a user sends.
MAX_TEXT_CHARS = 2_000_000
_FMIX64 = (33, 0xFF51AFD7ED558CCD, 33, 0xC4CEB9FE1A85EC53, 33)


def normalize(text: str) -> str:
    """NFKC, case-fold, one space between tokens; each CJK character is its own token."""
    text = fold(text)
    if _CJK.search(text):
        text = _CJK.sub(r" \1 ", text)
    return _NON_WORD.sub(" ", text).strip()


def tokens(text: str) -> list[str]:
    """The normalised tokens of ``text``."""
    norm = normalize(text)
    return [token[:MAX_TOKEN_CHARS] for token in norm.split(" ")] if norm else []


def shingles(text: str, ngram: int) -> list[str]:
    """Space-joined word ``ngram``-grams of ``text``, in order (duplicates kept).

    A text of fewer than ``ngram`` tokens gives one shingle of all its tokens, so that very short
    texts still have a signature; an empty text gives no shingle.
    """
    toks = tokens(text)
    if not toks:
        return []
    if len(toks) < ngram:
        return [" ".join(toks)]
    return [" ".join(toks[i:i + ngram]) for i in range(len(toks) - ngram + 1)]


def _fmix64_int(value: int) -> int:
    s1, m1, s2, m2, s3 = _FMIX64
    value ^= value >> s1
    value = (value * m1) & _MASK64
    value ^= value >> s2
    value = (value * m2) & _MASK64
    return value ^ (value >> s3)


def token_hash64(token: str) -> int:
    """Polynomial hash of a token's code points mod 2**64, then finalised (plain Python)."""
    value = 0
    for char in token[:MAX_TOKEN_CHARS]:
        value = (value * TOKEN_BASE + ord(char)) & _MASK64
    return _fmix64_int(value)


def shingle_hash32(shingle: bytes | str) -> int:
    """32-bit hash of one shingle (space-joined tokens); a datasketch ``hashfunc``.

    ``MinHash(hashfunc=shingle_hash32, ...)`` updated with ``shingles(text, n)`` gives the same
    hash values as ``signatures([text], config)`` with the default ``hash="fast"``.
    """
    if isinstance(shingle, bytes):
        shingle = shingle.decode("utf-8")
    value = 0
    for token in shingle.split(" "):
        value = (value * SHINGLE_BASE + token_hash64(token)) & _MASK64
    return _fmix64_int(value) >> 32


def fmix64(values: np.ndarray) -> np.ndarray:
    """MurmurHash3 64-bit finaliser, element-wise on a uint64 array (wrapping arithmetic)."""
    s1, m1, s2, m2, s3 = (np.uint64(c) for c in _FMIX64)
    values = values ^ (values >> s1)
    values = values * m1
    values = values ^ (values >> s2)
    values = values * m2
    return values ^ (values >> s3)


_WORD, _CJK_FLAG = np.uint8(1), np.uint8(2)


@functools.lru_cache(maxsize=1)
def _bmp_table() -> np.ndarray:
    """Flags for every code point of the Basic Multilingual Plane: 1 = word character, 2 = CJK.

    A word character is what ``normalize`` keeps (``str.isalnum``, i.e. regex ``\\w`` without
    ``_``); built once, in about 10 ms, so that tokenising needs no regex and no Python loop.
    """
    chars = "".join(map(chr, range(0x10000)))
    table = np.array([c.isalnum() for c in chars], dtype=np.uint8)
    for low, high in _CJK_RANGES:
        table[low:high + 1] |= table[low:high + 1] << 1
    return table


def _classify(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(is word character, is CJK character) of each code point."""
    astral = np.flatnonzero(codes > 0xFFFF)
    if len(astral):  # rare (emoji, historic scripts): ask Python
        flags = _bmp_table()[np.minimum(codes, 0xFFFF)]
        flags[astral] = [chr(c).isalnum() for c in codes[astral].tolist()]
    else:
        flags = _bmp_table()[codes]
    return (flags & _WORD).astype(bool), (flags & _CJK_FLAG).astype(bool)


def _token_bounds(is_word: np.ndarray, is_cjk: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(starts, exclusive ends) of tokens: runs of word characters, each CJK character alone."""
    if is_cjk is None or not is_cjk.any():
        edges = np.diff(is_word.view(np.int8), prepend=np.int8(0), append=np.int8(0))
        return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    prev_word = np.concatenate(([False], is_word[:-1]))
    prev_cjk = np.concatenate(([False], is_cjk[:-1]))
    next_word = np.concatenate((is_word[1:], [False]))
    next_cjk = np.concatenate((is_cjk[1:], [False]))
    starts = np.flatnonzero(is_word & (~prev_word | is_cjk | prev_cjk))
    ends = np.flatnonzero(is_word & (~next_word | is_cjk | next_cjk)) + 1
    return starts, ends


def _token_hashes(folded: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of all tokens of the NFKC-folded, case-folded texts, and each token's text index.

    Vectorised Horner's rule: tokens sorted by length, then for k = 0, 1, ... every token longer
    than k takes ``h = h * BASE + code[start + k]`` (a prefix of the sorted tokens, so no masks);
    uint64 arithmetic wraps, which is the mod 2**64 of ``token_hash64``. Work is one step per
    character, memory a few words per token. Tokens are cut to ``MAX_TOKEN_CHARS``.
    """
    joined = " ".join(folded)  # a space never belongs to a token, so tokens cannot span texts
    if joined.isascii():  # most text: one byte per character, a quarter of the memory traffic
        codes = np.frombuffer(joined.encode("ascii"), dtype=np.uint8)
        is_word = _bmp_table()[:128].astype(bool)[codes]
        starts, ends = _token_bounds(is_word, None)
    else:
        codes = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        is_word, is_cjk = _classify(codes)
        starts, ends = _token_bounds(is_word, is_cjk)
    text_ends = np.cumsum([len(t) + 1 for t in folded])
    token_text = np.searchsorted(text_ends, starts, side="right")
    lengths = np.minimum(ends - starts, MAX_TOKEN_CHARS)
    # longest first; uint8 keys make numpy's stable sort a radix sort (linear time)
    order = np.argsort((MAX_TOKEN_CHARS - lengths).astype(np.uint8), kind="stable")
    sorted_lengths = lengths[order]
    active = np.searchsorted(-sorted_lengths, -np.arange(1, MAX_TOKEN_CHARS + 1), side="right")
    hashes = np.zeros(len(starts), dtype=np.uint64)
    positions = starts[order]
    base = np.uint64(TOKEN_BASE)
    with np.errstate(over="ignore"):
        for count in active.tolist():
            if count == 0:
                break
            head = hashes[:count]
            head *= base
            head += codes[positions[:count]]
            positions[:count] += 1
    out = np.empty_like(hashes)
    out[order] = hashes
    return _fmix64_inplace(out), token_text


def fold(text: str) -> str:
    """NFKC then case folding of the first ``MAX_TEXT_CHARS`` characters (whole-string steps)."""
    return unicodedata.normalize("NFKC", text[:MAX_TEXT_CHARS]).casefold()


def shingle_hashes(texts: Sequence[str], ngram: int) -> tuple[np.ndarray, np.ndarray]:
    """32-bit hashes of the shingles of many texts at once.

    Returns (hashes as uint32, offsets) where the shingles of text ``i`` are
    ``hashes[offsets[i]:offsets[i + 1]]``; equal to ``shingle_hash32`` of each of ``shingles()``.
    """
    count = len(texts)
    if count == 0:
        return np.zeros(0, np.uint32), np.zeros(1, np.int64)
    token_h, token_doc = _token_hashes([fold(t) for t in texts])
    per_doc = np.bincount(token_doc, minlength=count)
    span = len(token_h) - ngram + 1
    if span > 0:
        acc = token_h[:span].copy()
        with np.errstate(over="ignore"):
            for k in range(1, ngram):
                acc *= np.uint64(SHINGLE_BASE)
                acc += token_h[k:k + span]
        hashes = acc[token_doc[:span] == token_doc[ngram - 1:]]  # n-grams inside one text
    else:
        hashes = np.zeros(0, np.uint64)
    per_text = np.maximum(per_doc - ngram + 1, 0)
    short = np.flatnonzero((per_doc > 0) & (per_doc < ngram))
    if len(short):  # texts shorter than one n-gram: one shingle of all their tokens
        hashes = _with_short_texts(hashes, per_text, short, token_h, per_doc)
        per_text[short] = 1
    offsets = np.concatenate(([0], np.cumsum(per_text)))
    return (_fmix64_inplace(hashes) >> np.uint64(32)).astype(np.uint32), offsets


def _with_short_texts(hashes: np.ndarray, per_text: np.ndarray, short: np.ndarray, token_h: np.ndarray,
                      per_doc: np.ndarray) -> np.ndarray:
    """Insert the one shingle of each short text at its place among the n-gram hashes."""
    firsts = np.concatenate(([0], np.cumsum(per_doc)))
    extra = []
    for doc in short.tolist():
        value = 0
        for th in token_h[firsts[doc]:firsts[doc + 1]].tolist():
            value = (value * SHINGLE_BASE + th) & _MASK64
        extra.append(value)
    places = np.concatenate(([0], np.cumsum(per_text)))[short]
    return np.insert(hashes, places, np.array(extra, dtype=np.uint64))


def _fmix64_inplace(values: np.ndarray) -> np.ndarray:
    """``fmix64`` overwriting ``values`` (no temporaries beyond the shifts)."""
    s1, m1, s2, m2, s3 = (np.uint64(c) for c in _FMIX64)
    with np.errstate(over="ignore"):
        values ^= values >> s1
        values *= m1
        values ^= values >> s2
        values *= m2
        values ^= values >> s3
    return values
