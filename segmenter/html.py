"""HTML -> blocks: the page's visible text, one block per block-level run, as a WET extractor gives it.

The classifier is trained on plain-text dumps (one line per block) and on HTML, so the blocks made
here imitate the lines of those dumps: every block-level element (p, h1-h6, li, dd, ...) starts a
new block, inline elements (a, span, b, ...) join their block's text, a table row is one block
with its cells apart by a space, ``<br>`` cuts a run, and the text a container holds outside its
child blocks is a block of its own. Invisible content (scripts, styles, form controls, ``hidden``
elements ...) is dropped. These choices were checked against the ``text_dump`` of the first 60
pages of scrapinghub and l3s-gn1: 99% / 95% of our blocks are lines of the dump, and the dump's
shingles are found in our text with F1 0.97 / 0.99. Most of the rest is hidden content, which the
dumps keep (they are made without CSS): ``skip_hidden=False`` keeps it too.

One pass over the tree with ``lxml.etree.iterwalk`` (no Python recursion, so a page nested
10,000 deep is just a long walk; beyond libxml2's limit of 2048 levels a flat tag-splitting pass
takes over). Each block also carries structural signals: link density, its tag, its tag path, its
depth and the class/id words of it and its ancestors.

lxml gives no character offsets, only the line of each start tag (``sourceline``). A block is
located afterwards by searching its first and last text forward from that line and from the end
of the previous block; when that fails the block gets an approximate span (its start, or its
anchor line, and the length of its text), so every block has sane offsets and nothing raises.
On the same pages 97% / 94% of the spans show exactly the block's text once tags are removed and
entities decoded; most others are off by an entity.
"""
from __future__ import annotations

import bisect
import functools
import html as html_lib
import re
from dataclasses import dataclass, field

from lxml import etree

from segmenter.blocks import BLANK, MAX_BLOCK_CHARS, Block

# Elements that start a new block: the HTML "block-level" and table/list elements, plus the
# form/figure containers whose text a WET extractor also puts on a line of its own.
BLOCK_TAGS = frozenset("""
    address article aside blockquote body caption center dd details dialog dir div dl dt fieldset
    figcaption figure footer form frameset h1 h2 h3 h4 h5 h6 header hgroup html legend li main menu
    nav noframes ol option p pre section summary table tbody tfoot thead tr ul
""".split())
# Table cells are not blocks: a WET extractor writes a table row on one line, cells apart by a space.
CELL_TAGS = frozenset({"td", "th"})
# Inside these, each source line is a line of the dump (code, poems, preformatted tables).
PREFORMATTED_TAGS = frozenset({"pre", "listing", "plaintext", "xmp"})
# Void elements that separate runs of text without holding any.
BREAK_TAGS = frozenset({"br", "hr"})
# Content that is never visible text: code, embedded documents and graphics, the head's own
# elements; and form controls and their labels, which the WET dumps leave out too. <head> itself is
# walked: after a tag it does not know there, libxml2 keeps the whole page inside <head>.
SKIP_TAGS = frozenset("""
    script style noscript template svg math iframe object embed canvas title meta link base
    select textarea button input label audio video map
""".split())
# Skipped elements whose content is raw text: their closing tag is found by a plain search, which
# gives a good anchor for the text that follows them (a long script would otherwise hide it).
RAW_TEXT_TAGS = frozenset({"script", "style", "textarea", "title"})
# The end of a script's content, searched for verbatim: long enough to be unique on the page.
RAW_KEY_CHARS = 40

