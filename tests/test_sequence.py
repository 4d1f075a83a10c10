import numpy as np

from segmenter.article import LABELS
from segmenter.sequence import body_region, coherent_labels


def _proba(rows):
    """rows: list of dicts label -> probability (rest spread evenly)."""
    out = np.zeros((len(rows), len(LABELS)))
    for i, row in enumerate(rows):
        rest = (1 - sum(row.values())) / (len(LABELS) - len(row))
        out[i] = [row.get(label, rest) for label in LABELS]
    return out


def test_body_region_bridges_a_small_gap_but_not_a_long_one():
    p = np.array([0.1, 0.9, 0.9, 0.3, 0.9, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.8])
    assert body_region(p) == (1, 5)


def test_body_outside_the_region_is_relabelled():
    rows = [{"title": 0.9}] + [{"body": 0.95}] * 4 + [{"other": 0.9}] * 8 + [{"body": 0.6, "other": 0.3}]
    labels, confidence = coherent_labels(_proba(rows), list(LABELS))
    assert labels[:5] == ["title"] + ["body"] * 4
    assert labels[-1] == "other"
    assert len(confidence) == len(rows)


def test_only_one_title_the_likeliest():
    rows = [{"title": 0.6}, {"title": 0.8}, {"body": 0.9}, {"body": 0.9}]
    labels, _ = coherent_labels(_proba(rows), list(LABELS))
    assert labels.count("title") == 1 and labels[1] == "title"


def test_orphan_blurb_is_not_kept():
    rows = [{"other": 0.9}, {"teaser_blurb": 0.5, "other": 0.4}, {"body": 0.9}, {"body": 0.9}]
    labels, _ = coherent_labels(_proba(rows), list(LABELS))
    assert labels[1] != "teaser_blurb"


def test_second_of_two_headlines_that_reads_as_a_summary_becomes_the_blurb():
    texts = ["Storm hits the coast", "Thousands are without power after the storm hit the coast overnight...",
             "Body text " * 20, "More body text " * 20]
    rows = [{"teaser_headline": 0.7}, {"teaser_headline": 0.5, "teaser_blurb": 0.3}, {"body": 0.9}, {"body": 0.9}]
    labels, confidence = coherent_labels(_proba(rows), list(LABELS), texts)
    assert labels[:2] == ["teaser_headline", "teaser_blurb"]
    assert abs(confidence[1] - 0.8) < 1e-9


def test_classes_the_model_never_saw_get_zero_probability():
    proba = np.array([[0.2, 0.8], [0.9, 0.1]])
    labels, _ = coherent_labels(proba, ["other", "body"])
    assert set(labels) <= {"other", "body"}


def test_doubted_paragraphs_under_a_sure_title_are_the_body():
    # No block clears the body prior, but the title is certain: a short post, not an index page.
    menu = [{"other": 0.9}] * 20
    rows = menu + [{"title": 0.95}, {"body": 0.4, "other": 0.55}, {"body": 0.3, "other": 0.65}, {"other": 0.9}]
    labels, _ = coherent_labels(_proba(rows), list(LABELS))
    assert labels[20:24] == ["title", "body", "body", "other"]


def test_doubted_paragraphs_without_a_sure_title_stay_an_index():
    rows = [{"other": 0.9}] * 5 + [{"title": 0.5}, {"body": 0.4, "other": 0.55}, {"body": 0.3, "other": 0.65}]
    labels, _ = coherent_labels(_proba(rows), list(LABELS))
    assert "body" not in labels


def test_region_grows_by_a_long_half_believed_paragraph_at_its_edge():
    rows = [{"title": 0.9}] + [{"body": 0.95}] * 3 + [{"body": 0.35, "other": 0.6}, {"other": 0.95}]
    long_text = "A paragraph long enough to count as one, well over a hundred characters in all, " * 2
    texts = ["Title"] + [long_text] * 4 + ["Related Articles"]
    labels, _ = coherent_labels(_proba(rows), list(LABELS), texts)
    assert labels[4] == "body" and labels[5] == "other"
    # a short block at the edge is not pulled in
    short = texts[:4] + ["Photo: agency", "Related Articles"]
    labels, _ = coherent_labels(_proba(rows), list(LABELS), short)
    assert labels[4] == "other"


LONG = "A paragraph long enough to count as one, well over a hundred characters in all, " * 2


