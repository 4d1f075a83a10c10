"""The scikit-learn side of the model: the Pipeline's estimators, its training, and its files.

    BlockFeaturizer (pages -> feature columns) -> ColumnVectorizer
        -> TwoPassClassifier (gradient-boosted trees, then trees over their guesses in context)

Gradient-boosted trees because the features interact (a long line is body inside the main region
and a blurb outside it) and need no scaling. The second pass (stacking.py) reads the first pass's
probabilities around each block; it raised cross-validated mean shingle F1 from 0.9185 to 0.9308
(held-out scrapinghub text 0.883 -> 0.914) at about 6% more prediction cost than the single
20-round model it replaced, as the first pass now needs only 10 rounds. Few, larger trees because
predicting costs per tree and per row.

Inference never imports this module (scikit-learn's import alone takes most of a second): training
saves the Pipeline with skops (``model.skops``, loaded trusting only the types we list, never
arbitrary pickled code) and exports what prediction needs as plain arrays (``model.npz``, read by
``model.CompiledModel``). A fitted Pipeline can still be passed wherever a model is; its
HistGradientBoostingClassifiers are then walked as packed trees too (``pipeline_predict_proba``).
"""
from __future__ import annotations

import hashlib
import json
import weakref
from collections.abc import Callable
from functools import lru_cache, partial
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline
from threadpoolctl import ThreadpoolController

from segmenter.features import Columns, featurize, vectorize
from segmenter.model import (
    MANIFEST_FILE,
    MODEL_FILE,
    NODE_FIELDS,
    PIPELINE_FILE,
    CompiledModel,
    Forest,
    HtmlColumns,
    PackedForest,
    default_pipeline_path,
)
from segmenter.stacking import LEADING_COLUMNS, page_slices, second_input, two_pass_proba

RANDOM_STATE = 13
# Boosting rounds of each pass (5 trees a round, one per class); see benchmarks/segmentation.py.
FIRST_PASS_ROUNDS = 10
SECOND_PASS_ROUNDS = 20
# Share of the first pass in the final probabilities. In 4-fold CV by site any share from 0 to 0.4
# scored the same within 0.001 (mean body F1 0.934); with none, the second pass alone overruled a
# sure and right first pass on the example page (its title at the very top).
FIRST_PASS_WEIGHT = 0.3


class BlockFeaturizer(BaseEstimator, TransformerMixin):
    """Pages (``PageBlocks``, or plain lists of Blocks) -> one column dict per page (``features.featurize``)."""

    def fit(self, X, y=None):  # noqa: N803 (scikit-learn's naming)
        return self

    def transform(self, X) -> list[Columns]:  # noqa: N803
        return featurize(X)


class ColumnVectorizer(BaseEstimator, TransformerMixin):
    """Column dicts (one per page) -> one dense matrix (``features.vectorize``): a row per block, pages
    in order; a column per feature name seen in ``fit``: the ``leading`` names first in their order,
    then the rest sorted. A name missing from a page reads as 0 and a name unseen in ``fit`` is ignored."""

    def __init__(self, leading: tuple[str, ...] = ()):
        self.leading = leading

    def fit(self, X, y=None):  # noqa: N803
        rest = {name for page in X for name in page} - set(self.leading)
        self.feature_names_ = [*self.leading, *sorted(rest)]
        self.vocabulary_ = {name: j for j, name in enumerate(self.feature_names_)}
        return self

    def transform(self, X) -> np.ndarray:  # noqa: N803
        """The matrix (blocks x features), laid out feature by feature (Fortran order)."""
        return vectorize(X, self.vocabulary_)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return np.array(self.feature_names_, dtype=object)


# A classifier's probabilities of a matrix: its own predict_proba by default; the packed trees
# stand in for it in ``pipeline_predict_proba``.
ClassifierProba = Callable[[BaseEstimator, np.ndarray], np.ndarray]


def _sklearn_proba(estimator: BaseEstimator, X: np.ndarray) -> np.ndarray:  # noqa: N803
    return estimator.predict_proba(X)