# Bounds on the structural signals, so that a page nested 10,000 deep costs no more per block
# than a normal one: the last 6 tags already tell "footer>ul>li" from "article>div>p".
MAX_PATH_TAGS = 6
MAX_HINT_WORDS = 16
# Class/id words shorter than this are noise ("a", "x", grid letters).
MIN_HINT_LETTERS = 2
# Class strings repeat a lot within a page and across pages of a site.
HINT_CACHE_SIZE = 4096
_HINT_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
# Generated class names ("css-1qskr30", "e1h9rw200" -> "qskr") carry no meaning and would crowd
# out the real words; a word without a vowel is dropped. Applied to the words found by
# _HINT_WORD, lower-cased and space-separated: one regex pass instead of a test per word.
_KEPT_WORD = re.compile(rf"\b(?=[a-z]*[aeiouy])[a-z]{{{MIN_HINT_LETTERS},}}")
# hidden="", aria-hidden="true" (any case, spaces), or "display: none" in the inline style.
_HIDING_ATTRIBUTES = frozenset({"hidden", "aria-hidden", "style"})
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none", re.IGNORECASE)

# Locating blocks in the source. A key of this many word characters is distinctive enough and
# short enough to survive an inline tag or an entity a little further on.
KEY_CHARS = 16
# How far past the anchor line the first word of a block is searched for (markup-heavy pages
# put several KB of attributes between a start tag and its text).
START_WINDOW = 64_000
# Past line 65535 the anchor is only a lower bound: search further (a miss then costs more, but
# such pages are rare and str.find scans a megabyte in well under a millisecond).
FAR_WINDOW = 1_000_000
# A verbatim hit this far past the first hit of the first word is taken for a copy elsewhere.
VERBATIM_SLACK = 10_000
# Text chars that a first-word match may skip (an entity or a symbol before the first word).
LEAD_SLACK = 8
# All searches of one page together may scan this many times its size (plus a base): of the 802
# scrapinghub and L3S-GN1 pages the median one uses 1.2x, the 99th percentile 24x, the most 47x
# (a minified page with long gaps between blocks); the bound keeps a page of unfindable blocks
# (every one starting with an entity) linear: 48 x 5 MB scanned is a fraction of a second.
SEARCH_BUDGET_FACTOR = 48
SEARCH_BUDGET_BASE = 1_000_000
# Hits of a first word inside longer words skipped before giving up (bounds the cost).
WORD_TRIES = 8
# libxml2 stops at 2048 nested elements (even with huge_tree) and drops the rest of the page; such
# pages go through the flat splitter instead.
_DEPTH_ERROR = "Excessive depth"
# lxml (libxml2 without XML_PARSE_BIG_LINES) reports line numbers up to 65535 only.
MAX_SOURCELINE = 65535
_WORD = re.compile(r"\w+")
_LAST_WORD = re.compile(r"\w+(?=\W*$)")
# Bounded attribute runs: an unclosed "<meta" or "<title" must not make a search quadratic.
_TITLE_OPEN = re.compile(r"<title\b[^>]{0,1000}>", re.IGNORECASE)
_TITLE_CLOSE = re.compile(r"</title\s*>", re.IGNORECASE)
_ANY_TAG = re.compile(r"<[^>]*>")
# What a title never holds: the end of the head or the start of the body. A <title> whose text runs
# into them, or is never closed, has swallowed the page (see ``_unswallow_title``).
_HEAD_END = re.compile(r"</head\b|<body\b", re.IGNORECASE)
_META_TAG = re.compile(r"<meta\b[^>]{0,4000}>", re.IGNORECASE)
_OG_TITLE = re.compile(r"""(?:property|name)\s*=\s*["']?og:title\b""", re.IGNORECASE)
_CONTENT_ATTR = re.compile(r"""content\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE | re.DOTALL)
# <title> and og:title live in the head; do not scan a 5 MB body for them.
TITLE_SCAN_CHARS = 200_000


# Where to search for a text node: a source offset at or before it, or (offset, key) for "after
# the first occurrence of key past offset" (the tail of a script).
Anchor = int | tuple[int, str]
# Class/id words of an element and its ancestors, nearest first, at most MAX_HINT_WORDS.
Hints = tuple[str, ...]


@dataclass(slots=True)
class _Run:
    """The text collected for the block element that is currently open (or a run of it)."""

    tag: str
    depth: int
    # Filled in when the element ends, and only if the run made a block: half of the block
    # elements of a page (wrappers, empty ones) never do.
    tag_path: str = ""
    hints: str = ""
    made_block: bool = False
    pieces: list[str] = field(default_factory=list)
    link_chars: int = 0
    has_text: bool = False  # any non-blank piece yet
    first_piece: str = ""  # the first and last non-blank pieces, and where to search for them
    first_anchor: Anchor = 0
    last_piece: str = ""
    last_anchor: Anchor = 0


@dataclass(slots=True)
class _Pending:
    """A block whose text is known but whose offsets are not yet."""

    text: str
    link_density: float
    run: _Run  # for its tag, path, depth and hints (the anchors below are this block's own)
    first_piece: str
    first_anchor: Anchor
    last_piece: str
    last_anchor: Anchor


def html_blocks(html: str, skip_hidden: bool = True) -> list[Block]:
    """Split an HTML document into text blocks with structural signals and source offsets.

    ``skip_hidden`` drops elements hidden by the ``hidden`` attribute, ``aria-hidden="true"`` or
    an inline ``display: none``. The WET-style dumps keep them (they are made without CSS); with
    ``skip_hidden=False`` the blocks match the dumps' lines more closely (see the README section).
    Never raises on bad markup: empty, binary or unparsable input gives ``[]``.
    """
    root, truncated = _parse(_unswallow_title(html))
    if truncated:
        return _flat_blocks(html)
    if root is None:
        return []
    lines = _LineIndex(html)
    return _locate_all(html, _walk(root, lines, skip_hidden), lines)


def html_title(html: str) -> str | None:
    """The page's own title: ``og:title`` when present (it seldom carries the site name), else
    ``<title>``; whitespace collapsed, entities decoded; None when neither is there. Regular
    expressions on the head only, each tried once, so junk input cannot make it slow."""
    head = html[:TITLE_SCAN_CHARS]
    for meta in _META_TAG.finditer(head):
        if _OG_TITLE.search(meta.group()):
            content = _CONTENT_ATTR.search(meta.group())
            title = _clean(html_lib.unescape(content.group(1) or content.group(2))) if content else ""
            if title:
                return title
    opening, closing = _title_tags(head)
    if closing is None:
        return None
    title = _clean(html_lib.unescape(_ANY_TAG.sub(" ", head[opening.end():closing.start()])))
    return title or None


def title_swallows_page(html: str) -> bool:
    """Whether the page's <title> is never closed, or closed only after ``</head>`` or ``<body>``.

    A title's text is raw text up to ``</title>``, so a parser then puts the whole page into the
    title, which is never shown: such damaged copies (8 of the 621 L3S-GN1 pages) had no blocks."""
    return _swallowing_title(html) is not None


def _title_tags(html: str) -> tuple[re.Match | None, re.Match | None]:
    """The first ``<title>`` start tag (within ``TITLE_SCAN_CHARS``) and its end tag; the end tag is
    None when the title swallows the page: never closed, or closed after ``</head>`` or ``<body>``."""
    opening = _TITLE_OPEN.search(html, 0, TITLE_SCAN_CHARS)
    if opening is None:
        return None, None
    closing = _TITLE_CLOSE.search(html, opening.end())
    if closing is not None and _HEAD_END.search(html, opening.end(), closing.start()):
        closing = None
    return opening, closing


def _swallowing_title(html: str) -> re.Match | None:
    opening, closing = _title_tags(html)
    return opening if opening is not None and closing is None else None


def _unswallow_title(html: str) -> str:
    """The page with the start tag of a title that swallows it (``title_swallows_page``) blanked
    out: the title's words become a stray line of text and the rest of the page parses as meant.
    Spaces of the same length keep every offset and line number true."""
    opening = _swallowing_title(html)
    if opening is None:
        return html
    blank = re.sub(r"[^\n]", " ", opening.group())
    return html[:opening.start()] + blank + html[opening.end():]


def _clean(text: str) -> str:
    return " ".join(text.split()).strip(BLANK)


def _parse(html: str) -> tuple[etree._Element | None, bool]:
    """Parse with libxml2's HTML parser. Returns the root (None when there is no document to speak
    of) and whether the parser gave up part of the page (nesting beyond its depth limit)."""
    if not html or html.isspace():
        return None, False
    # Bytes, not str: lxml refuses str documents that declare an encoding. NUL bytes would end
    # libxml2's input early; a space keeps the offsets and the line numbers.
    data = html.replace("\x00", " ").encode("utf-8", errors="replace")
    # No table of id attributes (collect_ids): nothing looks elements up by id; 4% of the parse.
    parser = etree.HTMLParser(encoding="utf-8", huge_tree=True, remove_comments=True, remove_pis=True,
                              no_network=True, collect_ids=False)
    try:
        root = etree.fromstring(data, parser)
    except (etree.LxmlError, ValueError):
        return None, False
    truncated = any(_DEPTH_ERROR in error.message for error in parser.error_log)
    return root, truncated


class _LineIndex:
    """Line number (1-based, as lxml's ``sourceline``) -> character offset of the line's start."""

    def __init__(self, text: str) -> None:
        # libxml2 counts "\n" only (a lone "\r" does not start a line), and so do we.
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]
        # From here on lxml's line numbers are capped, so an anchor is only a lower bound.
        capped = len(self.starts) >= MAX_SOURCELINE
        self.capped_from = self.starts[MAX_SOURCELINE - 1] if capped else len(text)

    def offset(self, line: int | None) -> int:
        """Start of ``line`` (of line 65535 for any later line); 0 when unknown (the caller's
        cursor then bounds the search)."""
        if not line or line > len(self.starts):
            return 0
        return self.starts[min(line, MAX_SOURCELINE) - 1]

    def line_end(self, offset: int, text_len: int) -> int:
        """End of the line that holds ``offset`` (before its newline)."""
        index = bisect.bisect_right(self.starts, offset)
        return self.starts[index] - 1 if index < len(self.starts) else text_len


# --- the walk -------------------------------------------------------------------------------------


def _walk(root: etree._Element, lines: _LineIndex, skip_hidden: bool) -> list[_Pending]:
    """One pass over the tree: collect text into runs, cut runs at block boundaries. The loop runs
    twice per element of the page, so it does little per element: a tuple on a stack and the
    hidden check. A block element's tag path and class/id words are worked out when it ends, and
    only if it made a block (half of them, wrappers and empty ones, never do)."""
    pending: list[_Pending] = []
    # The open elements, root first: (element, its run if it is a block element, whether skipped).
    opened: list[tuple[etree._Element, _Run | None, bool]] = []
    tags: list[str] = []  # their tags (the tag path)
    hints: list[Hints] = []  # the hints of opened[:len(hints)], computed when a block needs them
    runs: list[_Run] = []  # runs of the open block elements, innermost last
    links = 0  # how many <a> are open around the current text
    preformatted = 0  # how many <pre> are open
    walker = etree.iterwalk(root, events=("start", "end"))
    for event, element in walker:
        tag = element.tag  # libxml2's HTML parser gives lower-case names
        if not isinstance(tag, str):  # an entity or other node that is not an element
            tag = ""
        if event == "start":
            tags.append(tag)
            # Most elements have none of the attributes that can hide them: one call tells.
            if tag in SKIP_TAGS or (skip_hidden and not _HIDING_ATTRIBUTES.isdisjoint(element.keys())
                                    and _is_hidden(element)):
                walker.skip_subtree()
                opened.append((element, None, True))
                continue
            run = None
            if tag in BLOCK_TAGS:
                if runs and runs[-1].has_text:  # else it holds blanks only: harmless to keep
                    _flush(runs[-1], pending)
                run = _Run(tag, len(tags) - 1)
                runs.append(run)
            elif runs:
                if tag in BREAK_TAGS:
                    _flush(runs[-1], pending)
                elif tag in CELL_TAGS:
                    runs[-1].pieces.append(" ")
            opened.append((element, run, False))
            links += tag == "a"
            preformatted += tag in PREFORMATTED_TAGS
            text = element.text
            if text and runs:
                if text.isspace() and not preformatted:  # indentation: the common case, made cheap
                    runs[-1].pieces.append(" ")
                else:
                    _add(runs[-1], text, links > 0, lines.offset(element.sourceline), pending,
                         preformatted > 0)
            continue
        _, run, skipped = opened[-1]
        if run is not None:
            if run.has_text:
                _flush(run, pending)
            runs.pop()
            if run.made_block:  # its element is still on the stacks: its path and hints are there
                run.tag_path = ">".join(tags[-MAX_PATH_TAGS:])
                run.hints = " ".join(_open_hints(opened, hints))
        opened.pop()
        tags.pop()
        if len(hints) > len(opened):
            hints.pop()
        if not skipped:
            links -= tag == "a"
            preformatted -= tag in PREFORMATTED_TAGS
        tail = element.tail
        if tail and runs:
            if tail.isspace() and not preformatted:
                runs[-1].pieces.append(" ")
            else:
                _add(runs[-1], tail, links > 0, _tail_anchor(element, tag, skipped, lines), pending,
                     preformatted > 0)
    return pending


def _open_hints(opened: list[tuple[etree._Element, _Run | None, bool]], hints: list[Hints]) -> Hints:
    """The hints of the innermost open element. ``hints`` holds those of the outer open elements
    that some block has needed so far (a prefix of ``opened``, as both are stacks); the missing
    ones are computed, outermost first, so each element's class/id words are read at most once,
    and only if a block with text is at or below it."""
    for element, _, _ in opened[len(hints):]:
        hints.append(_element_hints(element, hints[-1] if hints else ()))
    return hints[-1]


def _tail_anchor(element: etree._Element, tag: str, skipped: bool, lines: _LineIndex) -> Anchor:
    """Where to look for the element's tail: after its start line (the end tag, which lxml does
    not report, can only be later); for a skipped raw-text element (a script), after the end of
    its content, which is found by a plain search when the blocks are located."""
    offset = lines.offset(element.sourceline)
    if skipped and tag in RAW_TEXT_TAGS:
        content = (element.text or "").rstrip()
        return (offset, content[-RAW_KEY_CHARS:] or "</" + tag)
    return offset


def _is_hidden(element: etree._Element) -> bool:
    """Hidden by the ``hidden`` attribute, ``aria-hidden="true"`` or an inline ``display: none``."""
    if element.get("hidden") is not None:
        return True
    if (element.get("aria-hidden") or "").strip().lower() == "true":
        return True
    style = element.get("style")
    return bool(style) and _HIDDEN_STYLE.search(style) is not None


def _element_hints(element: etree._Element, parent: Hints) -> Hints:
    """The element's class/id words, then its ancestors' (nearest first), deduplicated and
    bounded. Elements without new words share their parent's tuple (no copy)."""
    names = element.get("class")
    identifier = element.get("id")
    if identifier:
        names = f"{names} {identifier}" if names else identifier
    words = _hint_words(names) if names else ()
    if not words or (len(words) == 1 and words[0] in parent):
        return parent
    return tuple(dict.fromkeys(words + parent))[:MAX_HINT_WORDS]


