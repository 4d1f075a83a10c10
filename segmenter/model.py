"""The block classifier at inference: the shipped model as plain arrays, evaluated with numpy alone.

The model is trained as a scikit-learn Pipeline (``estimators.py``):

    BlockFeaturizer (pages -> feature columns) -> ColumnVectorizer
        -> TwoPassClassifier (gradient-boosted trees, then trees over their guesses in context)

Importing scikit-learn costs most of a second (scipy.stats alone is 0.3 s) and loading the Pipeline
with skops another 0.3 s, while predicting needs none of it: the features are plain functions
(``features.featurize``, ``features.vectorize``), the context of the second pass too
(``stacking.two_pass_proba``), and the trees are a few flat arrays. So training exports what
prediction needs to ``data/model.npz`` (``CompiledModel.save``): the feature names, the classes,
the first pass's weight and each pass's tree nodes. The file is read with ``allow_pickle=False``
(arrays only, never code) and checked before use; ``CompiledModel.predict_proba`` gives the
Pipeline's probabilities bit for bit. ``data/model.skops`` stays alongside for whoever wants the
estimator itself (and is what the npz is exported from).

Predicting one page (about 125 rows) through scikit-learn costs one call per tree, each walking the
rows one at a time; ``PackedForest`` instead packs the fitted trees into flat arrays and walks every
(tree, row) pair at once with numpy, for the same raw predictions bit for bit. On a plain-text page,
where every column of HTML signals is 0, the walk skips the nodes that test one (packed once more
without them). A fitted Pipeline is still accepted everywhere a model is (``predict_proba``): the
training and cross-validation code passes one, and it goes through the same packed trees.
"""
from __future__ import annotations

import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache, partial
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

import numpy as np

from segmenter.features import featurize, html_only_column, vectorize
from segmenter.stacking import context_width, two_pass_proba

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

MODEL_FILE = "model.npz"        # what inference loads (CompiledModel)
PIPELINE_FILE = "model.skops"   # the scikit-learn Pipeline it was exported from
MANIFEST_FILE = "manifest.json"
# Bump when the arrays or their meaning change: an older segmenter must refuse a newer file rather
# than misread it (and the reverse).
FORMAT_VERSION = 1
# scikit-learn's node fields that prediction reads (TreePredictor.nodes), in the order saved.
NODE_FIELDS = ("feature_idx", "num_threshold", "missing_go_to_left", "left", "right", "is_leaf", "value", "count")
_NODE_KINDS = {"feature_idx": "iu", "num_threshold": "f", "missing_go_to_left": "biu", "left": "iu",
               "right": "iu", "is_leaf": "biu", "value": "f", "count": "iu"}
PASSES = ("first", "second")

# What predict_proba and segment() take: the compiled model, or a fitted Pipeline.
Model: TypeAlias = "CompiledModel | Pipeline"


def default_model_path() -> Path:
    return Path(str(resources.files("segmenter.data").joinpath(MODEL_FILE)))


def default_pipeline_path() -> Path:
    return Path(str(resources.files("segmenter.data").joinpath(PIPELINE_FILE)))


@lru_cache(maxsize=4)
def shipped_model(path: str | None = None) -> CompiledModel:
    """The model shipped in data/ (or the npz file at ``path``), loaded once per process."""
    return CompiledModel.load(path or default_model_path())


def predict_proba(model: Model, pages: list) -> np.ndarray:
    """The model's probabilities for the blocks of ``pages`` (``PageBlocks`` or lists of Blocks):
    a row per block, pages in order; a column per class of ``model.classes_``. ``model`` is a
    ``CompiledModel`` or a fitted scikit-learn Pipeline (``estimators.pipeline_predict_proba``)."""
    if isinstance(model, CompiledModel):
        return model.predict_proba(pages)
    # Only a caller holding a Pipeline comes here, and it has imported scikit-learn already.
    from segmenter.estimators import pipeline_predict_proba

    return pipeline_predict_proba(model, pages)


