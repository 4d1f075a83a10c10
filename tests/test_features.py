from segmenter.blocks import Block, PageBlocks, text_blocks
from segmenter.features import (
    BlockFeaturizer,
    content_token_sets,
    headline_support,
    main_region,
    page_features,
    text_features,
    tokens,
    topical_cohesion,
)


def test_tokens_split_cjk_by_character_and_keep_other_scripts_whole():
    assert tokens("Путин встретился") == ["путин", "встретился"]
    assert tokens("習近平會見") == ["習", "近", "平", "會", "見"]
    assert tokens("Hello, WORLD!") == ["hello", "world"]


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
    toks = [tokens(line) for line in lines]
    support = headline_support(toks, content_token_sets(toks))
    assert support[0] == 2 and support[1] == 0


def test_cohesion_is_high_for_paragraphs_of_one_story():
    lines = ["Lukashenko met Putin in Sochi on Tuesday to discuss the protests in Minsk and more loans.",
             "Unrelated teaser about vaccines and the weather in Canada this winter season, read more",
             "In Sochi, Putin promised Lukashenko loans and said Minsk should settle the protests alone.",
             "Another paragraph: the Kremlin said Putin and Lukashenko agreed on loans for Minsk."]
    toks = [tokens(line) for line in lines]
    cohesion = topical_cohesion(toks, content_token_sets(toks))
    assert cohesion[2] > 0.5 > cohesion[1]


def test_page_features_rows_line_up_with_blocks_and_use_neighbours():
    blocks = text_blocks("Title here\nA long paragraph of text that goes on. And on.\nFooter")
    rows = page_features(blocks)
    assert len(rows) == 3
    assert "n-1_missing" in rows[0] and "n+1_log_chars" in rows[0]
    assert rows[1]["n-1_log_chars"] == rows[0]["log_chars"]


def test_title_hint_feature_only_for_pages_that_have_one():
    blocks = text_blocks("Bridge opens\nThe bridge opened today, said the mayor.")
    with_hint = page_features(blocks, "Bridge opens | The Daily Paper")
    assert with_hint[0]["in_title_hint"] == 1.0
    assert "in_title_hint" not in page_features(blocks)[0]


def test_featurizer_concatenates_pages_and_accepts_plain_lists():
    page = [Block("One line", 0, 8), Block("Two line", 9, 17)]
    rows = BlockFeaturizer().fit_transform([PageBlocks(page), page])
    assert len(rows) == 4