@functools.lru_cache(maxsize=HINT_CACHE_SIZE)
def _hint_words(names: str) -> tuple[str, ...]:
    """"storyBody related-links css-1qskr30" -> ("story", "body", "related", "links")."""
    return tuple(_KEPT_WORD.findall(" ".join(_HINT_WORD.findall(names)).lower()))


def _add(run: _Run, text: str, in_link: bool, anchor: Anchor, pending: list[_Pending],
         preformatted: bool) -> None:
    """Append a text node to the run, remembering where in the source to look for it. In
    preformatted text every newline ends the run."""
    if preformatted and "\n" in text:
        lines = text.split("\n")
        for line in lines[:-1]:
            _add(run, line, in_link, anchor, pending, False)
            _flush(run, pending)
        text = lines[-1]
    if text and not text.isspace() and text.strip(BLANK):  # a lone zero-width space is no text
        if not run.has_text:
            run.first_piece, run.first_anchor = text, anchor
            run.has_text = True
        run.last_piece, run.last_anchor = text, anchor
    run.pieces.append(text)
    if in_link:
        run.link_chars += sum(map(len, text.split()))


def _flush(run: _Run, pending: list[_Pending]) -> None:
    """Turn the run's text so far into a pending block (if it has any) and empty the run."""
    if not run.has_text:
        run.pieces = []
        return
    raw = "".join(run.pieces)
    text = _clean(raw)
    if text:
        visible = len(text) - text.count(" ")
        density = min(1.0, run.link_chars / visible) if visible else 0.0
        pending.append(_Pending(text, density, run, run.first_piece, run.first_anchor, run.last_piece,
                                run.last_anchor))
        run.made_block = True
    run.pieces = []
    run.link_chars = 0
    run.has_text = False


