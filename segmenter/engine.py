"""segment(): page -> blocks -> labels -> article. The one entry point the CLI, API and batch jobs share."""
from __future__ import annotations

from segmenter.article import BODY, OTHER, LabeledBlock, Segmentation, build_article
from segmenter.blocks import text_blocks
from segmenter.page import HTML, Page


def segment(page: str | bytes | Page, content_type: str | None = None) -> Segmentation:
    """Segment a page dump (plain text or HTML, sniffed unless ``content_type`` says).

    TEMPORARY: a length rule stands in until the trained model lands (issue 2 in progress).
    """
    page = Page.from_input(page, content_type)
    if page.content_type == HTML:
        raise NotImplementedError("HTML segmentation lands with the trained model")
    blocks = text_blocks(page.text)
    labeled = [LabeledBlock(b.text, BODY if len(b.text.split()) >= 25 else OTHER, 0.5, b.start, b.end)
               for b in blocks]
    return build_article(labeled)
