"""The block classifier: a scikit-learn Pipeline, its training, and safe save/load.

    BlockFeaturizer (pages -> feature columns) -> ColumnVectorizer
        -> TwoPassClassifier (gradient-boosted trees, then trees over their guesses in context)

Gradient-boosted trees because the features interact (a long line is body inside the main region
and a blurb outside it) and need no scaling. The second pass (stacking.py) reads the first pass's
probabilities around each block; it raised cross-validated mean shingle F1 from 0.9185 to 0.9308
(held-out scrapinghub text 0.883 -> 0.914) at about 6% more prediction cost than the single
20-round model it replaced, as the first pass now needs only 10 rounds. Few, larger trees because
predicting costs per tree and per row. The model is saved with skops, which loads only the types
we list as trusted, never arbitrary pickled code.

Predicting one page (about 125 rows) through scikit-learn costs one call per tree, each walking
the rows one at a time; ``predict_proba`` below instead packs the fitted trees into flat arrays
(``PackedForest``, built once per fitted classifier) and walks every (tree, row) pair at once
with numpy, for the same probabilities bit for bit. On a plain-text page, where every column of
HTML signals is 0, the walk skips the nodes that test one (packed once more without them). The
Pipeline itself is unchanged.
"""
from __future__ import annotations

import json
import weakref
from dataclasses import dataclass
from functools import lru_cache, partial
from importlib import resources
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from threadpoolctl import ThreadpoolController

from segmenter.features import BlockFeaturizer, ColumnVectorizer, html_only_column
from segmenter.stacking import LEADING_COLUMNS, TwoPassClassifier

MODEL_FILE = "model.skops"
MANIFEST_FILE = "manifest.json"
RANDOM_STATE = 13
# Boosting rounds of each pass (5 trees a round, one per class); see benchmarks/segmentation.py.
FIRST_PASS_ROUNDS = 10
SECOND_PASS_ROUNDS = 20
# Share of the first pass in the final probabilities. In 4-fold CV by site any share from 0 to 0.4
# scored the same within 0.001 (mean body F1 0.934); with none, the second pass alone overruled a
# sure and right first pass on the example page (its title at the very top).
FIRST_PASS_WEIGHT = 0.3


def make_pipeline(random_state: int = RANDOM_STATE) -> Pipeline:
    """The untrained pipeline. X is a list of pages (lists of Blocks); y one label per block."""
    def trees(rounds: int, leaves: int) -> HistGradientBoostingClassifier:
        return HistGradientBoostingClassifier(
            max_iter=rounds, learning_rate=0.3, max_leaf_nodes=leaves, l2_regularization=1.0,
            early_stopping=False, random_state=random_state)

    return Pipeline([
        ("features", BlockFeaturizer()),
        ("vectorizer", ColumnVectorizer(leading=LEADING_COLUMNS)),
        ("classifier", TwoPassClassifier(first=trees(FIRST_PASS_ROUNDS, 63), second=trees(SECOND_PASS_ROUNDS, 15),
                                         first_weight=FIRST_PASS_WEIGHT)),
    ])


def fit_pipeline(pages: list, labels: list[list[str]], weights: list[list[float]],
                 random_state: int = RANDOM_STATE, groups: list[str] | None = None) -> Pipeline:
    """Fit on pages (``PageBlocks``); ``labels`` and ``weights`` give one value per block, ``groups``
    one per page (its site: the second pass learns from first-pass guesses on unseen sites; by
    default each page is its own group)."""
    y = np.array([label for page in labels for label in page])
    w = np.array([weight for page in weights for weight in page], dtype=float)
    g = None if groups is None else np.repeat(np.array(groups, dtype=object), [len(page) for page in labels])
    pipeline = make_pipeline(random_state)
    pipeline.fit(pages, y, classifier__sample_weight=w, classifier__groups=g)
    return pipeline