# --- offsets --------------------------------------------------------------------------------------


class _Source:
    """The HTML that blocks are located in, with a budget on the characters that all searches
    may scan together: a page whose text is never found (every block starts with an entity)
    then costs time linear in its size, not blocks x window."""

    def __init__(self, html: str) -> None:
        self.html = html
        self.budget = SEARCH_BUDGET_FACTOR * len(html) + SEARCH_BUDGET_BASE

    def find(self, sub: str, lo: int, hi: int) -> int:
        """``html.find(sub, lo, hi)``, charged to the budget; -1 once it is spent."""
        if self.budget <= 0:
            return -1
        found = self.html.find(sub, lo, hi)
        self.budget -= max(0, (found + len(sub) if found >= 0 else min(hi, len(self.html))) - lo)
        return found

    def search(self, pattern: re.Pattern[str], lo: int, hi: int) -> re.Match[str] | None:
        """``pattern.search(html, lo, hi)``, charged to the budget; None once it is spent."""
        if self.budget <= 0:
            return None
        match = pattern.search(self.html, lo, hi)
        self.budget -= max(0, (match.end() if match else min(hi, len(self.html))) - lo)
        return match


def _locate_all(html: str, pending: list[_Pending], lines: _LineIndex) -> list[Block]:
    """Give every pending block offsets into ``html``; cut over-long blocks. Blocks are disjoint
    and in source order, so each search starts where the previous block ended."""
    source = _Source(html)
    blocks: list[Block] = []
    cursor = 0
    for item in pending:
        first_lo = max(_resolve_anchor(source, item.first_anchor, cursor), cursor)
        window = FAR_WINDOW if first_lo >= lines.capped_from else START_WINDOW
        start = _find_piece(source, item.first_piece, first_lo, window)
        end = None
        if start is None:
            start = first_lo
        else:
            # Source is never shorter than its text, so the last node starts at least this far on.
            before_last = len(item.text) - len(item.last_piece.strip()) - LEAD_SLACK
            last_lo = max(_resolve_anchor(source, item.last_anchor, cursor), start + max(0, before_last))
            end = _find_piece_end(source, item.last_piece, last_lo, window)
        if end is None:
            # Not found: the length of the text, within its line; later blocks are searched from
            # the start, so that one miss cannot push them out of reach.
            end = min(start + len(item.text), lines.line_end(start, len(html)))
            cursor = start
        else:
            cursor = end
        start = min(start, len(html))
        end = max(start, min(end, len(html)))
        blocks.extend(_cut(item, start, end))
    return blocks


