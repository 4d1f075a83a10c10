import re

import numpy as np
import pytest

from segmenter.blocks import Block, PageBlocks, text_blocks
from segmenter.estimators import BlockFeaturizer, ColumnVectorizer
from segmenter.features import (
    _COPYRIGHT,
    _SENTENCE_END,
    _TIME_OR_DATE,
    CJK,
    NEIGHBOUR_OFFSETS,
    WORD,
    PageTokens,
    _unique_counts,
    char_classes,
    headline_support,
    main_region,
    page_features,
    page_tokens,
    text_columns,
    text_features,
    tokens,
    topical_cohesion,
)


def test_tokens_split_cjk_by_character_and_keep_other_scripts_whole():
    assert tokens("Путин встретился") == ["путин", "встретился"]
    assert tokens("習近平會見") == ["習", "近", "平", "會", "見"]
    assert tokens("Hello, WORLD!") == ["hello", "world"]


@pytest.mark.parametrize("texts", [
    ["Hello, WORLD!", "It's 12:30 — déjà vu", "ΟΔΟΣ ΣΑΣ. Σ", "𝐀𝐁 c_d 😀 e"],
    ["İstanbul İİ", "Straße ǅ ﬁ", "ΣΑΣ"],  # lowering lengthens a text: positions do not line up
    ["Путин встретился", "習近平會見 Xi"],  # CJK: text by text
    ["ΟΔΟΣ", "ΑΒΓ", "ΑΣ'", "\u0301Β", "Σ"],  # a final sigma at a text's end or start, lowered in the join
])
def test_page_tokens_are_each_texts_tokens(texts):
    flat, counts = page_tokens(texts)
    assert flat == [t for text in texts for t in tokens(text)]
    assert counts.tolist() == [len(tokens(text)) for text in texts]


def test_lowering_a_character_keeps_its_word_and_cjk_classes():
    """page_tokens reads the classes of the page as given for its lower-cased characters."""
    table = char_classes()
    for code in range(0xFFFF):
        lowered = chr(code).lower()
        if len(lowered) == 1:
            assert table[code] & (WORD | CJK) == table[min(ord(lowered), 0xFFFF)] & (WORD | CJK), hex(code)


def test_text_features_see_sentences_ellipsis_and_cues():
    sentence = text_features("The council met today. It agreed on a plan.")
    teaser = text_features("Welcome to your daily update leading up to the election...")
    header = text_features("Related Articles")
    assert sentence["sentences"] > 0 and sentence["ends_terminal"] == 1.0
    assert teaser["ends_ellipsis"] == 1.0
    assert header["cue"] >= 1.0 and sentence["cue"] == 0.0


def test_cjk_sentence_end_counts():
    assert text_features("今天天气很好。我们去公园。")["sentences"] > 0


def test_main_region_is_the_run_of_long_blocks():
    lengths = [1, 2, 1, 40, 35, 2, 50] + [1] * 10 + [30, 1]
    assert main_region(lengths) == (3, 7)
    # a short gap is bridged: subheadings and captions do not split an article
    assert main_region([1, 40, 2, 40, 1]) == (1, 4)


def test_headline_support_finds_the_title_its_paragraphs_echo():
    lines = ["Mayor opens new bridge over river Thames",
             "Other story about football transfers today",
             "Ticket prices",
             "The mayor said the bridge over the Thames will carry ten thousand people a day from next week on.",
             "Engineers built the bridge in two years; the mayor thanked them and the river authority."]
    support = headline_support(PageTokens.from_tokens([tokens(line) for line in lines]))
    assert support[0] == 2 and support[1] == 0


def test_cohesion_is_high_for_paragraphs_of_one_story():
    lines = ["Lukashenko met Putin in Sochi on Tuesday to discuss the protests in Minsk and more loans.",
             "Unrelated teaser about vaccines and the weather in Canada this winter season, read more",
             "In Sochi, Putin promised Lukashenko loans and said Minsk should settle the protests alone.",
             "Another paragraph: the Kremlin said Putin and Lukashenko agreed on loans for Minsk."]
    cohesion = topical_cohesion(PageTokens.from_tokens([tokens(line) for line in lines]))
    assert cohesion[2] > 0.5 > cohesion[1]


def test_content_tokens_drop_short_and_page_wide_words():
    lines = ["the site news"] * 9 + ["Lukashenko met Putin in the Sochi resort"]
    content = PageTokens.from_tokens([tokens(line) for line in lines]).content_sets()
    # "site" and "news" are in 9 of 10 blocks (furniture); "the", "met", "in" are short
    assert content[-1] == {"lukashenko", "putin", "sochi", "resort"}
    assert content[0] == set()


def test_page_features_columns_line_up_with_blocks_and_use_neighbours():
    blocks = text_blocks("Title here\nA long paragraph of text that goes on. And on.\nFooter")
    cols = page_features(blocks)
    assert all(len(values) == 3 for values in cols.values())
    assert cols["n-1_missing"].tolist() == [1.0, 0.0, 0.0]
    assert cols["n+1_log_chars"][0] == cols["log_chars"][1]
    assert cols["n-1_log_chars"][1] == cols["log_chars"][0]


def test_title_hint_feature_only_for_pages_that_have_one():
    blocks = text_blocks("Bridge opens\nThe bridge opened today, said the mayor.")
    with_hint = page_features(blocks, "Bridge opens | The Daily Paper")
    assert with_hint["in_title_hint"][0] == 1.0
    assert "in_title_hint" not in page_features(blocks)


