"""Two passes over a page's blocks: the second classifier reads the first one's guesses in context.

A block's own features say little about where the article is; the first pass's probabilities for
the blocks around it say much more (a paragraph among believed body paragraphs is body, a line
between two teaser headlines is a blurb, the block the region starts under is the title). This is
stacked generalisation over the sequence ("auto-context"):

    first pass   features                         -> probabilities per block
    context      those probabilities, for the block, its neighbours, windows around it and the
                 page (distance to the likeliest body region and to the likeliest title)
    second pass  features + context               -> probabilities per block

The second pass is trained on out-of-fold first-pass probabilities (folds by ``groups``: the site
in training), so it learns how far to trust the first pass on pages that pass has never seen.

Page boundaries and block lengths come from two leading feature columns (``LEADING_COLUMNS``,
placed first by ``ColumnVectorizer``): a page starts where its relative position is 0.

This module is the pure part, shared by the compiled model (``model.py``) and the scikit-learn
estimator that fits the two passes (``estimators.TwoPassClassifier``).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from segmenter.article import BODY, TEASER_BLURB, TEASER_HEADLINE, TITLE
from segmenter.sequence import body_region, region_weights

LEADING_COLUMNS = ("rel_pos", "log_chars")  # column 0 is 0 at a page's first block; column 1 is log1p(chars)
CONTEXT_OFFSETS = (-3, -2, -1, 1, 2, 3)
CONTEXT_RADII = (3, 10)
NO_REGION = 999.0  # distance to a region the page does not have

Proba = Callable[[np.ndarray], np.ndarray]  # a classifier's probabilities (rows x classes) of a matrix


def page_slices(X: np.ndarray) -> list[slice]:  # noqa: N803 (scikit-learn's naming)
    """The rows of each page: a page starts where the relative-position column is 0."""
    starts = np.flatnonzero(X[:, 0] == 0).tolist()
    if not starts or starts[0] != 0:
        starts = [0, *starts]
    return [slice(a, b) for a, b in zip(starts, [*starts[1:], len(X)], strict=True)]


def context_columns(proba: np.ndarray, chars: np.ndarray, classes: list[str]) -> np.ndarray:
    """Second-pass context for one page's blocks from the first pass's ``proba`` (blocks x classes)."""
    n, k = proba.shape
    def column(label: str) -> np.ndarray:  # a class the classifier never saw has probability 0
        return proba[:, classes.index(label)] if label in classes else np.zeros(n)

    body, title = column(BODY), column(TITLE)
    teaser = column(TEASER_HEADLINE) + column(TEASER_BLURB)
    weight = region_weights(chars)
    index = np.arange(n)
    reach = max(map(abs, CONTEXT_OFFSETS))
    padded = np.zeros((n + 2 * reach, k))
    padded[reach:reach + n] = proba
    # Each block's neighbours at an offset: a slice of the zero-padded probabilities (slices that
    # hstack copies once cost half of a gather of all offsets at once).
    out = [proba, *(padded[reach + offset:reach + offset + n] for offset in CONTEXT_OFFSETS)]
    # Length-weighted means of body and teaser probability over each block's window of ``radius``
    # blocks each side, from the running sums of body mass, teaser mass and weight: row ``pad + i``
    # sums the blocks before block i, and the padding rows repeat the sums of none and of all, so
    # that a window clipped at the page's edges is still the difference of two slices.
    pad = max(CONTEXT_RADII)
    running = np.zeros((pad + n + 1 + pad, 3))
    np.cumsum(np.column_stack([body * weight, teaser * weight, weight]), axis=0, out=running[pad + 1:pad + n + 1])
    running[pad + n + 1:] = running[pad + n]
    for radius in CONTEXT_RADII:
        window = running[pad + radius + 1:pad + radius + 1 + n] - running[pad - radius:pad - radius + n]
        out.append(window[:, :2] / window[:, 2:])  # body, teaser

    start, end = body_region(body, weight)  # the likeliest body region, as the sequence step finds it
    if end > start:
        to_region = np.where(index < start, index - start, np.where(index >= end, index - end + 1, 0))
    else:
        to_region = np.full(n, NO_REGION)
    best_title = int(np.argmax(title))
    body_mass = running[pad + 1:pad + n + 1, 0]
    page_wide = np.empty((n, 8))  # (constants broadcast down their column)
    page_wide[:, 0] = _signed_log(to_region)
    page_wide[:, 1] = to_region == 0
    page_wide[:, 2] = _signed_log(index - best_title)
    page_wide[:, 3] = title[best_title]
    page_wide[:, 4] = body.max()
    page_wide[:, 5] = body_mass / max(body_mass[-1], 1e-9)
    page_wide[:, 6] = np.log1p(n)
    page_wide[:, 7] = title >= title[best_title]
    out.append(page_wide)
    return np.hstack(out)


def _signed_log(values: np.ndarray) -> np.ndarray:
    return np.sign(values) * np.log1p(np.abs(values))


def context_width(n_classes: int) -> int:
    """How many columns ``context_columns`` makes for ``n_classes`` classes (counted on one block, so
    that it cannot drift from them)."""
    return context_columns(np.full((1, n_classes), 1.0 / n_classes), np.ones(1), []).shape[1]


def second_input(X: np.ndarray, first: np.ndarray, classes: list[str]) -> np.ndarray:  # noqa: N803
    """The second pass's matrix: X's columns, then each page's context columns from the first pass's
    probabilities ``first`` (rows x classes)."""
    chars = np.expm1(X[:, 1])
    context = np.vstack([context_columns(first[page], chars[page], classes) for page in page_slices(X)])
    # Feature by feature (Fortran order), as ``features.vectorize`` lays out X: the packed trees read
    # it without a copy, and X's columns are copied in one piece.
    return np.vstack([X.T, context.T]).T


def two_pass_proba(X: np.ndarray, first: Proba, second: Proba, classes: list[str],  # noqa: N803
                   first_weight: float) -> np.ndarray:
    """Both passes over X (pages stacked, ``LEADING_COLUMNS`` first): the result is ``first_weight``
    of the first pass's probabilities and the rest of the second's."""
    if not len(X):
        return np.zeros((0, len(classes)))
    first_proba = first(X)
    second_proba = second(second_input(X, first_proba, classes))
    if not first_weight:
        return second_proba
    return first_weight * first_proba + (1.0 - first_weight) * second_proba
