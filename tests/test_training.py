"""Label derivation and the split: the pure parts of training, plus checks on ../shared when present."""
import gzip
import json
import random
from pathlib import Path

import pytest

from segmenter.blocks import PageBlocks, text_blocks
from segmenter.training import (
    HTML,
    HUMAN_WEIGHT,
    PROJECT_LABELS,
    PROJECT_WEIGHT,
    SHARED,
    LabeledPage,
    _apply_human,
    _apply_links,
    block_weights,
    body_labels,
    cropped,
    is_article_url,
    labeled_pages,
    labelled_page_weights,
    make_split,
    person_labels,
    read_pages,
    site_of,
    synthetic_pages,
    teaser_of,
)

HAVE_SHARED = (SHARED / "corpora" / "segmentation").is_dir()
DATA = Path(__file__).resolve().parents[1] / "data"


def test_site_of_keeps_the_registered_domain():
    assert site_of("https://www.bbc.co.uk/news/x") == "bbc.co.uk"
    assert site_of("http://news.example.com/a") == "example.com"


def test_article_urls_have_a_slug_or_a_long_id():
    assert is_article_url("https://example.com/2019/11/19/storm-hits-the-coast/")
    assert is_article_url("https://example.com/news/1234567.html")
    assert not is_article_url("https://example.com/world/")


def test_body_labels_find_blocks_in_the_truth_and_not_stray_short_words():
    blocks = text_blocks("Home\nMenu\nSearch\nThe council met today and agreed a plan for the harbour.\n"
                         "Home\nIt will cost ten million and take two years to build.")
    truth = "The council met today and agreed a plan for the harbour.\nHome\n" \
            "It will cost ten million and take two years to build."
    # "Home" far from the article is a menu item even though the word occurs in the article;
    # next to article paragraphs it is a (short) body block
    assert body_labels(blocks, truth) == [False, False, False, True, True, True]


def test_links_to_articles_label_teaser_headline_and_blurb():
    blocks = text_blocks("Storm hits the northern coast overnight\n"
                         "Thousands were left without power as winds reached 120 km/h on Monday...\n"
                         "Contact us")
    labels = ["other"] * 3
    _apply_links(blocks, labels, ["storm hits the northern coast overnight"])
    assert labels == ["teaser_headline", "teaser_blurb", "other"]


def test_human_labels_follow_the_text_in_order():
    human = {"blocks": [{"text": "More", "label": "other"}, {"text": "More", "label": "teaser_headline"}]}
    blocks = text_blocks("More\nSomething new\nMore")
    assert _apply_human(blocks, human) == ["other", "other", "teaser_headline"]


def test_labels_with_the_ground_truth_body_realign_it_on_blocks_cut_differently():
    # Labelled on the dump's lines; an HTML parse joins the two body lines into one block.
    human = {"body_from": "ground truth", "blocks": [
        {"text": "Storm hits the coast", "label": "title"},
        {"text": "The storm hit the coast on Monday, and thousands lost power.", "label": "body"},
        {"text": "Schools stayed closed on Tuesday across the region.", "label": "body"},
        {"text": "Read more: Floods close the roads in the north", "label": "teaser_headline"},
        {"text": "More news", "label": "other"}]}
    truth = ("The storm hit the coast on Monday, and thousands lost power. Schools stayed closed on "
             "Tuesday across the region. Read more: Floods close the roads in the north")
    blocks = text_blocks("Storm hits the coast\nThe storm hit the coast on Monday, and thousands lost power. "
                         "Schools stayed closed on Tuesday across the region.\n"
                         "Read more: Floods close the roads in the north\nMore news")
    assert _apply_human(blocks, human, truth) == ["title", "body", "teaser_headline", "other"]
    assert _apply_human(blocks, human) == ["title", "other", "teaser_headline", "other"]


def _page(labels):
    text = "\n".join(f"line number {i}" for i in range(len(labels)))
    return LabeledPage("id-1", "scrapinghub", "http://x.com/a", "text", PageBlocks(text_blocks(text)), labels, "")


def test_crop_keeps_the_article_and_a_margin_deterministically():
    labels = ["other"] * 20 + ["title", "body", "body"] + ["other"] * 20
    first, second = cropped(_page(labels)), cropped(_page(labels))
    assert first.labels == second.labels
    assert "title" in first.labels and first.labels.count("body") == 2
    assert len(first.labels) <= 3 + 2 * 4


def test_unsure_headline_like_blocks_weigh_less_on_derived_pages():
    page = _page(["other", "body"])
    page.page.blocks[0] = text_blocks("A headline of six words here")[0]
    weights = block_weights(page, {})
    assert weights[0] < weights[1]
    assert block_weights(page, {"id-1": 5.0}) == [15.0, 15.0]  # 5 times scrapinghub's corpus weight


