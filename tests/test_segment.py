"""The engine end to end with the shipped model: the example page, output shape, bad input."""
import gzip
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline

import segmenter
from segmenter.article import LABELS
from segmenter.engine import MAX_CLASSIFIED_BLOCKS, page_blocks
from segmenter.estimators import _zero_html_columns, forest_of, packed_forest, shipped_pipeline, trees_predict_proba
from segmenter.model import predict_proba as model_predict_proba
from segmenter.page import Page

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLE = (FIXTURES / "page-dump.txt").read_text(encoding="utf-8")
EXPECTED = json.loads((FIXTURES / "page-dump.labels.json").read_text(encoding="utf-8"))
# Generous bound for one pathological page on a loaded 2-core machine; a hang would exceed it by far.
BOUNDED_SECONDS = 20


def test_example_page_comes_out_as_labelled():
    result = segmenter.segment(EXAMPLE).to_dict()
    expected = EXPECTED["expected"]
    assert result["kind"] == "article"
    assert result["title"] == expected["title"]
    assert result["teasers"] == expected["teasers"]
    assert result["paragraphs"] == expected["body"]
    assert "Related Articles" not in result["body"]
    assert [b["label"] for b in result["blocks"]] == [b["label"] for b in EXPECTED["blocks"]]


def test_blocks_carry_offsets_into_the_input_and_confidences():
    result = segmenter.segment(EXAMPLE)
    for block in result.blocks:
        assert EXAMPLE[block.start:block.end] == block.text
        assert 0.0 <= block.confidence <= 1.0
        assert block.label in LABELS


def test_bytes_and_str_give_the_same_result():
    assert segmenter.segment(EXAMPLE.encode("utf-8")).to_dict() == segmenter.segment(EXAMPLE).to_dict()


def test_html_input_is_segmented_from_the_dom():
    paragraphs = "".join(f"<p>{p}</p>" for p in EXPECTED["expected"]["body"])
    html = (f"<html><head><title>{EXPECTED['expected']['title']} | Paper</title></head><body>"
            f"<nav><a href='/'>Home</a> <a href='/world'>World</a></nav>"
            f"<article><h1>{EXPECTED['expected']['title']}</h1>{paragraphs}</article>"
            f"<footer>Copyright 2020 Paper. All rights reserved.</footer></body></html>")
    result = segmenter.segment(html)
    assert result.kind == "article"
    assert result.title == EXPECTED["expected"]["title"]
    long_paragraphs = [p for p in EXPECTED["expected"]["body"] if len(p) > 100]
    assert all(p in result.paragraphs for p in long_paragraphs)
    for block in result.blocks:
        assert 0 <= block.start <= block.end <= len(html)


INDEX_PAGE = """World
Business
Sport
Top stories
Storm leaves thousands without power along the northern coast
Utility crews worked through the night after winds of 120 km/h brought down lines in three regions...
Central bank holds rates as inflation cools for a third month
The decision was expected by most economists, who now see a first cut early next year...
Striker's late goal sends champions through to the quarter-finals
A header in stoppage time settled a tense night in front of a sold-out stadium...
New museum wing opens with a collection of medieval maps
Curators spent six years restoring the fragile parchments, some never shown in public...
Farmers warn of poor harvest after dry summer
Wheat yields could fall by a fifth, the national growers' association said on Tuesday...
Most read
Scientists find water ice in crater near the moon's south pole
Train strike called off after last-minute pay deal
Privacy policy
Contact us
"""


def test_example_page_title_body_and_list_header():
    """What the shipped model already gets right on the example page."""
    result = segmenter.segment(EXAMPLE)
    expected = EXPECTED["expected"]
    assert result.kind == "article"
    assert result.title == expected["title"]
    assert all(p in result.paragraphs for p in expected["body"])
    assert "Related Articles" not in result.body
    headlines = [t.headline for t in result.teasers]
    assert "The civic movement that stands up to Lukashenko" in headlines