class CompiledModel:
    """The two-pass classifier as arrays (see module docstring): ``classes_`` and ``predict_proba``
    like the Pipeline it was exported from (``estimators.compile_pipeline``), without scikit-learn.

    ``first`` and ``second`` are the two passes' trees; the second reads the feature columns and then
    the context columns of the first pass's probabilities (``stacking.context_columns``). The trees
    must be multinomial (three classes or more): their probabilities are a softmax of the raw
    predictions, as scikit-learn's.
    """

    def __init__(self, feature_names: list[str], classes: list[str], first: Forest, second: Forest,
                 first_weight: float):
        self.feature_names = [str(name) for name in feature_names]
        self.classes_ = np.array([str(c) for c in classes])
        self.first, self.second = first, second
        self.first_weight = float(first_weight)
        self._check()
        self._class_names = self.classes_.tolist()
        self._vocabulary = {name: j for j, name in enumerate(self.feature_names)}
        self._html_columns = HtmlColumns.of(self.feature_names)
        # Packed now, not at the first page: a server or batch job loads the model before it forks
        # its workers, which then share the packings.
        for forest in (first, second):
            forest.packed()
            forest.packed(self._html_columns.columns)

    def predict_proba(self, pages: list) -> np.ndarray:
        """Probabilities (blocks x classes) of the blocks of ``pages``, pages in order."""
        X = vectorize(featurize(pages), self._vocabulary)  # noqa: N806 (scikit-learn's naming)
        # (the second pass's input starts with X's columns, so a column 0 in X is 0 there too)
        zero = self._html_columns.zero_in(X)
        return two_pass_proba(X, partial(_softmax_proba, self.first, zero), partial(_softmax_proba, self.second, zero),
                              self._class_names, self.first_weight)

    def save(self, path: Path | str) -> None:
        """Write the model as a compressed npz file of plain arrays (no pickled objects)."""
        arrays = {"format_version": np.array(FORMAT_VERSION), "feature_names": np.array(self.feature_names, dtype=str),
                  "classes": self.classes_, "first_weight": np.array(self.first_weight)}
        for name, forest in zip(PASSES, (self.first, self.second), strict=True):
            arrays |= {f"{name}.{key}": value for key, value in forest.arrays().items()}
        with open(path, "wb") as file:  # (a file, so numpy does not append ".npz" to the name)
            np.savez_compressed(file, **arrays)

    @classmethod
    def load(cls, path: Path | str) -> CompiledModel:
        """Read a file written by ``save``. A file that is not one, of another format version, or with
        arrays missing or of the wrong kind or shape raises ValueError naming the file."""
        arrays = _read_arrays(path)
        version = arrays.get("format_version")
        if version is None or version.shape != () or version.dtype.kind not in "iu":
            raise ValueError(f"{path}: not a segmenter model file (no format version)")
        if int(version) != FORMAT_VERSION:
            raise ValueError(f"{path}: model format version {int(version)}, but this segmenter reads version "
                             f"{FORMAT_VERSION}: export it again from its Pipeline (segmenter train writes both)")

        def array(key: str, kinds: str, ndim: int) -> np.ndarray:
            value = arrays.get(key)
            if value is None:
                raise ValueError(f"no array {key!r}")
            if value.dtype.kind not in kinds or value.ndim != ndim:
                raise ValueError(f"array {key!r} is {value.dtype} with {value.ndim} dimensions, "
                                 f"expected kind {kinds!r} with {ndim}")
            return value

        def forest(name: str) -> Forest:
            return Forest({key: array(f"{name}.{key}", kinds, 1) for key, kinds in _NODE_KINDS.items()},
                          array(f"{name}.sizes", "iu", 1), array(f"{name}.baseline", "f", 2),
                          int(array(f"{name}.n_features", "iu", 0)))

        try:
            return cls(array("feature_names", "U", 1).tolist(), array("classes", "U", 1).tolist(),
                       forest("first"), forest("second"), float(array("first_weight", "f", 0)))
        except ValueError as exc:
            raise ValueError(f"{path}: not a usable model file: {exc}") from exc

    def _check(self) -> None:
        """Shapes that fit together, so that a damaged or foreign file fails here and not mid-page."""
        k = len(self.classes_)
        if k < 3:
            raise ValueError(f"a compiled model needs three classes or more (multinomial trees), not {k}")
        if not 0.0 <= self.first_weight <= 1.0:
            raise ValueError(f"first_weight {self.first_weight} is not between 0 and 1")
        expected = {"first": len(self.feature_names), "second": len(self.feature_names) + context_width(k)}
        for name, forest in zip(PASSES, (self.first, self.second), strict=True):
            if forest.n_features != expected[name]:
                raise ValueError(f"the {name} pass reads {forest.n_features} columns, not {expected[name]}")
            if forest.per_iteration != k:
                raise ValueError(f"the {name} pass has {forest.per_iteration} trees per round for {k} classes")
            forest.check()