def test_the_corpus_labelled_pages_weigh_more_than_the_projects(tmp_path: Path):
    root = tmp_path / "corpora" / "segmentation" / "scrapinghub"
    root.mkdir(parents=True)
    (root / "labels.jsonl").write_text(json.dumps({"id": "a", "blocks": []}) + "\n")
    project = tmp_path / "project.jsonl"
    project.write_text("".join(json.dumps({"id": pid, "blocks": []}) + "\n" for pid in ("a", "b")))
    assert labelled_page_weights(tmp_path, {"scrapinghub": project}) == {"a": HUMAN_WEIGHT, "b": PROJECT_WEIGHT}
    assert HUMAN_WEIGHT > PROJECT_WEIGHT


def _article(number: int) -> LabeledPage:
    lines = [f"Menu {number} item {k}" for k in range(5)] + [
        f"Headline of story number {number} about the harbour",
        f"Story {number} begins here with a long first paragraph. It goes on about the harbour and the "
        f"ships for a while, long enough to be cut into a blurb of a few sentences at most.",
        f"A second paragraph of story {number}, which never makes it into a teaser."] + [
        f"Footer {number} link {k}" for k in range(5)]
    labels = ["other"] * 5 + ["title", "body", "body"] + ["other"] * 5
    return LabeledPage(f"page-{number}", "scrapinghub", f"http://x.com/{number}", "text",
                       PageBlocks(text_blocks("\n".join(lines))), labels, "")


def test_teaser_of_a_page_is_its_title_and_the_start_of_its_lead():
    teaser = teaser_of(_article(1), random.Random(0))
    assert teaser[0][1] == "teaser_headline" and teaser[0][0].text.startswith("Headline of story number 1")
    if len(teaser) == 2:
        assert teaser[1][1] == "teaser_blurb" and teaser[1][0].text.startswith("Story 1 begins here")
        assert len(teaser[1][0].text) <= 240 + 5


def test_synthetic_index_pages_have_teasers_and_no_body_rails_keep_the_article():
    pages = [_article(k) for k in range(60)]
    synthetic = synthetic_pages(pages)
    assert synthetic == synthetic_pages(pages)  # reproducible
    index = [p for p in synthetic if p.id.endswith(":index")]
    rails = [p for p in synthetic if p.id.endswith(":rail")]
    assert index and rails
    for page in index:
        assert "body" not in page.labels and "title" not in page.labels
        assert page.labels.count("teaser_headline") >= 5
        assert len(page.labels) == len(page.blocks)
    for page in rails:
        assert page.labels.count("title") == 1 and page.labels.count("body") == 2
        assert page.labels.count("teaser_headline") >= 2
        own = page.id.split(":")[0].split("-")[1]
        # the teasers are other pages' stories
        assert all(own not in b.text.split() for b, label in zip(page.blocks, page.labels, strict=True)
                   if label.startswith("teaser"))


@pytest.mark.skipif(not HAVE_SHARED, reason="../shared/corpora/segmentation absent")
def test_split_is_by_site_reproducible_and_matches_the_shipped_one():
    split = make_split()
    assert split == make_split()
    assert split == json.loads((DATA / "split.json").read_text())
    for corpus in ("scrapinghub", "l3s-gn1"):
        assert not set(split[corpus]["train"]) & set(split[corpus]["eval"])


def test_training_leaves_out_html_copies_whose_title_swallows_the_page(tmp_path: Path):
    root = tmp_path / "corpora" / "segmentation" / "scrapinghub"
    root.mkdir(parents=True)
    story = "<h1>Storm hits the coast</h1><p>The storm hit the coast on Monday, and thousands lost power.</p>"
    copies = {"whole": f"<html><head><title>Storm</title></head><body>{story}</body></html>",
              "damaged": f"<html><head><title>Storm library--></head><body>{story}</body></html>"}
    rows = []
    for page_id, html in copies.items():
        (root / f"{page_id}.html.gz").write_bytes(gzip.compress(html.encode()))
        rows.append({"id": page_id, "url": f"https://example.com/news/{page_id}-storm-hits-the-coast",
                     "html_path": f"{page_id}.html.gz", "text_dump": "",
                     "truth_body": "The storm hit the coast on Monday, and thousands lost power."})
    (root / "pages.jsonl.gz").write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode()))

    every = {p.id: p for p in labeled_pages("scrapinghub", None, HTML, tmp_path)}
    assert set(every) == {"whole", "damaged"}
    assert "body" in every["damaged"].labels  # the repaired parse reads the damaged copy
    kept = [p.id for p in labeled_pages("scrapinghub", None, HTML, tmp_path, skip_damaged=True)]
    assert kept == ["whole"]