def _resolve_anchor(source: _Source, anchor: Anchor, cursor: int) -> int:
    """A plain offset, or (line offset, key): just past the key's first occurrence after both."""
    if isinstance(anchor, int):
        return anchor
    offset, key = anchor
    lo = max(offset, cursor)
    if key.startswith("</"):
        match = source.search(re.compile(re.escape(key), re.IGNORECASE), lo, lo + START_WINDOW)
        return match.end() if match else offset
    found = source.find(key, lo, lo + START_WINDOW)
    return found + len(key) if found >= 0 else offset


def _find_piece(source: _Source, piece: str, lo: int, window: int) -> int | None:
    """Offset of a text node's first character, searched forward from ``lo``: where its opening
    chars occur verbatim, unless that is far past its first word (then the verbatim hit is likely
    a copy in a script, and the node itself had an entity)."""
    stripped = piece.strip()
    key = stripped[:KEY_CHARS]
    # The verbatim hit is taken only up to VERBATIM_SLACK past the first word's hit: farther it is
    # likely a copy, and a miss (an entity in the text) then costs little. That hit is at or past
    # ``lo``, so a verbatim hit this near ``lo`` is taken in any case: most pieces are found by
    # this one search, without looking for their first word.
    near = lo + VERBATIM_SLACK + KEY_CHARS
    verbatim = source.find(key, lo, near)
    if verbatim >= 0:
        return verbatim
    word = _WORD.search(stripped)
    first_word = _find_word(source, word.group()[:KEY_CHARS], lo, lo + window) if word else -1
    reach = first_word + VERBATIM_SLACK + KEY_CHARS if first_word >= 0 else lo + window
    # Hits that end before ``near`` are ruled out: search on from the first that could end after.
    verbatim = source.find(key, max(lo, near - len(key) + 1), reach)
    if verbatim >= 0:
        return verbatim
    return first_word if first_word >= 0 else None