def test_index_page_has_no_body_and_keeps_its_teasers():
    result = segmenter.segment(INDEX_PAGE)
    assert result.kind == "index"
    assert result.paragraphs == [] and result.body == "" and result.title is None
    headlines = [t.headline for t in result.teasers]
    assert "Storm leaves thousands without power along the northern coast" in headlines


def _bounded(data, content_type=None):
    start = time.perf_counter()
    result = segmenter.segment(data, content_type)
    assert time.perf_counter() - start < BOUNDED_SECONDS
    return result


EMPTY_INDEX = {"title": None, "paragraphs": [], "body": "", "teasers": [], "kind": "index", "blocks": []}


@pytest.mark.parametrize("data", ["", "   \n\t\n  ", b"", b"\r\n\r\n"])
def test_empty_input_is_an_empty_index(data):
    assert _bounded(data).to_dict() == EMPTY_INDEX


def test_binary_bytes_give_a_result_not_a_crash():
    data = bytes(range(256)) * 400
    result = _bounded(data)
    json.dumps(result.to_dict())
    assert all(0 <= b.start <= b.end for b in result.blocks)


def test_invalid_utf8_does_not_crash():
    result = _bounded(EXAMPLE.encode("utf-8")[:500] + b"\xff\xfe\xc3\x28" + EXAMPLE.encode("utf-8")[500:])
    assert result.title is not None or result.kind == "index"


def test_one_five_megabyte_line():
    result = _bounded("word " * 1_000_000)
    assert sum(len(b.text) for b in result.blocks) >= 4_000_000


def test_two_hundred_thousand_lines():
    result = _bounded("\n".join(f"line {i}" for i in range(200_000)))
    assert len(result.blocks) == 200_000
    # past the classification cap, blocks come back unclassified rather than dropped
    tail = result.blocks[MAX_CLASSIFIED_BLOCKS:]
    assert all(b.label == "other" and b.confidence == 0.0 for b in tail)


def test_html_nested_ten_thousand_deep():
    html = "<html><body>" + "<div>" * 10_000 + "<p>Deep text here.</p>" + "</div>" * 10_000 + "</body></html>"
    result = _bounded(html, "html")
    assert any("Deep text here." in b.text for b in result.blocks)


