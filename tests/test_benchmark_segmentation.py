"""The segmentation benchmark: its F1 is score.py's, its intervals behave, HTML blocks meet labelled lines."""
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SCORER = REPO.parent / "shared" / "eval" / "score.py"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its dataclasses look their module up while being made
    spec.loader.exec_module(module)
    return module


bench = _load("segmentation_benchmark", REPO / "benchmarks" / "segmentation.py")

# (tp, fp, fn) shares per page: a perfect page, one with extra text, one missing text, an empty
# prediction (precision undefined), and an empty truth with an empty prediction.
COUNTS = [(1.0, 0.0, 0.0), (0.5, 0.5, 0.0), (0.6, 0.0, 0.4), (0.0, 0.0, 1.0), (0.0, 0.0, 0.0)]


def test_f1_of_counts_by_hand():
    precision = (1 + 0.5 + 1 + 1) / 4  # the empty prediction has no precision; the empty page counts 1
    recall = (1 + 1 + 0.6 + 0 + 1) / 5
    assert bench.f1_of_counts(COUNTS) == pytest.approx(2 * precision * recall / (precision + recall))
    assert bench.f1_of_counts([]) == 0.0


@pytest.mark.skipif(not SCORER.exists(), reason="../shared/eval/score.py absent")
def test_f1_of_counts_is_the_reference_scorers():
    scorer = _load("reference_score", SCORER)
    pairs = [("one two three four five six", "one two three four five six"),
             ("one two three four five six", "one two three four five six seven eight nine"),
             ("a b c d e f g h i j", "a b c d e f"),
             ("a b c d e f", ""),
             ("", "")]
    counts = [scorer.page_counts(truth, predicted) for truth, predicted in pairs]
    assert bench.f1_of_counts(counts) == pytest.approx(scorer.segmentation_scores(pairs)["f1"], abs=1e-12)


def test_bootstrap_is_seeded_and_its_interval_holds_the_spread():
    draws = bench.bootstrap_draws(len(COUNTS), draws=500)
    assert draws.shape == (500, len(COUNTS))
    assert (draws == bench.bootstrap_draws(len(COUNTS), draws=500)).all()
    f1s = bench.bootstrap_f1(COUNTS, draws)
    low, high = bench.interval(f1s)
    assert low < bench.f1_of_counts(COUNTS) < high
    assert bench.interval(bench.bootstrap_f1([COUNTS[0]] * 4, draws[:, :4] % 4)) == (1.0, 1.0)


def test_teaser_draws_pool_lines_over_the_drawn_pages():
    per_page = [{"tp": 8, "fp": 2, "fn": 0}, {"tp": 0, "fp": 0, "fn": 5}]
    identity = np.array([[0, 1], [0, 0], [1, 1]])
    f1s = bench.teaser_f1_draws(per_page, identity)
    assert f1s[0] == pytest.approx(2 * 8 / (2 * 8 + 2 + 5))
    assert f1s[1] == pytest.approx(2 * 16 / (2 * 16 + 4))
    assert f1s[2] == 0.0


def test_html_blocks_match_labelled_lines_by_text_in_order():
    from segmenter.blocks import Block

    page = {"blocks": [{"text": "More  news", "label": "other"}, {"text": "A story", "label": "teaser_headline"},
                       {"text": "A story", "label": "teaser_headline"}, {"text": "Gone", "label": "other"}]}
    blocks = [Block("A story", 10, 17), Block("More news", 0, 9), Block("A story", 20, 27)]
    matched = bench.lines_by_text(page, blocks)
    assert matched == [blocks[1], blocks[0], blocks[2], None]


def test_true_titles_come_from_the_person_labels(tmp_path):
    import gzip
    import json

    root = tmp_path / "corpora" / "segmentation"
    (root / "scrapinghub").mkdir(parents=True)
    (root / "l3s-gn1").mkdir()
    (root / "scrapinghub" / "labels.jsonl").write_text(json.dumps({"id": "a", "blocks": [
        {"i": 0, "text": "Menu", "label": "other"}, {"i": 1, "text": "The story", "label": "title"}]}) + "\n")
    with gzip.open(root / "l3s-gn1" / "blocks.jsonl.gz", "wt") as f:
        f.write(json.dumps({"id": "b", "blocks": [{"text": "Home", "human_label": "other"},
                                                  {"text": "Headline", "human_label": "headline"},
                                                  {"text": "Second", "human_label": "headline"}]}) + "\n")
        f.write(json.dumps({"id": "c", "blocks": [{"text": "Home", "human_label": "other"}]}) + "\n")
    assert bench.true_titles(tmp_path, "scrapinghub") == {"a": "The story"}
    assert bench.true_titles(tmp_path, "l3s-gn1") == {"b": "Headline"}


def test_same_title_folds_whitespace_and_reads_lost_characters_as_question_marks():
    assert bench.same_title(" Storm  hits\nthe coast ", "Storm hits the coast")
    assert bench.same_title("Leno, Kimmel on each other’s show", "Leno, Kimmel on each other?s show")
    assert bench.same_title("Watersâ€™ Cry-Baby", "Watersâ?? Cry-Baby")
    assert not bench.same_title("Leno, Kimmel on each other’s show", "Leno, Kimmel on each others show")
    assert not bench.same_title("서울 뉴스", "부산 뉴스")
    assert not bench.same_title(None, "Storm hits the coast")
