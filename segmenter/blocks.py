"""Blocks: the units the classifier labels, with character offsets into the input.

Plain text: a block is one non-blank line (what a WET extractor or a copy-paste gives).
HTML: blocks come from the DOM (see ``segmenter.html``) and carry structural signals too.
"""
from __future__ import annotations

from dataclasses import dataclass

# A single line longer than this is cut into several blocks, so one 5 MB line cannot make
# a feature or a shingle step quadratic; real paragraphs are far shorter.
MAX_BLOCK_CHARS = 20_000


_NO_SIGNALS = (None, None, None, None, None)  # a plain-text block's structural signals

# Characters that show nothing: Unicode whitespace (what str.strip() removes) and the zero-width
# ones it keeps (zero-width space, non-joiner and joiner, word joiner, byte-order mark, soft
# hyphen). Pages use a lone zero-width space as a spacer paragraph: a line of only these is blank,
# and a block's text does not start or end with them.
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
BLANK = "".join(chr(c) for c in range(0x3001) if chr(c).isspace()) + ZERO_WIDTH


@dataclass(frozen=True)
class Block:
    """A text block. ``start``/``end`` index the input string as given (``text == input[start:end]``
    for plain text; for HTML they span the block's text in the source, from its first to its
    last character, markup in between included)."""

    text: str
    start: int
    end: int
    # Structural signals, only for HTML (None for plain text).
    link_density: float | None = None
    tag: str | None = None
    tag_path: str | None = None
    depth: int | None = None
    hints: str | None = None  # class/id words of the element and its ancestors, space-separated

    def __init__(self, text: str, start: int, end: int, link_density: float | None = None,
                 tag: str | None = None, tag_path: str | None = None, depth: int | None = None,
                 hints: str | None = None) -> None:
        # The dataclass's own __init__, except that a block without signals does not store them:
        # the class attributes (the fields' defaults, None) read the same. A frozen dataclass
        # stores each field through object.__setattr__; writing the instance dict directly is the
        # same and twice as fast, and a plain-text page makes hundreds of blocks, none with signals.
        fields = self.__dict__
        fields["text"] = text
        fields["start"] = start
        fields["end"] = end
        if (link_density, tag, tag_path, depth, hints) != _NO_SIGNALS:
            fields["link_density"] = link_density
            fields["tag"] = tag
            fields["tag_path"] = tag_path
            fields["depth"] = depth
            fields["hints"] = hints


@dataclass(frozen=True)
class PageBlocks:
    """One page as the model sees it: its blocks, plus the title the page announces about itself
    (HTML ``og:title`` / ``<title>``; None for plain text)."""

    blocks: list[Block]
    title_hint: str | None = None


def text_blocks(text: str) -> list[Block]:
    """Split plain text into line blocks, skipping blank lines (see ``BLANK``), keeping exact offsets."""
    blocks: list[Block] = []
    # Stripping the zero-width characters too costs more than a plain strip(), which removes all
    # the rest of BLANK: only a page that holds one (checked once, a fast scan) pays for it.
    blank = BLANK if any(char in text for char in ZERO_WIDTH) else None
    pos = 0  # where the line starts in ``text``
    for line in text.splitlines(keepends=True):
        stripped = line.strip(blank)
        if stripped:
            start = pos + line.find(stripped[0])  # only blank characters come before it
            if len(stripped) <= MAX_BLOCK_CHARS:
                blocks.append(Block(stripped, start, start + len(stripped)))
            else:
                blocks.extend(_cut(stripped, start))
        pos += len(line)
    return blocks


def _cut(line: str, start: int) -> list[Block]:
    """A (stripped) line too long for one block, in pieces of ``MAX_BLOCK_CHARS``."""
    return [Block(line[cut:cut + MAX_BLOCK_CHARS], start + cut, start + min(cut + MAX_BLOCK_CHARS, len(line)))
            for cut in range(0, len(line), MAX_BLOCK_CHARS)]
