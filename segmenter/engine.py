"""segment(): page -> blocks -> labels -> article. The one entry point the CLI, API and batch jobs share.

    Page (decoded, text or HTML)
      -> PageBlocks     text lines, or DOM blocks with structural signals (blocks.py, html.py)
      -> probabilities  the trained classifier: features -> vectorizer -> two passes of trees (model.py)
      -> labels         made coherent over the sequence (sequence.py)
      -> Segmentation   title, paragraphs, teasers, kind (article.py)
"""
from __future__ import annotations

import numpy as np

from segmenter.article import OTHER, LabeledBlock, Segmentation, build_article
from segmenter.blocks import PageBlocks, text_blocks
from segmenter.model import Model, predict_proba, shipped_model
from segmenter.page import HTML, Page
from segmenter.sequence import coherent_labels, container_of, is_caption, is_link_heavy


def page_blocks(page: Page) -> PageBlocks:
    """The blocks of a decoded page: lines of plain text, or DOM blocks of HTML."""
    if page.content_type == HTML:
        from segmenter.html import html_blocks, html_title

        return PageBlocks(html_blocks(page.text), html_title(page.text))
    return PageBlocks(text_blocks(page.text))


# A news page has a few hundred blocks; the largest in the corpora has about 3,000. Beyond this
# many, the input is not a page (a log file, a data dump): the rest is returned as unclassified
# ``other`` blocks (confidence 0) so that one such input costs bounded time.
MAX_CLASSIFIED_BLOCKS = 10_000


def segment_blocks(blocks: PageBlocks, model: Model | None = None) -> Segmentation:
    """Label a page's blocks and assemble the article. ``model`` defaults to the shipped one; a fitted
    scikit-learn Pipeline (``estimators.make_pipeline``) works too."""
    if not blocks.blocks:
        return build_article([])
    model = model or shipped_model()
    head = blocks.blocks[:MAX_CLASSIFIED_BLOCKS]
    proba = predict_proba(model, [PageBlocks(head, blocks.title_hint)])
    html = head[0].tag_path is not None
    containers = [container_of(b) for b in head] if html else None
    captions = [is_caption(b) for b in head] if html else None
    link_heavy = [is_link_heavy(b) for b in head] if html else None
    labels, confidence = coherent_labels(proba, list(model.classes_), [b.text for b in head], containers, captions,
                                         blocks.title_hint, link_heavy)
    # tolist(): Python floats in one call, not one float() per numpy scalar
    labeled = [LabeledBlock(b.text, label, c, b.start, b.end)
               for b, label, c in zip(head, labels, np.asarray(confidence, dtype=float).tolist(), strict=True)]
    labeled += [LabeledBlock(b.text, OTHER, 0.0, b.start, b.end) for b in blocks.blocks[MAX_CLASSIFIED_BLOCKS:]]
    return build_article(labeled)


def segment(page: str | bytes | Page, content_type: str | None = None,
            model: Model | None = None) -> Segmentation:
    """Segment a page dump: plain text or HTML, sniffed unless ``content_type`` says which.

    Returns the main article (title, paragraphs), the teasers (headline + blurb), the page kind
    (``article`` or ``index``) and every block with its label, confidence and character offsets
    into the input. Bytes are decoded (BOM, meta charset, UTF-8, cp1252); empty input gives an
    empty index result, never an error.
    """
    return segment_blocks(page_blocks(Page.from_input(page, content_type)), model)