@dataclass(frozen=True, eq=False)
class HtmlColumns:
    """The columns of HTML signals among a model's features (``features.html_only_column``). On a
    plain-text page all of them are 0, and the packed trees skip the nodes that test them (15% of
    the nodes visited; see ``PackedForest.from_forest``)."""

    columns: tuple[int, ...]
    index: np.ndarray

    @classmethod
    def of(cls, feature_names: list[str]) -> HtmlColumns:
        columns = tuple(j for j, name in enumerate(feature_names) if html_only_column(name))
        return cls(columns, np.array(columns, dtype=np.intp))

    def zero_in(self, X: np.ndarray) -> tuple[int, ...]:  # noqa: N803
        """These columns if every one of them is 0 in X (a plain-text page), else none."""
        # (X.T: the columns are its rows, contiguous in the Fortran-ordered matrix vectorize makes)
        return self.columns if self.columns and X.ndim == 2 and not X.T.take(self.index, axis=0).any() else ()


def _softmax_proba(forest: Forest, zero_columns: tuple[int, ...], X: np.ndarray) -> np.ndarray:  # noqa: N803
    return softmax(forest.packed(zero_columns).raw_predict(X))


def softmax(raw: np.ndarray) -> np.ndarray:
    """Class probabilities from multinomial raw predictions, computed as scikit-learn's
    ``HalfMultinomialLoss.predict_proba`` does (``utils.extmath.softmax``), so bit for bit the same."""
    proba = np.array(raw, dtype=np.float64)  # (a copy in raw's memory layout, as scikit-learn's)
    proba -= proba.max(axis=1).reshape(-1, 1)
    np.exp(proba, out=proba)
    proba /= proba.sum(axis=1).reshape(-1, 1)
    return proba


