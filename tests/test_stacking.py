"""The two-pass classifier: page boundaries, context columns, fitting, and the fast path."""
import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline

from segmenter.estimators import TwoPassClassifier
from segmenter.model import predict_proba
from segmenter.stacking import context_columns, page_slices

CLASSES = ["body", "other", "teaser_blurb", "teaser_headline", "title"]


def _pages(n_pages=40, seed=0):
    """Pages of blocks whose label depends on the neighbours: a block is body when it is long and
    so are both its neighbours; the first long block of a page is its title."""
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for _ in range(n_pages):
        n = int(rng.integers(5, 30))
        chars = rng.choice([20.0, 400.0], size=n)
        for i in range(n):
            long = chars[i] > 100
            neighbours = (i == 0 or chars[i - 1] > 100) and (i == n - 1 or chars[i + 1] > 100)
            labels.append("body" if long and neighbours else "other")
            rows.append([i / n, np.log1p(chars[i]), rng.normal()])
    return np.array(rows), np.array(labels)


def test_page_slices_start_where_the_relative_position_is_zero():
    X = np.array([[0.0, 1], [0.5, 1], [0.0, 2], [0.0, 3], [1 / 3, 1], [2 / 3, 1]])
    assert page_slices(X) == [slice(0, 2), slice(2, 3), slice(3, 6)]


def test_context_columns_see_neighbours_and_the_body_region():
    proba = np.zeros((5, 5))
    proba[:, 1] = 1.0
    proba[1:4, 0], proba[1:4, 1] = 0.9, 0.1  # blocks 1-3 are likely body
    context = context_columns(proba, np.full(5, 300.0), CLASSES)
    assert context.shape[0] == 5
    assert np.array_equal(context[:, :5], proba)
    assert np.array_equal(context[1:, 5 + 2 * 5:5 + 3 * 5], proba[:-1])  # offset -1: the block above
    inside = context[:, -7]
    assert inside.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]


def test_two_pass_learns_from_neighbours_and_packed_trees_match():
    X, y = _pages()
    trees = HistGradientBoostingClassifier(max_iter=10, max_leaf_nodes=7, random_state=0)
    pipeline = Pipeline([("classifier", TwoPassClassifier(first=trees, second=trees))])
    pipeline.fit(X, y, classifier__groups=np.arange(len(y)) % 4)
    X_test, y_test = _pages(20, seed=1)
    two_pass = pipeline.predict(X_test)
    one_pass = pipeline.named_steps["classifier"].first_.predict(X_test)
    assert (two_pass == y_test).mean() > (one_pass == y_test).mean()
    assert (two_pass == y_test).mean() > 0.95
    assert predict_proba(pipeline, X_test).tobytes() == pipeline.predict_proba(X_test).tobytes()