def _find_word(source: _Source, word: str, lo: int, hi: int) -> int:
    """Like ``str.find`` but the hit must not be inside a longer word ("Log" is not in "Logo")."""
    html = source.html
    for _ in range(WORD_TRIES):
        found = source.find(word, lo, hi)
        if found < 0:
            return -1
        after = found + len(word)
        if not (after < len(html) and html[after].isalnum()) and not (found and html[found - 1].isalnum()):
            return found
        lo = after
    return -1


def _find_piece_end(source: _Source, piece: str, lo: int, window: int) -> int | None:
    """Offset just past a text node's last character, searched forward from ``lo``. A node's
    source is at least as long as its text (entities and CRLF only lengthen it), so when it is not
    verbatim, its last word is searched for from where the node would end."""
    stripped = piece.strip()
    begin = _find_piece(source, stripped, lo, window)
    if begin is None:
        return None
    if source.html.startswith(stripped, begin):
        return begin + len(stripped)
    ending = stripped[-4 * KEY_CHARS:]
    word = _LAST_WORD.search(ending)
    if word is None:
        return None
    key = word.group()[-KEY_CHARS:]
    trail = ending[word.end():]
    estimate = begin + len(stripped) - len(trail) - len(key)
    reach = 8 * len(stripped) + 64  # an entity is at most ~8 source chars per text char
    found = source.find(key, max(begin, estimate), begin + reach)
    if found < 0:
        return None
    end = found + len(key)
    return end + len(trail) if source.html.startswith(trail, end) else end


