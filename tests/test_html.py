"""segmenter.html: HTML -> blocks (text like a WET dump's lines, structural signals, offsets)."""
from __future__ import annotations

import gzip
import html as html_lib
import json
import random
import re
import time
from pathlib import Path

import pytest

from segmenter.blocks import MAX_BLOCK_CHARS, Block
from segmenter.html import MAX_HINT_WORDS, MAX_PATH_TAGS, html_blocks, html_title
from segmenter.sequence import is_caption

FIXTURES = Path(__file__).parent / "fixtures"
_TAG = re.compile(r"<[^>]*>")
_WORD = re.compile(r"\w+")


def texts(html: str, **kwargs: bool) -> list[str]:
    return [block.text for block in html_blocks(html, **kwargs)]


def source_text(html: str, block: Block) -> str:
    """What the block's source span shows once tags are removed and entities decoded."""
    return " ".join(html_lib.unescape(_TAG.sub("", html[block.start:block.end])).split())


def assert_sane(html: str, blocks: list[Block]) -> None:
    previous = 0
    for block in blocks:
        assert 0 <= block.start <= block.end <= len(html)
        assert block.start >= previous, "blocks must come in source order"
        previous = block.start
        assert block.text and block.text == " ".join(block.text.split())
        assert len(block.text) <= MAX_BLOCK_CHARS
        assert block.link_density is not None and 0.0 <= block.link_density <= 1.0


def read_fixture(name: str) -> str:
    return gzip.open(FIXTURES / name).read().decode("utf-8")


# --- block splitting ------------------------------------------------------------------------------

def test_block_elements_split_and_inline_elements_join():
    html = ("<html><body><h1>The  <em>big</em>\n story</h1><p>First <a href='/x'>para</a>graph"
            " &amp; more.</p><ul><li>one</li><li>two <b>bold</b></li></ul></body></html>")
    assert texts(html) == ["The big story", "First paragraph & more.", "one", "two bold"]


def test_container_text_outside_child_blocks_is_its_own_block():
    html = "<div>Lead in <span>text</span><p>inner</p>tail text<section>deeper</section>end</div>"
    assert texts(html) == ["Lead in text", "inner", "tail text", "deeper", "end"]


def test_br_cuts_a_run_and_hr_too():
    assert texts("<p>line one<br>line two<br/><br>line three<hr>four</p>") == [
        "line one", "line two", "line three", "four"]


def test_table_row_is_one_block_with_cells_apart():
    html = ("<table><tr><th>Ticker</th><th>Last</th></tr>"
            "<tr><td><a href=q>HD</a></td><td>225.86</td></tr></table>")
    assert texts(html) == ["Ticker Last", "HD 225.86"]


def test_preformatted_lines_are_blocks():
    assert texts("<pre>a  = 1\n\nb = <b>2</b>\n</pre><p>after</p>") == ["a = 1", "b = 2", "after"]


def test_invisible_content_is_skipped():
    html = ("<html><head><title>T</title><style>p{}</style></head><body><script>var a = '<p>no</p>';"
            "</script><noscript>no js</noscript><template><p>tpl</p></template><svg><text>svg</text></svg>"
            "<iframe>frame</iframe><p>visible</p><form><label>Name</label><input value=x>"
            "<button>Go</button><select><option>opt</option></select></form></body></html>")
    assert texts(html) == ["visible"]


def test_hidden_elements_are_skipped_unless_asked():
    html = ("<p hidden>attr</p><div aria-hidden='true'>aria</div><div style='color:red; DISPLAY : none'>"
            "css</div><div aria-hidden='false'>shown</div><p>kept</p>")
    assert texts(html) == ["shown", "kept"]
    assert texts(html, skip_hidden=False) == ["attr", "aria", "css", "shown", "kept"]


def test_comments_cdata_entities_and_nul_bytes():
    html = "<p>a <!-- gone --> b <![CDATA[ x ]]>c&nbsp;d &eacute;t&#233; &#x4e2d;\x00e</p><!-- only -->"
    assert texts(html) == ["a b c d été 中 e"]


def test_cjk_text_and_unclosed_tags():
    html = "<div><p>日本語の記事です。<p>第二段落<li>項目"
    assert texts(html) == ["日本語の記事です。", "第二段落", "項目"]


def test_xml_declaration_with_encoding_is_accepted():
    html = '<?xml version="1.0" encoding="ISO-8859-1"?><html><body><p>héllo</p></body></html>'
    assert texts(html) == ["héllo"]


# --- signals --------------------------------------------------------------------------------------

def test_link_density_is_the_share_of_characters_in_links():
    blocks = html_blocks("<li><a href=a>Headline of a story</a></li><p>plain text</p>"
                         "<p>half <a href=b>link</a></p>")
    assert [round(b.link_density, 2) for b in blocks] == [1.0, 0.0, 0.5]


