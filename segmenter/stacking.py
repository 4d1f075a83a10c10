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
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import GroupKFold

from segmenter.article import BODY, TEASER_BLURB, TEASER_HEADLINE, TITLE
from segmenter.sequence import body_region, region_weights

LEADING_COLUMNS = ("rel_pos", "log_chars")  # column 0 is 0 at a page's first block; column 1 is log1p(chars)
CONTEXT_OFFSETS = (-3, -2, -1, 1, 2, 3)
CONTEXT_RADII = (3, 10)
NO_REGION = 999.0  # distance to a region the page does not have

Proba = Callable[[BaseEstimator, np.ndarray], np.ndarray]


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


def _sklearn_proba(estimator: BaseEstimator, X: np.ndarray) -> np.ndarray:  # noqa: N803
    return estimator.predict_proba(X)


class TwoPassClassifier(ClassifierMixin, BaseEstimator):
    """A block classifier and a second one over its guesses in page context (see module docstring).

    ``first`` and ``second`` are unfitted classifiers (scikit-learn's default gradient-boosted trees if
    None; ``model.make_pipeline`` sets the shipped ones); ``n_folds``
    folds give the out-of-fold first-pass probabilities the second pass is trained on. The result
    is ``first_weight`` of the first pass's probabilities and the rest of the second's: the second
    pass sharpens, but on its own it can overrule a first pass that was right and sure.
    """

    def __init__(self, first: BaseEstimator | None = None, second: BaseEstimator | None = None,
                 n_folds: int = 4, first_weight: float = 0.0):
        self.first = first
        self.second = second
        self.n_folds = n_folds
        self.first_weight = first_weight

    def fit(self, X, y, sample_weight=None, groups=None):  # noqa: N803
        """``groups`` (one per row, e.g. the page's site) keep a group's rows in one fold; by
        default each page is its own group."""
        X = np.asarray(X, dtype=np.float64)  # noqa: N806
        y = np.asarray(y)
        weight = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        pages = page_slices(X)
        if groups is None:
            groups = np.repeat(np.arange(len(pages)), [s.stop - s.start for s in pages])
        first = self.first if self.first is not None else HistGradientBoostingClassifier()
        second = self.second if self.second is not None else HistGradientBoostingClassifier()
        self.first_ = clone(first).fit(X, y, sample_weight=weight)
        self.classes_ = self.first_.classes_
        out_of_fold = np.zeros((len(y), len(self.classes_)))
        n_groups = len(np.unique(groups))
        if n_groups < 2:
            raise ValueError("the second pass needs out-of-fold guesses: give at least two groups (pages or sites)")
        folds = GroupKFold(min(self.n_folds, n_groups))
        for train, test in folds.split(X, y, groups):
            fold = clone(first).fit(X[train], y[train], sample_weight=weight[train])
            columns = np.searchsorted(self.classes_, fold.classes_)  # a class absent from a fold stays 0
            out_of_fold[np.ix_(test, columns)] = fold.predict_proba(X[test])
        self.second_ = clone(second).fit(self._second_input(X, out_of_fold, pages), y, sample_weight=weight)
        return self

    def predict_proba(self, X) -> np.ndarray:  # noqa: N803
        return self.two_pass_proba(np.asarray(X, dtype=np.float64), _sklearn_proba)

    def predict(self, X) -> np.ndarray:  # noqa: N803
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def two_pass_proba(self, X: np.ndarray, proba: Proba) -> np.ndarray:  # noqa: N803
        """Both passes, each classifier's probabilities computed by ``proba(classifier, X)`` (so a
        faster evaluator of the same trees can stand in for ``predict_proba``)."""
        if not len(X):
            return np.zeros((0, len(self.classes_)))
        first = proba(self.first_, X)
        second = proba(self.second_, self._second_input(X, first, page_slices(X)))
        if not self.first_weight:
            return second
        return self.first_weight * first + (1.0 - self.first_weight) * second

    def _second_input(self, X: np.ndarray, first: np.ndarray, pages: list[slice]) -> np.ndarray:  # noqa: N803
        chars = np.expm1(X[:, 1])
        classes = [str(c) for c in self.classes_]
        context = np.vstack([context_columns(first[page], chars[page], classes) for page in pages])
        # Feature by feature (Fortran order), as ColumnVectorizer lays out X: the packed trees read
        # it without a copy, and X's columns are copied in one piece.
        return np.vstack([X.T, context.T]).T