def test_a_lead_read_as_a_blurb_under_the_title_joins_the_body():
    rows = [{"title": 0.9}, {"teaser_blurb": 0.9}] + [{"body": 0.95}] * 3 + [{"other": 0.95}]
    texts = ["Title", LONG, LONG, LONG, LONG, "Related Articles"]
    labels, _ = coherent_labels(_proba(rows), list(LABELS), texts)
    assert labels[:5] == ["title"] + ["body"] * 4


def test_a_blurb_between_body_paragraphs_is_body_but_a_teaser_after_the_body_stays():
    rows = ([{"title": 0.9}] + [{"body": 0.95}] * 2 + [{"teaser_blurb": 0.9}] + [{"body": 0.95}] * 2
            + [{"other": 0.9}] * 6 + [{"teaser_headline": 0.9}, {"teaser_blurb": 0.9}])
    texts = ["Title"] + [LONG] * 5 + ["menu"] * 6 + ["Another story", LONG]
    labels, _ = coherent_labels(_proba(rows), list(LABELS), texts)
    assert labels[:6] == ["title"] + ["body"] * 5
    assert labels[-2:] == ["teaser_headline", "teaser_blurb"]


def test_a_one_paragraph_item_read_as_a_blurb_under_a_sure_title_is_an_article():
    # A short news item after a long menu: the classifier is sure of the title but reads its only
    # paragraph as a teaser blurb (no body anywhere clears the prior).
    rows = [{"other": 0.95}] * 30 + [{"title": 0.99}, {"other": 0.9}, {"teaser_blurb": 0.7, "other": 0.25},
                                     {"other": 0.9}]
    texts = ["menu item"] * 30 + ["Title", "05/10/2018 - Published by: someone", LONG, "Back"]
    labels, _ = coherent_labels(_proba(rows), list(LABELS), texts)
    assert labels[30:] == ["title", "other", "body", "other"]


def test_a_runner_up_title_inside_the_body_is_a_subheading_of_the_body():
    # A subheading restating the headline reads like a title; only the first is the title.
    rows = ([{"title": 0.9}] + [{"body": 0.95}] * 2 + [{"title": 0.7, "body": 0.25}]
            + [{"body": 0.95}] * 2 + [{"other": 0.9}] * 3 + [{"title": 0.6, "body": 0.1, "other": 0.25}])
    labels, _ = coherent_labels(_proba(rows), list(LABELS))
    assert labels[:6] == ["title", "body", "body", "body", "body", "body"]
    assert labels[-1] == "other"  # below the body and not body-like: not kept as a second title


def test_region_grows_along_its_html_container_but_not_into_another():
    # Four paragraphs, then short list items of the same element (a tour-date list closing the
    # article) that the classifier doubts, then a footer line of another element.
    rows = ([{"title": 0.9}] + [{"body": 0.95}] * 4 + [{"body": 0.3, "other": 0.6}] * 3
            + [{"body": 0.3, "other": 0.6}])
    texts = ["Title"] + ["A paragraph of the article, long enough to weigh. " * 4] * 4 + ["Aug. 14 - St. Louis"] * 4
    containers = [("h1", "")] + [("article>p", "body")] * 7 + [("footer>p", "footer")]
    labels, _ = coherent_labels(_proba(rows), list(LABELS), texts, containers)
    assert labels[:8] == ["title"] + ["body"] * 7
    assert labels[8] == "other"
    # the same page as plain text (no containers) keeps the doubted lines out
    labels, _ = coherent_labels(_proba(rows), list(LABELS), texts)
    assert labels[5:8] == ["other"] * 3


def test_blocks_of_the_articles_container_are_body_even_when_doubted():
    # The first two paragraphs sit in the element of the others but the classifier gives them
    # less body than a gap needs (GAP_BODY_MIN): one it calls other, one a teaser headline. The
    # line above them, of another element, and the one it all but rules out stay out.
    rows = ([{"title": 0.9}, {"other": 0.9}, {"body": 0.01, "other": 0.95}, {"body": 0.14, "other": 0.76},
             {"body": 0.14, "teaser_headline": 0.78}] + [{"body": 0.93}] * 3)
    texts = (["Title", "Site August 08, 2018", "Share this story with your friends"]
             + ["A paragraph of the article, long enough to weigh. " * 4] * 5)
    containers = [("h1", ""), ("div", "meta")] + [("div", "post body")] * 6
    labels, _ = coherent_labels(_proba(rows), list(LABELS), texts, containers)
    assert labels == ["title", "other", "other"] + ["body"] * 5
    # without the markup, the doubted paragraphs keep the classifier's labels
    labels, _ = coherent_labels(_proba(rows), list(LABELS), texts)
    assert labels[3:5] == ["other", "teaser_headline"]