class TwoPassClassifier(ClassifierMixin, BaseEstimator):
    """A block classifier and a second one over its guesses in page context (see ``stacking.py``).

    ``first`` and ``second`` are unfitted classifiers (scikit-learn's default gradient-boosted trees if
    None; ``make_pipeline`` sets the shipped ones); ``n_folds``
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
        if groups is None:
            pages = page_slices(X)
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
        second_x = second_input(X, out_of_fold, self._class_names())
        self.second_ = clone(second).fit(second_x, y, sample_weight=weight)
        return self

    def predict_proba(self, X) -> np.ndarray:  # noqa: N803
        return self.two_pass_proba(np.asarray(X, dtype=np.float64), _sklearn_proba)

    def predict(self, X) -> np.ndarray:  # noqa: N803
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def two_pass_proba(self, X: np.ndarray, proba: ClassifierProba) -> np.ndarray:  # noqa: N803
        """Both passes, each classifier's probabilities computed by ``proba(classifier, X)`` (so a
        faster evaluator of the same trees can stand in for ``predict_proba``)."""
        return two_pass_proba(X, partial(proba, self.first_), partial(proba, self.second_), self._class_names(),
                              self.first_weight)

    def _class_names(self) -> list[str]:
        return [str(c) for c in self.classes_]


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


# --- files ----------------------------------------------------------------------------------------

def save_model(pipeline: Pipeline, directory: Path, manifest: dict) -> Path:
    """Write the Pipeline (skops), its compiled arrays (npz) and the manifest, which lists both
    files with their size and sha256. Returns the npz's path, the file inference loads."""
    import skops.io

    directory.mkdir(parents=True, exist_ok=True)
    skops.io.dump(pipeline, directory / PIPELINE_FILE)
    compile_pipeline(pipeline).save(directory / MODEL_FILE)
    files = {name: {"bytes": (directory / name).stat().st_size,
                    "sha256": hashlib.sha256((directory / name).read_bytes()).hexdigest()}
             for name in (MODEL_FILE, PIPELINE_FILE)}
    manifest = {**manifest, "files": files}
    (directory / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    return directory / MODEL_FILE


def load_model(path: Path | str) -> Pipeline:
    """Load a skops Pipeline file, trusting only the types a model of ours contains."""
    import skops.io

    untrusted = skops.io.get_untrusted_types(file=path)
    unexpected = [t for t in untrusted if not _expected_type(t)]
    if unexpected:
        raise ValueError(f"{path}: refusing to load unexpected types {unexpected}")
    return skops.io.load(path, trusted=untrusted)


def _expected_type(name: str) -> bool:
    ours = ("sklearn.", "segmenter.estimators.", "numpy.")
    return name.startswith(ours) or name in ("builtins.dict",)


@lru_cache(maxsize=1)
def shipped_pipeline() -> Pipeline:
    """The scikit-learn Pipeline shipped in data/ (the shipped ``model.npz`` is exported from it)."""
    return load_model(default_pipeline_path())


def compile_pipeline(pipeline: Pipeline) -> CompiledModel:
    """The fitted Pipeline's arrays as a ``CompiledModel`` (same probabilities, no scikit-learn).
    ValueError for a pipeline of another shape or with trees the packing does not cover."""
    steps = dict(pipeline.steps)
    vectorizer, classifier = steps.get("vectorizer"), steps.get("classifier")
    if (not isinstance(steps.get("features"), BlockFeaturizer) or not isinstance(vectorizer, ColumnVectorizer)
            or not isinstance(classifier, TwoPassClassifier) or len(steps) != 3):
        raise ValueError("only a fitted features -> vectorizer -> classifier pipeline (make_pipeline) compiles")
    first, second = forest_of(classifier.first_), forest_of(classifier.second_)
    if first is None or second is None:
        raise ValueError("both passes must be fitted HistGradientBoostingClassifiers without categorical splits")
    return CompiledModel(vectorizer.feature_names_, classifier.classes_, first, second, classifier.first_weight)


# --- prediction through the packed trees ---------------------------------------------------------

def pipeline_predict_proba(pipeline: Pipeline, X) -> np.ndarray:  # noqa: N803 (scikit-learn's naming)
    """``pipeline.predict_proba(X)``, evaluating each HistGradientBoostingClassifier's trees all at once.

    Anything the packed trees do not cover (another classifier, categorical splits) goes through
    scikit-learn's own ``predict_proba``.
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
    if forest is None or X.ndim != 2 or X.shape[1] != forest.n_features:
        with _one_openmp_thread():
            return classifier.predict_proba(X)
    return classifier._loss.predict_proba(forest.raw_predict(X))


def _one_openmp_thread():
    """For scikit-learn's own prediction: one page is a few hundred rows, where OpenMP threads cost
    more than they bring, and on a busy machine (web or batch workers) they made a page take 30x
    longer. The packed trees use no threads and need no limit."""
    return _thread_pools().limit(limits=1, user_api="openmp")


@lru_cache(maxsize=1)
def _thread_pools() -> ThreadpoolController:
    """Inspecting the loaded thread pools costs milliseconds: do it once per process."""
    return ThreadpoolController()


# Per ColumnVectorizer: (its feature names, their HtmlColumns), weakly keyed.
_HTML_COLUMNS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _zero_html_columns(transforms: list, X: np.ndarray) -> tuple[int, ...]:  # noqa: N803
    """The columns of HTML signals if every one of them is 0 in X, as on plain-text pages, else none
    (``model.HtmlColumns``)."""
    vectorizer = next((step for _, step in transforms if isinstance(step, ColumnVectorizer)), None)
    if vectorizer is None or not hasattr(vectorizer, "feature_names_"):
        return ()
    cached = _HTML_COLUMNS.get(vectorizer)
    if cached is None or cached[0] is not vectorizer.feature_names_:  # (a refit makes a new list)
        cached = (vectorizer.feature_names_, HtmlColumns.of(vectorizer.feature_names_))
        _HTML_COLUMNS[vectorizer] = cached
    return cached[1].zero_in(X)


# The trees of each fitted classifier: (its predictor list, its tree count, its Forest or None).
# Weak keys, so a discarded model takes its trees and their packings along; a refit replaces or
# extends the predictor list, and the trees are then read again.
_FORESTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def forest_of(classifier) -> Forest | None:
    """The classifier's trees (read once per fit); None if it is not a fitted
    HistGradientBoostingClassifier, or has categorical splits, which the packing does not cover."""
    if not isinstance(classifier, HistGradientBoostingClassifier) or not hasattr(classifier, "_predictors"):
        return None
    predictors = classifier._predictors
    trees = sum(map(len, predictors))
    cached = _FORESTS.get(classifier)
    if cached is None or cached[0] is not predictors or cached[1] != trees:
        cached = (predictors, trees, _read_forest(classifier))
        _FORESTS[classifier] = cached
    return cached[2]


def _read_forest(classifier: HistGradientBoostingClassifier) -> Forest | None:
    nodes = [predictor.nodes for iteration in classifier._predictors for predictor in iteration]
    if not nodes or classifier._preprocessor is not None or any(n["is_categorical"].any() for n in nodes):
        return None
    flat = np.concatenate(nodes)
    return Forest({name: np.ascontiguousarray(flat[name]) for name in NODE_FIELDS},
                  np.array([len(n) for n in nodes], dtype=np.int64),
                  np.array(classifier._baseline_prediction, dtype=np.float64), int(classifier.n_features_in_))


def packed_forest(classifier, zero_columns: tuple[int, ...] = ()) -> PackedForest | None:
    """The classifier's trees packed (once per fit and per ``zero_columns``, the columns known to be
    0, whose tests are skipped); None if ``forest_of`` has none."""
    forest = forest_of(classifier)
    return None if forest is None else forest.packed(zero_columns)