def _project_labels() -> list[dict]:
    with open(PROJECT_LABELS["scrapinghub"], encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_project_labels_are_training_pages_only_and_well_formed():
    split = json.loads((DATA / "split.json").read_text())["scrapinghub"]
    records = _project_labels()
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)) == 89
    assert set(ids) <= set(split["train"]) and not set(ids) & set(split["eval"])
    for record in records:
        assert [b["i"] for b in record["blocks"]] == list(range(len(record["blocks"])))
        labels = [b["label"] for b in record["blocks"]]
        assert set(labels) <= {"title", "body", "teaser_headline", "teaser_blurb", "other"}
        assert labels.count("title") <= 1
        assert record["body_from"] == "ground truth"


def test_the_corpus_labels_win_over_the_projects_for_the_same_page(tmp_path: Path):
    root = tmp_path / "corpora" / "segmentation" / "scrapinghub"
    root.mkdir(parents=True)
    line = {"i": 0, "text": "Storm hits the coast"}
    (root / "labels.jsonl").write_text(json.dumps({"id": "a", "blocks": [{**line, "label": "title"}]}) + "\n")
    project = tmp_path / "project.jsonl"
    project.write_text("".join(json.dumps({"id": pid, "blocks": [{**line, "label": "other"}]}) + "\n"
                               for pid in ("a", "b")))
    labels = person_labels("scrapinghub", tmp_path, {"scrapinghub": project})
    assert {pid: r["blocks"][0]["label"] for pid, r in labels.items()} == {"a": "title", "b": "other"}
    assert person_labels("l3s-gn1", tmp_path, {"scrapinghub": project}) == {}


@pytest.mark.skipif(not HAVE_SHARED, reason="../shared/corpora/segmentation absent")
def test_project_labels_are_the_dump_lines_with_the_ground_truth_body():
    pages = {p["id"]: p for p in read_pages("scrapinghub")}
    for record in _project_labels():
        page = pages[record["id"]]
        lines = text_blocks(page["text_dump"])
        assert [b["text"] for b in record["blocks"]] == [b.text for b in lines]
        derived = body_labels(lines, page["truth_body"])
        for block, is_body in zip(record["blocks"], derived, strict=True):
            # Body is the ground truth's; the annotators only took out of it links to other stories.
            assert (block["label"] == "body") == is_body or is_body and block["label"] == "teaser_headline"


def test_l3s_project_labels_are_training_pages_only_and_carry_no_text():
    split = json.loads((DATA / "split.json").read_text())["l3s-gn1"]
    with open(PROJECT_LABELS["l3s-gn1"], encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)) == 420
    assert set(ids) <= set(split["train"]) and not set(ids) & set(split["eval"])
    for record in records:
        assert set(record) == {"id", "body_from", "labels"}  # the corpus's text is not copied here
        assert set(record["labels"]) <= {"title", "body", "teaser_headline", "teaser_blurb", "other"}
        assert record["labels"].count("title") <= 1


@pytest.mark.skipif(not HAVE_SHARED, reason="../shared/corpora/segmentation absent")
def test_l3s_project_labels_join_the_dump_lines_and_keep_the_ground_truth_body():
    with open(PROJECT_LABELS["l3s-gn1"], encoding="utf-8") as f:
        records = {r["id"]: r for r in map(json.loads, f)}
    pages = [p for p in read_pages("l3s-gn1") if p["id"] in records]
    assert len(pages) == len(records)
    for page in pages:
        lines = text_blocks(page["text_dump"])
        labels = records[page["id"]]["labels"]
        assert len(labels) == len(lines)
        for label, is_body in zip(labels, body_labels(lines, page["truth_body"]), strict=True):
            # Body is the ground truth's; the annotators only took headlines and teasers out of it.
            assert (label == "body") == is_body or is_body and label in ("title", "teaser_headline", "teaser_blurb")
    labelled = {p.id: p for p in labeled_pages("l3s-gn1", {pages[0]["id"]}, projects=PROJECT_LABELS)}
    assert labelled[pages[0]["id"]].labels == records[pages[0]["id"]]["labels"]


def test_train_refuses_project_labels_of_an_unknown_corpus(tmp_path: Path, capsys):
    from segmenter.cli import main

    (tmp_path / "corpora" / "segmentation").mkdir(parents=True)
    code = main(["train", "--shared", str(tmp_path), "--out", str(tmp_path / "m"),
                 "--project-labels", "scrapinghub,nope"])
    assert code == 2
    assert "unknown corpus nope" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()
