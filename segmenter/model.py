"""The block classifier: a scikit-learn Pipeline, its training, and safe save/load.

    BlockFeaturizer (pages -> feature columns) -> ColumnVectorizer -> HistGradientBoostingClassifier

Gradient-boosted trees because the features interact (a long line is body inside the main region
and a blurb outside it) and need no scaling. Few, larger trees (20 rounds of 63 leaves, 100 trees
for the 5 classes) because predicting costs per tree and per row: held-out F1 matched 100 rounds
of 31 leaves within noise at a fifth of the cost (benchmarks/segmentation.py). The model is saved
with skops, which loads only the types we list as trusted, never arbitrary pickled code.
"""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline

from segmenter.features import BlockFeaturizer, ColumnVectorizer

MODEL_FILE = "model.skops"
MANIFEST_FILE = "manifest.json"
RANDOM_STATE = 13


def make_pipeline(random_state: int = RANDOM_STATE) -> Pipeline:
    """The untrained pipeline. X is a list of pages (lists of Blocks); y one label per block."""
    return Pipeline([
        ("features", BlockFeaturizer()),
        ("vectorizer", ColumnVectorizer()),
        ("classifier", HistGradientBoostingClassifier(
            max_iter=20, learning_rate=0.3, max_leaf_nodes=63, l2_regularization=1.0,
            early_stopping=False, random_state=random_state)),
    ])


def fit_pipeline(pages: list, labels: list[list[str]], weights: list[list[float]],
                 random_state: int = RANDOM_STATE) -> Pipeline:
    """Fit on pages (``PageBlocks``); ``labels`` and ``weights`` give one value per block."""
    y = np.array([label for page in labels for label in page])
    w = np.array([weight for page in weights for weight in page], dtype=float)
    pipeline = make_pipeline(random_state)
    pipeline.fit(pages, y, classifier__sample_weight=w)
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
    return name.startswith(("sklearn.", "segmenter.features.", "numpy.")) or name in ("builtins.dict",)


def default_model_path() -> Path:
    return Path(str(resources.files("segmenter.data").joinpath(MODEL_FILE)))


@lru_cache(maxsize=4)
def shipped_model(path: str | None = None) -> Pipeline:
    """The model shipped in data/ (or at ``path``), loaded once per process."""
    return load_model(path or default_model_path())