def test_tag_path_depth_and_tag():
    html = "<html><body><div><article><div><section><div><p>deep</p></div></section></div></article></div>"
    (block,) = html_blocks(html)
    assert block.tag == "p"
    assert block.tag_path == "div>article>div>section>div>p"
    assert len(block.tag_path.split(">")) == MAX_PATH_TAGS
    assert block.depth == 7  # html is depth 0


def test_hints_are_class_and_id_words_of_the_element_then_its_ancestors():
    html = ("<body class='page'><div id='relatedStories' class='css-1qskr30 teaser-list'>"
            "<p class='storyBody x'>text</p></div></body>")
    (block,) = html_blocks(html)
    assert block.hints == "story body teaser list related stories page"  # class words, then id words


def test_hints_are_bounded():
    html = "".join(f"<div class='w{chr(97 + i % 26)}ord{i} deep'>" for i in range(60)) + "<p>x</p>"
    (block,) = html_blocks(html)
    assert 0 < len(block.hints.split()) <= MAX_HINT_WORDS


def test_plain_block_has_no_hints():
    assert html_blocks("<p>x</p>")[0].hints is None


def test_hint_words_skip_short_and_vowelless_words():
    html = "<div class='storyBody HTMLParser css-1qskr30 Bcd a' id='YOUTUBE_Embed'><p>x</p></div>"
    assert html_blocks(html)[0].hints == "story body parser youtube embed"


def test_signals_below_inline_elements_and_around_child_blocks():
    """A block's path and hints take in its inline ancestors (their class words are read only when
    a block below them has text); text around a child block keeps its own element's signals."""
    html = ("<body class='page'><span class='promo box'><div><p class='lead'>text</p></div>"
            "<em class='noise'>x</em></span><div class='box'>Lead <p class='inner'>inner</p>tail</div>"
            "<div class='empty'><p></p></div></body>")
    assert [(b.text, b.tag, b.tag_path, b.depth, b.hints) for b in html_blocks(html)] == [
        ("text", "p", "html>body>span>div>p", 4, "lead promo box page"),
        ("x", "body", "html>body", 1, "page"),
        ("Lead", "div", "html>body>div", 2, "box page"),
        ("inner", "p", "html>body>div>p", 3, "inner box page"),
        ("tail", "div", "html>body>div", 2, "box page"),
    ]


# --- offsets --------------------------------------------------------------------------------------

def test_offsets_point_at_the_text_in_the_source():
    html = ("<html>\r\n<body>\n  <h1 class='t'>Title &amp; more</h1>\n<p>Para <b>one</b>\n continues.</p>"
            "<script>var s = 'Para two';</script>Para two<div>Log In</div><p>Logo</p><p>Log In</p></body>")
    blocks = html_blocks(html)
    assert [b.text for b in blocks] == ["Title & more", "Para one continues.", "Para two", "Log In", "Logo",
                                        "Log In"]
    for block in blocks:
        assert source_text(html, block) == block.text, block
    assert html[blocks[2].start - 9:blocks[2].start] == "</script>"


def test_a_far_verbatim_copy_is_not_taken_for_the_text():
    """The text starts with an entity, so it is not in the source verbatim; a copy of it far on
    (in a script) is, but the block is placed from its first word."""
    html = ("<p>&laquo; Back to the news</p><!--" + "x" * 30_000
            + "--><script>var s = '\u00ab Back to the news';</script>")
    (block,) = html_blocks(html)
    assert block.text == "\u00ab Back to the news"
    assert html.startswith("Back to the news</p>", block.start)


def test_offsets_on_one_long_line_and_beyond_line_65535():
    html = "<p>alpha</p>" * 3 + "\n" * 70_000 + "<p>beta</p><p>gamma</p>"
    blocks = html_blocks(html)
    assert [b.text for b in blocks] == ["alpha"] * 3 + ["beta", "gamma"]
    assert [html[b.start:b.end] for b in blocks] == ["alpha"] * 3 + ["beta", "gamma"]