def test_cli_segment_prints_json(tmp_path):
    out = subprocess.run([sys.executable, "-m", "segmenter", "segment", str(FIXTURES / "page-dump.txt"),
                          "--blocks"], capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(out.stdout)
    assert result["title"] == EXPECTED["expected"]["title"]
    assert len(result["blocks"]) == len(EXPECTED["blocks"])


def test_cli_segment_reads_stdin_and_reports_missing_files(tmp_path):
    out = subprocess.run([sys.executable, "-m", "segmenter", "segment", "-"], input=EXAMPLE.encode(),
                         capture_output=True, timeout=120, check=True)
    assert "blocks" not in json.loads(out.stdout)
    missing = subprocess.run([sys.executable, "-m", "segmenter", "segment", str(tmp_path / "nope.txt")],
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2
    assert "cannot read" in missing.stderr and "Traceback" not in missing.stderr


# The packed trees (model.predict_proba) must give scikit-learn's probabilities bit for bit.

def _html_fixture(name):
    return gzip.decompress((FIXTURES / name).read_bytes())


@pytest.mark.parametrize("page", [EXAMPLE, INDEX_PAGE, "one line"], ids=["example", "index", "one-line"])
def test_packed_trees_equal_predict_proba_on_text(page):
    model = shipped_pipeline()
    classifier = model.named_steps["classifier"]
    assert packed_forest(classifier.first_) is not None and packed_forest(classifier.second_) is not None
    pages = [page_blocks(Page.from_input(page, "text"))]
    assert model_predict_proba(model, pages).tobytes() == model.predict_proba(pages).tobytes()


@pytest.mark.parametrize("name", ["readability-ars-1.html.gz", "scrapinghub-sciencealert.html.gz"])
def test_packed_trees_equal_predict_proba_on_html(name):
    model = shipped_pipeline()
    pages = [page_blocks(Page.from_input(_html_fixture(name), "html"))]
    assert model_predict_proba(model, pages).tobytes() == model.predict_proba(pages).tobytes()


def _random_problem(n_classes, seed=0):
    rng = np.random.default_rng(seed)
    X = np.round(rng.normal(size=(400, 6)), 1)  # rounded: many values sit exactly on a threshold
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int) + (n_classes > 2) * (X[:, 3] > 0.5)
    return X, y


@pytest.mark.parametrize("n_classes", [2, 3])
def test_packed_trees_follow_a_retrained_classifier(n_classes):
    X, y = _random_problem(n_classes)
    classifier = HistGradientBoostingClassifier(max_iter=5, max_leaf_nodes=15, random_state=0)
    pipeline = Pipeline([("classifier", classifier)]).fit(X, y)
    assert packed_forest(classifier) is not None
    assert model_predict_proba(pipeline, X).tobytes() == pipeline.predict_proba(X).tobytes()
    # refitted in place, with more rounds on other data: the trees are packed again
    X2, y2 = _random_problem(n_classes, seed=1)
    pipeline.set_params(classifier__max_iter=8).fit(X2, y2)
    assert model_predict_proba(pipeline, X).tobytes() == pipeline.predict_proba(X).tobytes()


def test_packed_trees_skip_the_tests_of_columns_known_to_be_zero():
    X, y = _random_problem(3)
    classifier = HistGradientBoostingClassifier(max_iter=5, max_leaf_nodes=15, random_state=0).fit(X, y)
    X[:, [1, 3]] = 0.0  # trained with values there, predicted without
    full, skipping = packed_forest(classifier), packed_forest(classifier, (1, 3))
    assert max(skipping.drop_after) < max(full.drop_after)  # the walk got shallower
    assert trees_predict_proba(classifier, X, (1, 3)).tobytes() == classifier.predict_proba(X).tobytes()
    # a tree whose root tests a zero column starts at the child 0 goes to
    stump = HistGradientBoostingClassifier(max_iter=1, max_depth=1, random_state=0).fit(X[:, :2] + [0, 1], y)
    assert forest_of(stump).packed((0, 1)).drop_after == ()
    assert trees_predict_proba(stump, X[:, :2] * 0, (0, 1)).tobytes() == stump.predict_proba(X[:, :2] * 0).tobytes()


def test_html_signal_columns_are_skipped_on_text_pages_only():
    model = shipped_pipeline()
    transforms = model.steps[:-1]

    def matrix(page, kind):
        return model[:-1].transform([page_blocks(Page.from_input(page, kind))])

    on_text = _zero_html_columns(transforms, matrix(EXAMPLE, "text"))
    names = model.named_steps["vectorizer"].feature_names_
    assert {names[j] for j in on_text} >= {"is_html", "link_density", "n-1_link_density", "in_title_hint"}
    assert _zero_html_columns(transforms, matrix(_html_fixture("readability-ars-1.html.gz"), "html")) == ()


def test_packed_trees_send_missing_values_where_scikit_learn_does_and_leave_categories_to_it():
    X, y = _random_problem(3)
    X[::7, 1] = np.nan
    pipeline = Pipeline([("classifier", HistGradientBoostingClassifier(max_iter=5, random_state=0))]).fit(X, y)
    assert packed_forest(pipeline.named_steps["classifier"]) is not None
    X[::5, [2, 3]] = np.nan  # also where training saw no missing value
    assert model_predict_proba(pipeline, X).tobytes() == pipeline.predict_proba(X).tobytes()
    X[:, 4] = np.abs(X[:, 4] * 3).round()
    categorical = HistGradientBoostingClassifier(max_iter=5, categorical_features=[4], random_state=0).fit(X, y)
    assert packed_forest(categorical) is None
    pipeline = Pipeline([("classifier", categorical)])
    assert model_predict_proba(pipeline, X).tobytes() == pipeline.predict_proba(X).tobytes()