def test_region_grows_past_an_inset_to_the_rest_of_its_container():
    # Three paragraphs, an ad and a "Related Links" box (other elements), then the article's last
    # paragraph, which the classifier doubts; then a footer. The inset keeps its labels.
    rows = ([{"title": 0.9}] + [{"body": 0.95}] * 3 + [{"other": 0.9}, {"body": 0.3, "other": 0.6},
            {"teaser_headline": 0.8}] + [{"body": 0.3, "other": 0.6}] + [{"other": 0.9}])
    texts = (["Title"] + ["A paragraph of the article, long enough to weigh. " * 4] * 3
             + ["ADVERTISEMENT", "Related Links", "Another story's headline"]
             + ["The article's last paragraph, after the box. " * 3, "Contact us"])
    containers = ([("h1", "")] + [("article>p", "body")] * 3 + [("aside>div", "ad"), ("aside>h3", "related"),
                  ("aside>li", "related")] + [("article>p", "body"), ("footer>p", "footer")])
    labels, _ = coherent_labels(_proba(rows), list(LABELS), texts, containers)
    assert labels == ["title"] + ["body"] * 3 + ["other", "other", "teaser_headline", "body", "other"]


def test_a_block_split_between_headline_and_blurb_is_still_a_teaser():
    # other is the single likeliest label, but headline and blurb together outweigh it
    rows = [{"title": 0.9}] + [{"body": 0.95}] * 4 + [{"other": 0.9}] * 3 + [
        {"other": 0.4, "teaser_headline": 0.35, "teaser_blurb": 0.2}]
    labels, _ = coherent_labels(_proba(rows), list(LABELS))
    assert labels[-1] == "teaser_headline"


def test_a_body_like_block_outside_the_region_falls_back_to_teaser_when_the_roles_together_win():
    rows = [{"title": 0.9}] + [{"body": 0.95}] * 4 + [{"other": 0.9}] * 3 + [
        {"body": 0.5, "other": 0.2, "teaser_headline": 0.15, "teaser_blurb": 0.15}]
    labels, _ = coherent_labels(_proba(rows), list(LABELS))
    assert labels[-1] == "teaser_headline"


def test_a_photo_caption_read_as_body_is_other_on_html_only():
    rows = [{"title": 0.9}] + [{"body": 0.95}] * 2 + [{"body": 0.7}] + [{"body": 0.95}] * 2
    captions = [False, False, False, True, False, False]
    labels, confidence = coherent_labels(_proba(rows), list(LABELS), captions=captions)
    assert labels == ["title", "body", "body", "other", "body", "body"]
    assert confidence[3] == _proba(rows)[3][LABELS.index("other")]
    assert coherent_labels(_proba(rows), list(LABELS))[0][3] == "body"  # plain text: no markup to tell


def test_the_title_is_looked_for_near_the_body():
    # A menu line far up the page is likelier a title to the classifier than the headline right
    # above the article; with a body below, distance decides, and a weaker headline there counts.
    menu = [{"title": 0.5, "other": 0.5}] + [{"other": 0.95}] * 40
    headline = [{"title": 0.3, "other": 0.6}]
    body = [{"body": 0.9}] * 4
    texts = ["News | Sports | Weather"] + ["Menu item"] * 40 + ["Storm hits the coast"] + ["Body text " * 20] * 4
    labels, _ = coherent_labels(_proba(menu + headline + body), list(LABELS), texts)
    assert labels[41] == "title" and labels[0] == "other"
    weak = [{"title": 0.15, "other": 0.8}]
    labels, _ = coherent_labels(_proba([{"other": 0.95}] * 3 + weak + body), list(LABELS), ["Menu"] * 3 + texts[41:])
    assert labels[3] == "title"
    # Without a body (an index page) the bar stays where it was.
    labels, _ = coherent_labels(_proba([{"other": 0.95}] * 3 + weak), list(LABELS), ["Menu"] * 3 + ["Storm hits"])
    assert "title" not in labels


def test_the_title_the_page_announces_wins_when_only_one_block_matches_it():
    rows = [{"other": 0.9}, {"title": 0.6, "other": 0.3}, {"other": 0.8, "title": 0.02}] + [{"body": 0.9}] * 3
    texts = ["Daily Planet", "Sports | Weather | Opinion", "Storm hits the coast", *["Body text " * 20] * 3]
    hint = "Storm hits the coast - Daily Planet"
    labels, _ = coherent_labels(_proba(rows), list(LABELS), texts, title_hint=hint)
    assert labels[2] == "title" and labels[1] != "title"
    # "Daily Planet" is in the page's title too, but too small a part of it to be the headline.
    assert labels[0] == "other"
    # Without the hint, or when two blocks match it, the classifier's choice stands.
    assert coherent_labels(_proba(rows), list(LABELS), texts)[0][1] == "title"
    twice = texts[:1] + ["Storm hits the coast"] + texts[2:]
    assert coherent_labels(_proba(rows), list(LABELS), twice, title_hint=hint)[0][1] == "title"