def _read_arrays(path: Path | str) -> dict[str, np.ndarray]:
    """All arrays of an npz file, read without unpickling anything; ValueError if it is not one."""
    with open(path, "rb") as file:  # (a missing file stays a FileNotFoundError)
        if file.read(4) != b"PK\x03\x04":  # (else numpy would try it as a pickle, and say so)
            raise ValueError(f"{path}: not a model file (not an npz archive)")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error) as exc:
        # (a truncated or damaged archive, or an array of Python objects, which is never unpickled)
        raise ValueError(f"{path}: not a readable model file: {exc}") from exc


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

    def arrays(self) -> dict[str, np.ndarray]:
        """What ``CompiledModel.save`` writes of this forest (``load`` reads the same keys)."""
        return {**self.nodes, "sizes": self.sizes, "baseline": self.baseline, "n_features": np.array(self.n_features)}

    def check(self) -> None:
        """ValueError unless the trees are well formed: every array one value per node, a whole number
        of rounds, and each inner node testing an existing column and pointing to later nodes of its
        own tree (so every walk ends at a leaf)."""
        sizes = self.sizes.astype(np.intp)
        total = int(sizes.sum())
        lengths = {key: len(self.nodes[key]) for key in NODE_FIELDS}
        if not len(sizes) or (sizes < 1).any() or set(lengths.values()) != {total}:
            raise ValueError(f"node arrays of {sorted(set(lengths.values()))} values for trees of {total} nodes in all")
        if self.baseline.shape != (1, self.per_iteration) or len(sizes) % self.per_iteration:
            raise ValueError(f"{len(sizes)} trees and a baseline of shape {self.baseline.shape}")
        inner = ~self.nodes["is_leaf"].astype(bool)
        local = np.arange(total) - np.repeat(np.cumsum(sizes) - sizes, sizes)  # each node's index in its tree
        size = np.repeat(sizes, sizes)
        for key in ("left", "right"):
            child = self.nodes[key].astype(np.int64)[inner]
            if ((child <= local[inner]) | (child >= size[inner])).any():
                raise ValueError(f"a {key} child outside its tree or before its parent")
        if (self.nodes["feature_idx"][inner] >= self.n_features).any():
            raise ValueError(f"a node tests a column beyond the {self.n_features} the trees read")


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
    leaf stays there until dropped. Comparisons are scikit-learn's (left if ``x <= threshold``; a
    missing value, NaN, goes the way the node's ``missing_go_to_left`` says).
    """

    per_iteration: int      # trees per boosting iteration (one per class; one in all for two classes)
    n_features: int
    roots: np.ndarray       # slot of each tree's root, in scikit-learn's order (iteration, class)
    feature: np.ndarray     # per slot: the feature its node tests
    threshold: np.ndarray   # per slot: go right if the feature's value is above this
    nan_right: np.ndarray   # per slot: a missing value goes right
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
            nan_right=np.repeat(~leaf & ~flat["missing_go_to_left"].astype(bool), 2),
            child=2 * np.stack([left, right], axis=1).ravel(),
            is_inner=np.repeat(~leaf, 2),
            value=np.repeat(flat["value"].astype(np.float64), 2),
            baseline=np.asarray(forest.baseline, dtype=np.float64),
            drop_after=drop_levels(depth[reached_leaf], flat["count"][reached_leaf]),
        )

    def raw_predict(self, X: np.ndarray) -> np.ndarray:  # noqa: N803
        """Raw predictions (n_rows, per_iteration) of a float64 matrix, summed in scikit-learn's
        order, so the result is bit for bit its ``_raw_predict``."""
        n, trees = len(X), len(self.roots)
        # Feature by feature: row r's value of feature f at f * n + r (no copy of a Fortran-ordered
        # X, as features.vectorize makes it), so the rows at one node read neighbouring values.
        values = np.ascontiguousarray(X.T).ravel()
        missing = np.isnan(values).any()  # (rare: then NaN goes where each node says, not left)
        feature_start = self.feature * n  # per slot: where its feature's values start
        # One entry per (tree, row) pair still walking: its current slot, its index, its row. Tree
        # by tree, so neighbouring pairs read the same few nodes (13% faster).
        pair = np.arange(trees * n)
        row = np.tile(np.arange(n), trees)
        # The first level needs no node lookups: all pairs of a tree are at its root, and compare a
        # row of the feature-by-feature values (as many as there are rows) with its threshold.
        at_root = values.reshape(X.shape[1], n)[self.feature.take(self.roots)]
        go_right = at_root > self.threshold.take(self.roots)[:, None]
        if missing:
            go_right |= np.isnan(at_root) & self.nan_right.take(self.roots)[:, None]
        slot = self.child.take(self.roots.repeat(n) + go_right.ravel())
        final = np.empty(trees * n, dtype=np.intp)  # each pair's slot when last seen: its leaf at the end
        walked, drops = 1, iter(self.drop_after)
        while len(slot):
            drop_at = next(drops, walked + 1)  # (all pairs are at a leaf by the last drop level)
            for _ in range(drop_at - walked):
                at_node = values.take(row + feature_start.take(slot))
                go_right = at_node > self.threshold.take(slot)
                if missing:
                    go_right |= np.isnan(at_node) & self.nan_right.take(slot)
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