def test_long_text_is_cut_into_bounded_blocks_within_its_span():
    html = "<p>" + "word " * (MAX_BLOCK_CHARS // 2) + "</p>"
    blocks = html_blocks(html)
    assert len(blocks) == 3
    assert "".join(b.text for b in blocks).replace(" ", "") == "word" * (MAX_BLOCK_CHARS // 2)
    assert_sane(html, blocks)


# --- titles ---------------------------------------------------------------------------------------

def test_title_prefers_og_title_then_title():
    head = "<head><title>Story &amp; more - Site</title>{}</head><body><p>x</p></body>"
    assert html_title(head.format("")) == "Story & more - Site"
    assert html_title(head.format('<meta property="og:title" content="Story &amp; more">')) == "Story & more"
    assert html_title(head.format("<meta content='Single' property='og:title'>")) == "Single"
    assert html_title("<p>no title</p>") is None
    assert html_title("<title>  </title>") is None


def test_zero_width_spacer_paragraphs_make_no_blocks():
    html = ("<title>\u200bStory</title><p>\u200b</p><p>&#8203;</p><p>&#xFEFF; </p>"
            "<p>Text <b>here</b>\u200b</p><p><span>\u200b</span>Second</p>")
    blocks = html_blocks(html)
    assert [b.text for b in blocks] == ["Text here", "Second"]
    assert html[blocks[0].start:blocks[0].end] == "Text <b>here"
    assert html_title(html) == "Story"


# --- bad input, bounded in time ---------------------------------------------------------------------

def timed(html: str, limit_seconds: float) -> list[Block]:
    started = time.perf_counter()
    blocks = html_blocks(html)
    assert time.perf_counter() - started < limit_seconds
    assert_sane(html, blocks)
    return blocks


@pytest.mark.parametrize("html", ["", " ", "\n\t \r\n", "<!-- only a comment -->", "<html></html>", "<", "&"])
def test_empty_and_blank_input_give_no_blocks(html: str):
    assert timed(html, 1.0) == [] or html in ("<", "&")
    assert html_title(html) is None


def test_binary_junk_and_invalid_utf8_do_not_crash():
    junk = random.Random(7).randbytes(200_000)
    timed(junk.decode("latin-1"), 5.0)
    blocks = timed(junk.decode("utf-8", errors="replace"), 5.0)
    assert isinstance(blocks, list)
    decoded = (b"<p>caf\xe9 \xff ok</p>" * 50).decode("utf-8", errors="replace")
    assert texts(decoded)[0] == "caf\ufffd \ufffd ok"


def test_one_5mb_line():
    html = "<html><body><p>" + "word " * 1_000_000 + "</p></body></html>"
    blocks = timed(html, 10.0)
    assert sum(len(b.text) for b in blocks) >= 4_999_000 - len(blocks)


@pytest.mark.slow
def test_200000_elements():
    html = "<html><body>" + "<p>para <b>bold</b></p>" * 100_000 + "</body></html>"
    blocks = timed(html, 30.0)
    assert len(blocks) == 100_000
    assert html[blocks[-1].start:blocks[-1].end] == "para <b>bold"


def test_blocks_never_found_verbatim_cost_linear_time():
    """Every block starts with an entity, so no search finds it: the search budget bounds the cost
    and the blocks still get their line's offsets."""
    html = "<p>&eacute;t&eacute;</p>\n" * 60_000  # under lxml's line-number cap of 65535
    blocks = timed(html, 10.0)
    assert len(blocks) == 60_000 and blocks[-1].text == "été"
    line_start = html.rindex("\n", 0, len(html) - 1) + 1
    assert line_start <= blocks[-1].start < len(html)


@pytest.mark.parametrize("opening, closing", [("<div>", "</div>"), ("<span>", "</span>"),
                                              ("<div><a href=x>", "</a></div>"), ("<li><ul>", "</ul></li>")])
def test_nesting_10000_deep_keeps_its_text(opening: str, closing: str):
    html = "<html><body><h1>Head</h1>" + opening * 10_000 + "deep text" + closing * 10_000 + "<p>after</p>"
    blocks = timed(html, 10.0)
    assert [b.text for b in blocks] == ["Head", "deep text", "after"]
    assert html[blocks[1].start:blocks[1].end] == "deep text"


@pytest.mark.parametrize("junk", ["<script>" * 30_000, "<p" * 100_000, "<" * 300_000, "<!--" * 50_000,
                                  "<a href=x>link " * 50_000])
def test_junk_after_deep_nesting_stays_linear(junk: str):
    timed("<div>" * 3_000 + junk, 5.0)


@pytest.mark.parametrize("junk", ["<title>" * 30_000, "<title" * 30_000, "<meta property=og:title" * 20_000])
def test_title_of_junk_is_fast(junk: str):
    started = time.perf_counter()
    assert html_title(junk) is None
    assert time.perf_counter() - started < 1.0


def test_moderate_nesting_goes_through_the_tree():
    html = "<div class='wrap'>" * 1500 + "<p>deep</p>" + "</div>" * 1500
    (block,) = timed(html, 10.0)
    assert block.depth == 1502 and block.hints == "wrap"


# --- real pages (MIT / Apache-2.0 fixtures) ---------------------------------------------------------

def shingle_recall(truth: str, predicted: str, n: int = 4) -> float:
    def shingles(text: str) -> set[tuple[str, ...]]:
        words = _WORD.findall(text.lower())
        return {tuple(words[i:i + n]) for i in range(max(0, len(words) - n + 1))}
    wanted = shingles(truth)
    return len(wanted & shingles(predicted)) / len(wanted)


def test_real_news_page_matches_its_text_dump_and_holds_the_article():
    html = read_fixture("scrapinghub-sciencealert.html.gz")
    page = json.loads((FIXTURES / "scrapinghub-sciencealert.json").read_text(encoding="utf-8"))
    blocks = timed(html, 2.0)
    ours = [b.text for b in blocks]
    dump = [line.strip() for line in page["text_dump"].splitlines() if line.strip()]
    assert sum(line in set(dump) for line in ours) / len(ours) >= 0.9
    assert sum(line in set(ours) for line in dump) / len(dump) >= 0.9
    assert shingle_recall(page["truth_body"], "\n".join(ours)) >= 0.97
    exact = sum(source_text(html, b) == b.text for b in blocks) / len(blocks)
    assert exact >= 0.9
    assert html_title(html).startswith("NASA Just Confirmed There Are Water Plumes")


def test_real_page_navigation_is_link_dense_and_paragraphs_are_not():
    html = read_fixture("readability-ars-1.html.gz")
    blocks = timed(html, 2.0)
    nav = [b for b in blocks if b.text in ("Biz & IT", "Tech", "Science", "Policy")]
    assert nav and all(b.link_density == 1.0 and b.tag == "li" for b in nav)
    paragraphs = [b for b in blocks if b.tag == "p" and len(b.text) > 200]
    densities = sorted(b.link_density for b in paragraphs)
    assert len(paragraphs) >= 5 and densities[len(densities) // 2] < 0.1 and densities[-1] < 0.5
    headline = "Just-released Minecraft exploit makes it easy to crash game servers"
    assert headline in [b.text for b in blocks]
    assert html_title(html) == headline


def test_a_page_that_libxml2_keeps_inside_head_still_has_its_blocks():
    # An unknown element in the head makes libxml2 put everything after it in <head>.
    html = ("<html><head><title>T</title><mbox></mbox><table><tr><td><p>The story text is here, "
            "a full paragraph of it.</p></td></tr></table></head><body></body></html>")
    texts = [b.text for b in html_blocks(html)]
    assert "The story text is here, a full paragraph of it." in texts
    assert "T" not in texts


@pytest.mark.parametrize("title", [
    "<title>Gale to drive Nation'?' + OAS_query + '",  # never closed
    "<TITLE>BBC SPORTi library-->",  # closed only after the body ends
])
def test_a_title_that_swallows_the_page_does_not_hide_it(title: str):
    # Damaged copies (8 L3S-GN1 pages) lose the end of the <title>: a parser then reads the whole
    # page as the title's text, and it had no blocks at all.
    closing = "</title>" if title.startswith("<TITLE>") else ""
    html = (f"<html>\n<head>\n{title}\n<script>var a = 1;</script></head>\n<body><h1>The headline</h1>"
            f"<p>The story's first paragraph, long enough.</p><p>And the second one.</p>{closing}</body></html>")
    blocks = html_blocks(html)
    texts = [b.text for b in blocks]
    assert "The headline" in texts and "The story's first paragraph, long enough." in texts
    assert "And the second one." in texts and not any("var a" in t for t in texts)
    assert_sane(html, blocks)
    for block in blocks[-3:]:  # the offsets are into the page as given
        assert source_text(html, block) == block.text
    assert html_title(html) is None  # the damaged title is not the page's title


def test_a_title_closed_in_the_head_is_left_alone():
    html = "<html><head><title>A <b> in a title</title></head><body><p>Body text here.</p></body></html>"
    assert texts(html) == ["Body text here."]
    assert html_title(html) == "A in a title"  # (tags in it are dropped, as before)


def test_photo_captions_are_known_by_their_markup():
    page = ("<html><body><div class='article-body'><p>The council met on Monday and agreed a plan.</p>"
            "<figure><img src='a.jpg'><figcaption>The harbour at dawn. Photo: A. Smith</figcaption></figure>"
            "<div class='wp-caption'><img src='b.jpg'><p class='wp-caption-text'>The old pier</p></div>"
            "<p>It will cost ten million and take two years to build.</p></div></body></html>")
    captions = {b.text: is_caption(b) for b in html_blocks(page)}
    assert captions == {"The council met on Monday and agreed a plan.": False,
                        "The harbour at dawn. Photo: A. Smith": True, "The old pier": True,
                        "It will cost ten million and take two years to build.": False}