def save_model(pipeline: Pipeline, directory: Path, manifest: dict) -> Path:
    import skops.io

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / MODEL_FILE
    skops.io.dump(pipeline, path)
    (directory / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    return path


def load_model(path: Path | str) -> Pipeline:
    """Load a skops model file, trusting only the types a model of ours contains."""
    import skops.io

    untrusted = skops.io.get_untrusted_types(file=path)
    unexpected = [t for t in untrusted if not _expected_type(t)]
    if unexpected:
        raise ValueError(f"{path}: refusing to load unexpected types {unexpected}")
    return skops.io.load(path, trusted=untrusted)


def _expected_type(name: str) -> bool:
    ours = ("sklearn.", "segmenter.features.", "segmenter.stacking.", "numpy.")
    return name.startswith(ours) or name in ("builtins.dict",)


def default_model_path() -> Path:
    return Path(str(resources.files("segmenter.data").joinpath(MODEL_FILE)))


@lru_cache(maxsize=4)
def shipped_model(path: str | None = None) -> Pipeline:
    """The model shipped in data/ (or at ``path``), loaded once per process."""
    return load_model(path or default_model_path())


def predict_proba(pipeline: Pipeline, X) -> np.ndarray:  # noqa: N803 (scikit-learn's naming)
    """``pipeline.predict_proba(X)``, evaluating each HistGradientBoostingClassifier's trees all at once.

    Anything the packed trees do not cover (another classifier, categorical splits, missing values)
    goes through scikit-learn's own ``predict_proba``.
    """
    *transforms, (_, classifier) = pipeline.steps
    if not isinstance(classifier, (TwoPassClassifier, HistGradientBoostingClassifier)):
        with _one_openmp_thread():
            return pipeline.predict_proba(X)
    for _, step in transforms:
        if step is not None and step != "passthrough":
            X = step.transform(X)  # noqa: N806
    X = np.asarray(X, dtype=np.float64)  # noqa: N806 (as scikit-learn's validation does; any memory layout)
    # (the second pass's input starts with X's columns: a column 0 in X is 0 there too)
    proba = partial(trees_predict_proba, zero_columns=_zero_html_columns(transforms, X))
    if isinstance(classifier, TwoPassClassifier):
        return classifier.two_pass_proba(X, proba)
    return proba(classifier, X)


def trees_predict_proba(classifier, X: np.ndarray, zero_columns: tuple[int, ...] = ()) -> np.ndarray:  # noqa: N803
    """``classifier.predict_proba(X)`` through its packed trees when it has them. ``zero_columns``:
    columns the caller knows to be 0 in every row of X (the trees skip the nodes that test them)."""
    forest = packed_forest(classifier, zero_columns)
    if forest is None or X.ndim != 2 or X.shape[1] != forest.n_features or np.isnan(X).any():
        with _one_openmp_thread():
            return classifier.predict_proba(X)
    return classifier._loss.predict_proba(forest.raw_predict(X))


def _one_openmp_thread():
    """For scikit-learn's own prediction: one page is a few hundred rows, where OpenMP threads cost
    more than they bring, and on a busy machine (web or batch workers) they made a page take 30x
    longer. The packed trees use no threads and need no limit."""
    return _thread_pools().limit(limits=1, user_api="openmp")


# Per ColumnVectorizer: (its feature names, the columns of HTML signals among them as a tuple and as
# an index array), weakly keyed.
_HTML_COLUMNS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _zero_html_columns(transforms: list, X: np.ndarray) -> tuple[int, ...]:  # noqa: N803
    """The columns of HTML signals (``features.html_only_column``) if every one of them is 0 in X, as on
    plain-text pages, else none. On a plain-text page 15% of the nodes the trees visit test one of
    them, and need not be walked (see ``PackedForest.from_classifier``)."""
    vectorizer = next((step for _, step in transforms if isinstance(step, ColumnVectorizer)), None)
    if vectorizer is None or not hasattr(vectorizer, "feature_names_"):
        return ()
    cached = _HTML_COLUMNS.get(vectorizer)
    if cached is None or cached[0] is not vectorizer.feature_names_:  # (a refit makes a new list)
        names = vectorizer.feature_names_
        columns = tuple(j for j, name in enumerate(names) if html_only_column(name))
        cached = (names, columns, np.array(columns, dtype=np.intp))
        _HTML_COLUMNS[vectorizer] = cached
    _, columns, index = cached
    # (X.T: the columns are its rows, contiguous in the Fortran-ordered matrix ColumnVectorizer makes)
    return columns if columns and X.ndim == 2 and not X.T.take(index, axis=0).any() else ()


@lru_cache(maxsize=1)
def _thread_pools() -> ThreadpoolController:
    """Inspecting the loaded thread pools costs milliseconds: do it once per process."""
    return ThreadpoolController()


# Packings per fitted classifier: (its predictor list, its tree count, {zero columns: the packing or
# None}). Weak keys, so a discarded model takes its packings along; a refit replaces or extends the
# predictor list, and is then packed again.
_PACKED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def packed_forest(classifier, zero_columns: tuple[int, ...] = ()) -> PackedForest | None:
    """The classifier's trees, packed once per fit (and per ``zero_columns``, the columns known to
    be 0, whose tests are skipped); None if it is not a packable fitted HGB."""
    if not isinstance(classifier, HistGradientBoostingClassifier) or not hasattr(classifier, "_predictors"):
        return None
    predictors = classifier._predictors
    trees = sum(map(len, predictors))
    cached = _PACKED.get(classifier)
    if cached is None or cached[0] is not predictors or cached[1] != trees:
        cached = (predictors, trees, {})
        _PACKED[classifier] = cached
    packings = cached[2]
    if zero_columns not in packings:
        packings[zero_columns] = PackedForest.from_classifier(classifier, zero_columns)
    return packings[zero_columns]


# The (tree, row) pairs that reached a leaf are dropped from the walk each time the share of
# training rows still walking (from the leaves' depths and row counts) has fallen to this share of
# what it was at the last drop: a drop costs a few array copies, so it pays only once many have
# finished, and that happens at different depths in a forest of deep trees and one of shallow ones
# (shipped model: after levels 4, 8, 12, ... of the first pass, 3, 5, 7, ... of the second; on an
# earlier model of the same shapes this made the second pass's walk 10% cheaper than a drop after
# 6 levels, then every 3).
DROP_SHARE = 0.5


@dataclass(frozen=True)
class PackedForest:
    """All trees of a fitted HistGradientBoostingClassifier in flat arrays, evaluated together.

    Node ``i`` of the concatenated trees lives in slot ``2 * i``, and ``child[2 * i + go_right]``
    is the slot of the child taken, so a level is one lookup per array with no branching. Leaves
    are their own children (threshold +inf: never go right), so a (tree, row) pair that reached its
    leaf stays there until dropped. Comparisons are scikit-learn's (left if ``x <= threshold``).
    """

    per_iteration: int      # trees per boosting iteration (one per class; one in all for two classes)
    n_features: int
    roots: np.ndarray       # slot of each tree's root, in scikit-learn's order (iteration, class)
    feature: np.ndarray     # per slot: the feature its node tests
    threshold: np.ndarray   # per slot: go right if the feature's value is above this
    child: np.ndarray       # per slot + go_right: the child's slot
    is_inner: np.ndarray    # per slot: not a leaf
    value: np.ndarray       # per slot: the leaf's raw value
    baseline: np.ndarray    # raw prediction before any tree, shape (1, per_iteration)
    drop_after: tuple[int, ...]  # levels after which pairs at a leaf are dropped (see DROP_SHARE)

    @classmethod
    def from_classifier(cls, classifier: HistGradientBoostingClassifier,
                        zero_columns: tuple[int, ...] = ()) -> PackedForest | None:
        """Pack the fitted trees; None if there are none or any split is categorical. The packing
        is for rows whose ``zero_columns`` are 0: a node testing one of them is skipped."""
        nodes = [predictor.nodes for iteration in classifier._predictors for predictor in iteration]
        if not nodes or classifier._preprocessor is not None or any(n["is_categorical"].any() for n in nodes):
            return None
        sizes = np.array([len(n) for n in nodes], dtype=np.intp)
        first = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        flat = np.concatenate(nodes)
        leaf = flat["is_leaf"].astype(bool)
        tree_start = np.repeat(first, sizes)  # node indices in a tree count from its first node
        index = np.arange(len(flat), dtype=np.intp)
        left = np.where(leaf, index, flat["left"].astype(np.intp) + tree_start)
        right = np.where(leaf, index, flat["right"].astype(np.intp) + tree_start)
        # A node testing a column that is 0 sends every row to the child 0 goes to: whatever leads to
        # the node (its parent, or its tree's root) leads to that child instead, or to the child's
        # own such child, and so on (followed by pointer jumping). The skipped nodes stay unreached.
        skipped = ~leaf & np.isin(flat["feature_idx"], zero_columns)
        target = np.where(skipped, np.where(0.0 > flat["num_threshold"], right, left), index)
        while skipped[target].any():
            target = target[target]
        left, right, roots = target[left], target[right], target[first]
        depth = _depths(roots, left, right, leaf)
        reached_leaf = leaf & (depth >= 0)
        return cls(
            per_iteration=classifier.n_trees_per_iteration_,
            n_features=classifier.n_features_in_,
            roots=2 * roots,
            feature=np.repeat(np.where(leaf, 0, flat["feature_idx"]).astype(np.intp), 2),
            threshold=np.repeat(np.where(leaf, np.inf, flat["num_threshold"]), 2),
            child=2 * np.stack([left, right], axis=1).ravel(),
            is_inner=np.repeat(~leaf, 2),
            value=np.repeat(flat["value"], 2),
            baseline=np.array(classifier._baseline_prediction, dtype=np.float64),
            drop_after=drop_levels(depth[reached_leaf], flat["count"][reached_leaf]),
        )

    def raw_predict(self, X: np.ndarray) -> np.ndarray:  # noqa: N803
        """Raw predictions (n_rows, per_iteration) of a float64 matrix without NaN, summed in
        scikit-learn's order, so the result is bit for bit its ``_raw_predict``."""
        n, trees = len(X), len(self.roots)
        # Feature by feature: row r's value of feature f at f * n + r (no copy of a Fortran-ordered
        # X, as ColumnVectorizer makes it), so the rows at one node read neighbouring values.
        values = np.ascontiguousarray(X.T).ravel()
        feature_start = self.feature * n  # per slot: where its feature's values start
        # One entry per (tree, row) pair still walking: its current slot, its index, its row. Tree
        # by tree, so neighbouring pairs read the same few nodes (13% faster).
        pair = np.arange(trees * n)
        row = np.tile(np.arange(n), trees)
        # The first level needs no node lookups: all pairs of a tree are at its root, and compare a
        # row of the feature-by-feature values (as many as there are rows) with its threshold.
        at_root = values.reshape(X.shape[1], n)[self.feature.take(self.roots)]
        go_right = at_root > self.threshold.take(self.roots)[:, None]
        slot = self.child.take(self.roots.repeat(n) + go_right.ravel())
        final = np.empty(trees * n, dtype=np.intp)  # each pair's slot when last seen: its leaf at the end
        walked, drops = 1, iter(self.drop_after)
        while len(slot):
            drop_at = next(drops, walked + 1)  # (all pairs are at a leaf by the last drop level)
            for _ in range(drop_at - walked):
                go_right = values.take(row + feature_start.take(slot)) > self.threshold.take(slot)
                slot = self.child.take(slot + go_right)
            walked = drop_at
            final[pair] = slot
            walking = self.is_inner.take(slot).nonzero()[0]
            slot, pair, row = slot.take(walking), pair.take(walking), row.take(walking)
        # The baseline, then each iteration's leaf values: summed over the first axis, one after the
        # other (numpy adds pairwise only along the contiguous axis), as scikit-learn adds them.
        summands = np.empty((trees // self.per_iteration + 1, self.per_iteration, n))
        summands[0] = self.baseline.T
        summands[1:] = self.value.take(final).reshape(len(summands) - 1, self.per_iteration, n)
        return summands.sum(axis=0).T


def _depths(roots: np.ndarray, left: np.ndarray, right: np.ndarray, leaf: np.ndarray) -> np.ndarray:
    """Each node's depth below its tree's root, following ``left`` and ``right``; -1 if unreached."""
    depth = np.full(len(leaf), -1)
    level, nodes = 0, roots
    while len(nodes):
        depth[nodes] = level
        inner = nodes[~leaf[nodes]]
        level, nodes = level + 1, np.concatenate((left[inner], right[inner]))
    return depth


def drop_levels(leaf_depth: np.ndarray, leaf_rows: np.ndarray) -> tuple[int, ...]:
    """The levels after which to drop finished pairs: each level where the share of training rows
    still walking (not yet at their leaf) has fallen to ``DROP_SHARE`` of that at the last drop.
    The deepest leaf's level comes last, so every pair has finished by then."""
    rows = leaf_rows.astype(float) + 1e-9  # every leaf weighs something, even without row counts
    walking = [rows[leaf_depth > level].sum() / rows.sum() for level in range(int(leaf_depth.max()) + 1)]
    drops, at_last_drop = [], 1.0
    for level, share in enumerate(walking[1:], start=1):
        if share <= at_last_drop * DROP_SHARE or level == len(walking) - 1:
            drops.append(level)
            at_last_drop = share
    return tuple(drops)