def test_an_item_of_a_teaser_list_is_a_teaser_when_the_classifier_half_sees_it():
    # A "Most read" list of five linked headlines after the article: the classifier finds three,
    # gives the fourth 0.3 of teaser and the fifth 0.1; a link-heavy share button in another
    # element gets 0.3 too.
    rows = ([{"title": 0.9}] + [{"body": 0.95}] * 3 + [{"other": 0.9}] + [{"teaser_headline": 0.8}] * 3
            + [{"other": 0.6, "teaser_headline": 0.3}, {"other": 0.85, "teaser_headline": 0.1},
               {"other": 0.6, "teaser_headline": 0.3}])
    texts = (["Title"] + ["A paragraph of the article, long enough to weigh. " * 4] * 3 + ["Most read"]
             + [f"Another story's headline number {k}" for k in range(5)] + ["Share on Facebook"])
    containers = ([("h1", "")] + [("article>p", "body")] * 3 + [("aside>h3", "popular")]
                  + [("aside>ul>li", "popular")] * 5 + [("div>a", "share")])
    link_heavy = [False] * 5 + [True] * 6
    labels, confidence = coherent_labels(_proba(rows), list(LABELS), texts, containers, [False] * 11,
                                         link_heavy=link_heavy)
    assert labels[5:] == ["teaser_headline"] * 4 + ["other", "other"]
    assert abs(confidence[8] - 0.3 - 0.1 / 3) < 1e-9  # its teaser probability, both roles
    # not without the markup (plain text), nor for a block that is not mostly link text
    labels, _ = coherent_labels(_proba(rows), list(LABELS), texts)
    assert labels[8] == "other"
    labels, _ = coherent_labels(_proba(rows), list(LABELS), texts, containers, [False] * 11,
                                link_heavy=[False] * 8 + [False, True, True])
    assert labels[8] == "other"


def test_a_runner_up_title_is_a_teaser_only_when_the_classifier_sees_one():
    # Two headline-like lines far above the body: a breadcrumb holding the headline, which the
    # classifier takes for the title and for little else (teaser a hair above other, both near 0),
    # and another story's headline with some teaser probability; the line above the body is the title.
    breadcrumb = {"title": 0.99, "teaser_headline": 0.006, "other": 0.002}
    rows = ([breadcrumb, {"title": 0.6, "teaser_headline": 0.3}] + [{"other": 0.9}] * 25
            + [{"title": 0.9}] + [{"body": 0.95}] * 4)
    texts = (["Home News Storm hits the coast", "Elections: the count goes on"] + ["Menu item"] * 25
             + ["Storm hits the coast"] + ["A paragraph of the article, long enough to weigh. " * 4] * 4)
    labels, _ = coherent_labels(_proba(rows), list(LABELS), texts)
    assert labels[27] == "title"
    assert labels[0] == "other" and labels[1] == "teaser_headline"


def test_a_doubted_teaser_among_menu_links_is_a_menu_link():
    # A footer menu of five links; the classifier half takes one for a teaser headline (0.5), and
    # is sure of another (0.9, kept): two headlines among five links make a menu, not a list.
    rows = ([{"title": 0.9}] + [{"body": 0.95}] * 3 + [{"other": 0.9}, {"teaser_headline": 0.5, "other": 0.4},
            {"other": 0.9}, {"teaser_headline": 0.9}, {"other": 0.9}])
    texts = (["Title"] + ["A paragraph of the article, long enough to weigh. " * 4] * 3
             + ["About us", "Editorial ethics and guidelines", "Contact", "Storm hits the coast again", "Jobs"])
    containers = [("h1", "")] + [("article>p", "body")] * 3 + [("footer>ul>li", "menu")] * 5
    link_heavy = [False] * 4 + [True] * 5
    labels, _ = coherent_labels(_proba(rows), list(LABELS), texts, containers, [False] * 9, link_heavy=link_heavy)
    assert labels[4:] == ["other", "other", "other", "teaser_headline", "other"]
    labels, _ = coherent_labels(_proba(rows), list(LABELS), texts)  # no markup: the classifier's label
    assert labels[5] == "teaser_headline"