def _cut(item: _Pending, start: int, end: int) -> list[Block]:
    """One Block, or several when the text is longer than MAX_BLOCK_CHARS (cut at a space when
    there is one; offsets then spread in proportion over the source span)."""
    text, run = item.text, item.run
    signals = {"link_density": item.link_density, "tag": run.tag, "tag_path": run.tag_path,
               "depth": run.depth, "hints": run.hints or None}
    if len(text) <= MAX_BLOCK_CHARS:
        return [Block(text, start, end, **signals)]
    blocks = []
    span = end - start
    for begin, stop in _long_text_cuts(text):
        piece_start = start + span * begin // len(text)
        piece_end = start + span * stop // len(text)
        blocks.append(Block(text[begin:stop], piece_start, piece_end, **signals))
    return blocks


def _long_text_cuts(text: str) -> list[tuple[int, int]]:
    """(begin, end) of pieces of at most MAX_BLOCK_CHARS, cut after a space in the piece's second
    half when possible, without leading or trailing spaces (the text is whitespace-collapsed)."""
    cuts = []
    begin = 0
    while begin < len(text):
        stop = min(begin + MAX_BLOCK_CHARS, len(text))
        if stop < len(text):
            space = text.rfind(" ", begin + MAX_BLOCK_CHARS // 2, stop + 1)
            stop = space if space > begin else stop
        cuts.append((begin, stop))
        begin = stop + 1 if stop < len(text) and text[stop] == " " else stop
    return cuts


# --- fallback for pages the parser cannot take --------------------------------------------------
# Every pattern here is linear on junk: tags stop at the next "<", closing tags are searched once.

_FLAT_INVISIBLE_OPEN = re.compile(r"<(script|style|noscript|template|svg|head|title|textarea)\b|<!--",
                                  re.IGNORECASE)
_FLAT_BOUNDARY = re.compile(r"</?(" + "|".join(sorted(BLOCK_TAGS | BREAK_TAGS)) + r")\b[^<>]*>",
                            re.IGNORECASE)
_FLAT_TAG = re.compile(r"<[^<>]*>")
_FLAT_LEADING_MARKUP = re.compile(r"(?:\s+|<[^<>]*>)*")
_FLAT_LINK_TAG = re.compile(r"<(/?)a\b", re.IGNORECASE)


def _flat_blocks(html: str) -> list[Block]:
    """Blocks from a tag-splitting pass, without a tree: for documents nested beyond the parser's
    limit. The text between two block-level tags is a block; offsets are exact up to entities."""
    visible = _blank_invisible(html)
    blocks: list[Block] = []
    position, tag = 0, "body"
    for boundary in _FLAT_BOUNDARY.finditer(visible):
        blocks.extend(_flat_block(visible, position, boundary.start(), tag))
        position = boundary.end()
        name = boundary.group(1).lower()
        if name not in BREAK_TAGS:  # text after a <br> stays in its block's element
            tag = "body" if boundary.group().startswith("</") else name  # parent unknown
    blocks.extend(_flat_block(visible, position, len(visible), tag))
    return blocks


def _blank_invisible(html: str) -> str:
    """Scripts, styles, comments ... replaced by spaces of the same length (offsets kept). An
    unclosed one hides the rest of the page, as in a browser."""
    parts: list[str] = []
    position = 0
    while (opening := _FLAT_INVISIBLE_OPEN.search(html, position)) is not None:
        name = opening.group(1)
        closer = re.compile(r"</" + name + r"\s*>", re.IGNORECASE) if name else re.compile("-->")
        closing = closer.search(html, opening.end())
        end = closing.end() if closing else len(html)
        parts += [html[position:opening.start()], " " * (end - opening.start())]
        position = end
    parts.append(html[position:])
    return "".join(parts)


def _flat_block(visible: str, start: int, end: int, tag: str) -> list[Block]:
    segment = visible[start:end]
    text, link_chars = _flat_text(segment)
    if not text:
        return []
    visible_chars = len(text) - text.count(" ")
    lead = _FLAT_LEADING_MARKUP.match(segment).end()
    pending = _Pending(text, min(1.0, link_chars / visible_chars) if visible_chars else 0.0,
                       _Run(tag, 0, tag_path=tag), "", 0, "", 0)
    return _cut(pending, start + lead, start + _end_of_text(segment, lead))


def _flat_text(segment: str) -> tuple[str, int]:
    """The segment's text without tags, and how many of its non-space characters are in links."""
    pieces: list[str] = []
    link_chars, in_link, position = 0, False, 0
    for tag in _FLAT_TAG.finditer(segment):
        piece = html_lib.unescape(segment[position:tag.start()])
        pieces.append(piece)
        if in_link:
            link_chars += sum(map(len, piece.split()))
        link = _FLAT_LINK_TAG.match(tag.group())
        if link:
            in_link = not link.group(1)
        position = tag.end()
    pieces.append(html_lib.unescape(segment[position:]))
    if in_link:
        link_chars += sum(map(len, pieces[-1].split()))
    return _clean("".join(pieces)), link_chars


def _end_of_text(segment: str, lead: int) -> int:
    """Offset in ``segment`` past its last text character (trailing tags and spaces dropped)."""
    end = len(segment)
    while end > lead:
        if segment[end - 1].isspace():
            end -= 1
        elif segment[end - 1] == ">" and segment.rfind("<", lead, end) >= 0:
            end = segment.rfind("<", lead, end)
        else:
            break
    return end
