"""The block classifier at inference: predicting with the trained Pipeline through packed trees.

The model is a scikit-learn Pipeline, trained and saved by ``estimators.py``:

    BlockFeaturizer (pages -> feature columns) -> ColumnVectorizer
        -> TwoPassClassifier (gradient-boosted trees, then trees over their guesses in context)

This module imports no scikit-learn (its import alone takes most of a second): the features are
plain functions (``features.featurize``, ``features.vectorize``), the context of the second pass too
(``stacking.two_pass_proba``), and the trees are packed into flat arrays. scikit-learn and skops are
imported when a model is loaded (``shipped_model``) or a Pipeline predicts (``predict_proba``).

Predicting one page (about 125 rows) through scikit-learn costs one call per tree, each walking the
rows one at a time; ``PackedForest`` instead packs the fitted trees into flat arrays and walks every
(tree, row) pair at once with numpy, for the same raw predictions bit for bit. On a plain-text page,
where every column of HTML signals is 0, the walk skips the nodes that test one (packed once more
without them). The Pipeline itself is unchanged.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

import numpy as np

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

MODEL_FILE = "model.skops"
MANIFEST_FILE = "manifest.json"
# scikit-learn's node fields that prediction reads (TreePredictor.nodes).
NODE_FIELDS = ("feature_idx", "num_threshold", "left", "right", "is_leaf", "value", "count")

# What predict_proba and segment() take: a fitted Pipeline.
Model: TypeAlias = "Pipeline"


def default_model_path() -> Path:
    return Path(str(resources.files("segmenter.data").joinpath(MODEL_FILE)))


@lru_cache(maxsize=4)
def shipped_model(path: str | None = None) -> Pipeline:
    """The model shipped in data/ (or at ``path``), loaded once per process."""
    from segmenter.estimators import load_model  # (scikit-learn and skops: imported here, when needed)

    return load_model(path or default_model_path())


def predict_proba(model: Model, pages: list) -> np.ndarray:
    """The model's probabilities for the blocks of ``pages`` (``PageBlocks`` or lists of Blocks):
    a row per block, pages in order; a column per class of ``model.classes_``
    (``estimators.pipeline_predict_proba``)."""
    from segmenter.estimators import pipeline_predict_proba  # (loaded with the model already)

    return pipeline_predict_proba(model, pages)


@dataclass(frozen=True, eq=False)
class Forest:
    """The trees of one fitted boosted classifier as scikit-learn holds them, and their packings.

    ``nodes`` maps each field of ``NODE_FIELDS`` to its values for the nodes of all trees one after
    the other (a child's index counts from its tree's first node), trees in scikit-learn's order
    (boosting round, then class); ``sizes`` is each tree's node count.
    """

    nodes: Mapping[str, np.ndarray]
    sizes: np.ndarray
    baseline: np.ndarray  # raw prediction before any tree, shape (1, trees per round)
    n_features: int
    _packings: dict = field(default_factory=dict, init=False, repr=False)

    @property
    def per_iteration(self) -> int:
        return self.baseline.shape[1]

    def packed(self, zero_columns: tuple[int, ...] = ()) -> PackedForest:
        """The trees packed for walking (once per ``zero_columns``: columns known to be 0, whose
        tests are skipped)."""
        packing = self._packings.get(zero_columns)
        if packing is None:
            packing = self._packings[zero_columns] = PackedForest.from_forest(self, zero_columns)
        return packing


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
    """All trees of a ``Forest`` in flat arrays, evaluated together.

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
    def from_forest(cls, forest: Forest, zero_columns: tuple[int, ...] = ()) -> PackedForest:
        """Pack the trees, for rows whose ``zero_columns`` are 0: a node testing one of them is skipped."""
        flat, sizes = forest.nodes, forest.sizes.astype(np.intp)
        first = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        leaf = flat["is_leaf"].astype(bool)
        tree_start = np.repeat(first, sizes)  # node indices in a tree count from its first node
        index = np.arange(len(leaf), dtype=np.intp)
        left = np.where(leaf, index, flat["left"].astype(np.intp) + tree_start)
        right = np.where(leaf, index, flat["right"].astype(np.intp) + tree_start)
        threshold = flat["num_threshold"].astype(np.float64)
        # A node testing a column that is 0 sends every row to the child 0 goes to: whatever leads to
        # the node (its parent, or its tree's root) leads to that child instead, or to the child's
        # own such child, and so on (followed by pointer jumping). The skipped nodes stay unreached.
        skipped = ~leaf & np.isin(flat["feature_idx"], zero_columns)
        target = np.where(skipped, np.where(0.0 > threshold, right, left), index)
        while skipped[target].any():
            target = target[target]
        left, right, roots = target[left], target[right], target[first]
        depth = _depths(roots, left, right, leaf)
        reached_leaf = leaf & (depth >= 0)
        return cls(
            per_iteration=forest.per_iteration,
            n_features=forest.n_features,
            roots=2 * roots,
            feature=np.repeat(np.where(leaf, 0, flat["feature_idx"]).astype(np.intp), 2),
            threshold=np.repeat(np.where(leaf, np.inf, threshold), 2),
            child=2 * np.stack([left, right], axis=1).ravel(),
            is_inner=np.repeat(~leaf, 2),
            value=np.repeat(flat["value"].astype(np.float64), 2),
            baseline=np.asarray(forest.baseline, dtype=np.float64),
            drop_after=drop_levels(depth[reached_leaf], flat["count"][reached_leaf]),
        )

    def raw_predict(self, X: np.ndarray) -> np.ndarray:  # noqa: N803
        """Raw predictions (n_rows, per_iteration) of a float64 matrix without NaN, summed in
        scikit-learn's order, so the result is bit for bit its ``_raw_predict``."""
        n, trees = len(X), len(self.roots)
        # Feature by feature: row r's value of feature f at f * n + r (no copy of a Fortran-ordered
        # X, as features.vectorize makes it), so the rows at one node read neighbouring values.
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