def test_html_blocks_get_structure_columns_text_blocks_none():
    html = [Block("Home", 0, 4, link_density=1.0, tag="a", depth=3, hints="nav menu x1"),
            Block("Story text here.", 5, 20, link_density=0.0, tag="p", depth=5, hints="article-body")]
    cols = page_features(html)
    assert cols["tag=a"].tolist() == [1.0, 0.0] and cols["tag=p"].tolist() == [0.0, 1.0]
    assert cols["hint=nav"].tolist() == [1.0, 0.0] and "hint=x1" not in cols
    assert cols["link_density"].tolist() == [1.0, 0.0]
    assert "is_html" not in page_features(text_blocks("Home\nStory text here."))


def test_empty_and_odd_text_do_not_break_features():
    assert page_features([]) == {}
    odd = [Block("\ud800 lone surrogate", 0, 16), Block("😀😀 emoji beyond the BMP", 17, 40), Block("·", 41, 42)]
    cols = page_features(odd)
    assert all(np.isfinite(values).all() and len(values) == 3 for values in cols.values())
    assert cols["separators"][2] > 0


def test_featurizer_and_vectorizer_stack_pages_in_order():
    page = [Block("One line", 0, 8), Block("Two line", 9, 17)]
    other = text_blocks("A third block\nwith a fourth one here")
    pages = BlockFeaturizer().fit_transform([PageBlocks(page), page, PageBlocks(other, "A title"), []])
    vectorizer = ColumnVectorizer().fit(pages)
    matrix = vectorizer.transform(pages)
    assert matrix.shape == (6, len(vectorizer.get_feature_names_out()))
    hint = vectorizer.vocabulary_["in_title_hint"]
    assert matrix[:4, hint].tolist() == [0.0] * 4  # absent on pages without a hint: 0
    assert matrix[4, vectorizer.vocabulary_["rel_pos"]] == 0.0
    assert matrix[5, vectorizer.vocabulary_["rel_pos"]] == 0.5
    # a column unseen in fit is ignored, not an error
    assert vectorizer.transform([{"unseen": np.ones(2)}]).shape == (2, matrix.shape[1])


# The readable forms of the two patterns features.py writes digit-first / class-first for speed.
READABLE_TIME_OR_DATE = re.compile(r"\b\d{1,2}:\d{2}\b|\b(?:19|20)\d{2}\b|\b\d{1,2}[./-]\d{1,2}[./-]\d{2,4}\b")
READABLE_COPYRIGHT = re.compile(r"©|copyright", re.IGNORECASE)
PATTERN_PROBES = [
    "Updated 12:30, 3 June 2021 - 2019-2020 season, 1.2.2003 and 31/12/99; ©2024 COPYRIGHT Copyright",
    "a12:30 x2019 12:345 1999a 2099 1899 1:2 12/1/2 12-1-2020x 12.12.12.12 1:22:33 ١٢:٣٠ 20٢٠ copyrıght",
    "1:30 101999 2020 3/4/2020 1/1/1 cop©yright c© ©© C0pyright cOpYrIgHt x_2019 _12:30 é2019 (2019)",
]


@pytest.mark.parametrize("fast, readable", [(_TIME_OR_DATE, READABLE_TIME_OR_DATE),
                                            (_COPYRIGHT, READABLE_COPYRIGHT)])
def test_fast_patterns_match_where_their_readable_forms_do(fast, readable):
    for text in PATTERN_PROBES + ["\n".join(PATTERN_PROBES)]:
        assert [m.span() for m in fast.finditer(text)] == [m.span() for m in readable.finditer(text)]


SENTENCE_PROBES = [
    "One. Two! Three? Four.", "He said \"Go.\" Then left.)] 'Yes.'’ x", "3.14 e.g.x a.\u00a0b!\u2003c?\x1fd",
    "「好。」 好！好？end。", "No end mark", "...", ". . .", "a.\"", "a.\")x b.)\n", "", "İstanbul. Copyright 2024",
    "(c) copyrıght ©", "xcopyright, COPYRIGHT. CoPyRiGhT! c o p y r i g h t", "İ copyright", "cop\nyright",
]


def test_sentence_and_copyright_columns_count_what_their_regexes_find():
    texts = SENTENCE_PROBES + PATTERN_PROBES
    cols = text_columns(texts)
    assert cols["sentences"].tolist() == [np.log1p(len(_SENTENCE_END.findall(t))) for t in texts]
    assert cols["copyright"].tolist() == [float(bool(_COPYRIGHT.search(t))) for t in texts]
    lowered_longer = text_columns(["İ", "Copyright", "no", "©"])  # positions do not line up when lowered
    assert lowered_longer["copyright"].tolist() == [0.0, 1.0, 0.0, 1.0]


@pytest.mark.parametrize("values", [[], [7], [5, 1, 5, 5, 2], list(range(50, 0, -3)) * 3])
def test_unique_counts_is_numpys_unique(values):
    values = np.array(values, dtype=np.int64)
    for ours, numpys in zip(_unique_counts(values), np.unique(values, return_counts=True), strict=True):
        assert ours.tolist() == numpys.tolist()


def test_pages_without_tokens_and_neighbours_beyond_short_pages():
    cols = page_features(text_blocks("...\n— —\n!!"))
    assert all(np.isfinite(values).all() and len(values) == 3 for values in cols.values())
    single = page_features(text_blocks("Only one line here"))
    for offset in NEIGHBOUR_OFFSETS:
        assert single[f"n{offset:+d}_missing"].tolist() == [1.0]
        assert single[f"n{offset:+d}_log_chars"].tolist() == [0.0]
