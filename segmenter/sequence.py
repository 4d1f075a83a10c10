"""Coherent labels over the block sequence: the "revise by neighbours" step after the classifier.

The classifier labels each block from its own and its neighbours' features; this step starts from
each block's likeliest label (the two teaser roles pooled: teaser or not first, then which role)
and imposes what a page looks like:
1. The body is one region: the run of blocks with the highest summed body evidence
   (maximum subarray of ``p_body - BODY_PRIOR``). Inside it, weak blocks stay body when the
   classifier gives them at least ``GAP_BODY_MIN`` (subheadings), so small gaps are allowed; no
   body outside it.
2. One title at most: the block with the highest title probability, if above ``TITLE_MIN``; it
   must not come after the body's end (a headline below the article is another story's). When
   there is a body, a candidate's probability fades with its distance above the body's start
   (``TITLE_FADE_BLOCKS``: the headline sits on its article) and a lower bar applies; on HTML,
   the one candidate the page's own ``<title>`` holds (``ANNOUNCED_TITLE_SHARE``) comes first. A
   runner-up inside the body region is a subheading: body, by the bar of ``GAP_BODY_MIN``.
3. A teaser blurb follows its headline (or another blurb, or one metadata line after either);
   an orphan blurb becomes a headline when the classifier finds that likelier than other; and of
   two headlines in a row, a longer second one that ends like a summary is the first one's blurb.
   On HTML, a teaser list's items share an element: a block of one holding two or more teaser
   headlines is one more when it is mostly link text and the classifier gives it some teaser
   probability (``TEASER_LIST_P``); conversely, a doubted teaser headline among mostly other links
   of its element (a menu) is one more menu link (``MENU_TEASER_P``).
The region then grows by a long paragraph right at its edge that the classifier half believes
is body or a blurb (``EXTEND_MIN``; a lead reads like a blurb), and, on HTML, along its own
container: by adjacent blocks in the same element path and class words as its edge block that
the classifier does not rule out (``CONTAINER_MIN``; a tour-date list closing the article, a
standfirst or a first paragraph it doubted above the others), which are body whatever their
body probability: their markup says they are the article's. Inside the region a blurb with no
teaser right above it is body (it has no headline to follow), and a photo caption, known by its
HTML markup, is not (LABELING.md: captions are ``other``). When no region clears the bar but
one block is surely the title, the body is looked for below the title at a lower bar, blurbs
counting as body (a short post, or an article after a long menu, is still an article). A page
with no body is an index page.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable

import numpy as np

from segmenter.article import BODY, LABELS, OTHER, TEASER_BLURB, TEASER_HEADLINE, TITLE
from segmenter.blocks import Block
from segmenter.features import max_sum_span, tokens

# The three region constants were chosen on out-of-fold probabilities of the training sites
# (4-fold by site; mean shingle F1 over both corpora and both inputs 0.928, against 0.926 at 0.5).
BODY_PRIOR = 0.45     # p_body above this adds to the region's score, below subtracts
GAP_BODY_MIN = 0.2    # inside the region, a block needs this much body probability to stay body
FULL_WEIGHT_CHARS = 300  # a block this long weighs fully in the region score
MIN_WEIGHT = 0.05
# No region clears BODY_PRIOR but a block is this surely the title: look for the body below it
# at the lower prior (see _body_under_title).
TITLED_ARTICLE_MIN = 0.8
BODY_PRIOR_UNDER_TITLE = 0.25
TITLE_MIN = 0.2       # the best title candidate needs at least this title probability
# With a body region, candidates are weighed by their distance above it (see _one_title). Chosen on
# out-of-fold probabilities of the training sites: title accuracy (the labelled title chosen) on
# L3S-GN1 text 0.636 -> 0.659, HTML 0.817 -> 0.830, scrapinghub text 0.590 -> 0.615, HTML 0.863 ->
# 0.897; body and teasers unchanged. Any fade from 10 to 50 blocks gains on all four; the fade
# alone, at the bar of 0.2, gives part of it (0.644, 0.823, 0.615, 0.889). A bar of 0.05 gained a
# little more (0.667, 0.906) but would crown blocks the classifier gives 5% as title: 0.1. On a
# second fold assignment: 0.636 -> 0.641, 0.835 -> 0.851, 0.556 -> 0.556, 0.872 -> 0.889.
TITLE_FADE_BLOCKS = 20
TITLE_MIN_WITH_BODY = 0.1
# A runner-up title outside the body used to take the likeliest other label even when the
# classifier gave every one almost nothing (a breadcrumb holding the headline came out a teaser
# headline of confidence 0.00); it is a teaser only with this much teaser probability, else other.
# Out of fold, teaser F1 within 0.001 on three fold assignments.
DEMOTED_TEASER_MIN = 0.1
# On HTML with a body, a candidate the page's own <title>/og:title holds (its words, in order, at least
# this share of the title's: "Headline - Site" holds the headline, not a "Site" logo line) is the
# title when it is the only such candidate, whatever the classifier's title probability (it gives
# some headlines almost none). Out of fold, title accuracy on HTML: L3S-GN1 0.830 -> 0.859 and
# 0.851 -> 0.889 (two fold assignments), scrapinghub 0.897 -> 0.923 and 0.889 -> 0.923; body and
# teasers unchanged. Shares of 0.3 and 0.5 gave within 0.012 of 0.4.
ANNOUNCED_TITLE_SHARE = 0.4
# Edge growth (see _extend_region): chosen on out-of-fold probabilities of the training sites, where
# it is a small gain (mean F1 +0.0003), not on the held-out pages.
EXTEND_MIN = 0.3
EXTEND_CHARS = 100
# Container growth (see _extend_in_container): on out-of-fold probabilities, HTML F1 +0.0004 to
# +0.0027 per corpus on two fold assignments, text unchanged. The bar was 0.2, and a grown block
# still needed GAP_BODY_MIN of body itself; at 0.05, the grown blocks body: mean F1 +0.0004 to
# +0.0011 on five sets of out-of-fold probabilities (three fold assignments, three models),
# scrapinghub HTML +0.0006 to +0.0049, L3S-GN1 HTML -0.0011 to +0.0011, HTML teaser F1 +0.000 to
# +0.004; 0.02, 0.1 and 0 within 0.0005 of it.
CONTAINER_MIN = 0.05
# ... and past an inset of up to this many blocks of other elements to more of its own: on the same
# five sets and the L3S-labelled model's second, mean F1 +0.0000 to +0.0012, scrapinghub HTML +0.0006
# to +0.0045, L3S-GN1 HTML -0.0013 to +0.0004, HTML teaser F1 -0.001 to +0.001; 3 blocks gave
# about the same.
INSET_MAX_BLOCKS = 6
# A block is a caption when its element is a <figcaption> or "caption" is among the class/id words
# of its element and its nearest ancestors (``Block.hints``, nearest first), this many words.
CAPTION_HINT_WORDS = 4
BLURB_LENGTH_RATIO = 1.3  # a blurb is longer than its headline
# On HTML, a teaser list's items share an element: where one holds at least TEASER_LIST_MIN teaser
# headlines, a block of it that is mostly link text and that the classifier gives at least
# TEASER_LIST_P of teaser is one more (see _teaser_list_items). Out of fold, HTML teaser F1 on the
# 117 labelled training pages +0.005 to +0.014 on six sets (three fold assignments, three models);
# body unchanged. A bar of 0.15 or 0.3 scored within 0.004; without the link condition, 0.002-0.005 less.
TEASER_LIST_MIN = 2
TEASER_LIST_P = 0.2
TEASER_LIST_LINK_DENSITY = 0.5
# And the converse (see _menu_links): where an element's link-heavy blocks, at least MENU_MIN_LINKS,
# are mostly not teaser headlines, a headline among them below MENU_TEASER_P of teaser is a menu
# link. Out of fold, HTML teaser F1 +0.001 to +0.010 on six sets (three fold assignments, three
# models), body unchanged; a bar of 0.6 or 0.8 within 0.002, two links instead of three the same.
MENU_MIN_LINKS = 3
MENU_TEASER_P = 0.7
_INDEX = {label: i for i, label in enumerate(LABELS)}


def body_region(p_body: np.ndarray, weights: np.ndarray | None = None, prior: float = BODY_PRIOR) -> tuple[int, int]:
    """(start, end) of the maximum-sum run of ``(p_body - prior) * weight``; (0, 0) when none
    is positive. Weights grow with block length, so a long paragraph decides more than a short
    caption or subheading either way."""
    scores = p_body - prior
    if weights is not None:
        scores = scores * weights
    return max_sum_span(scores)


def region_weights(lengths: list[int] | np.ndarray) -> np.ndarray:
    """Block weight for the body region: grows with length up to a typical paragraph."""
    return np.minimum(np.asarray(lengths, dtype=float), FULL_WEIGHT_CHARS) / FULL_WEIGHT_CHARS + MIN_WEIGHT


def coherent_labels(proba: np.ndarray, classes: list[str], texts: list[str] | None = None,
                    containers: list[Hashable] | None = None,
                    captions: list[bool] | None = None,
                    title_hint: str | None = None,
                    link_heavy: list[bool] | None = None) -> tuple[list[str], np.ndarray]:
    """Labels and their confidences for one page, from the classifier's probabilities.

    ``proba`` is (blocks x classes) in the order of ``classes``; ``texts`` are the blocks' texts
    (without them, every block weighs the same in the body region and no teasers are paired);
    ``containers`` name each block's HTML container (equal where two blocks share one; see
    ``container_of``) and ``captions`` mark photo captions (``is_caption``); both None for plain text.
    ``title_hint`` is the title an HTML page announces about itself (``<title>``, ``og:title``);
    ``link_heavy`` marks HTML blocks that are mostly link text (``is_link_heavy``).
    """
    p = _reorder(proba, classes)
    n = len(p)
    labels = _likeliest_labels(p)
    weights = region_weights([len(t) for t in texts]) if texts is not None else None
    start, end = body_region(p[:, _INDEX[BODY]], weights)
    # An article's lead reads like a teaser's blurb (teasers are made of leads), so where the region
    # is only looked for (its edge, below a sure title) a blurb counts as much as body.
    body_or_lead = p[:, _INDEX[BODY]] + p[:, _INDEX[TEASER_BLURB]]
    if end <= start:
        start, end = _body_under_title(p, body_or_lead, weights)
    elif texts is not None:
        start, end = _extend_region(body_or_lead, texts, start, end)
    grown: set[int] = set()  # blocks the region grew by along its HTML container
    inset: set[int] = set()  # blocks of other elements it grew past (they keep their own labels)
    if containers is not None and end > start:
        grown_start, grown_end, inset = _extend_in_container(body_or_lead, containers, labels, start, end)
        grown = {*range(grown_start, start), *range(end, grown_end)} - inset
        start, end = grown_start, grown_end
    p_body = p[:, _INDEX[BODY]].tolist()  # (Python floats: a block at a time, numpy scalars cost 3x)
    for i in range(n):
        inside = start <= i < end and i not in inset
        # Inside the region, a "blurb" with no teaser right above it has no headline to follow:
        # it is a paragraph of the article (its lead, when right under the title).
        orphan_blurb = labels[i] == TEASER_BLURB and (i == 0 or labels[i - 1] not in (TEASER_HEADLINE, TEASER_BLURB))
        if inside and labels[i] != TITLE and (p_body[i] >= GAP_BODY_MIN or orphan_blurb or i in grown):
            labels[i] = BODY
        elif labels[i] == BODY:
            labels[i] = _best_except(p[i], (BODY,))
    last = end if end > start else n
    announced = _announced_title(texts, labels, last, title_hint) if texts is not None and end > start else None
    _one_title(p, labels, last, range(start, end), announced)
    _attach_blurbs(p, labels)
    paired = _pair_teasers(labels, texts) if texts is not None else set()
    if captions is not None:
        # The corpora disagree (L3S's annotators keep captions with the article text); the
        # labelling rules do not. On out-of-fold probabilities: scrapinghub HTML F1 +0.002 and
        # +0.005 on two fold assignments, L3S HTML -0.002 (its truth holds the captions).
        labels = [OTHER if label == BODY and caption else label
                  for label, caption in zip(labels, captions, strict=True)]
    if containers is not None and link_heavy is not None:
        teaser = (p[:, _INDEX[TEASER_HEADLINE]] + p[:, _INDEX[TEASER_BLURB]]).tolist()  # both roles
        paired |= _teaser_list_items(teaser, labels, containers, link_heavy)
        _menu_links(teaser, labels, containers, link_heavy)
    confidence = p[np.arange(n), [_INDEX[label] for label in labels]]
    for i in paired:  # the classifier found a teaser; the pairing or its list only decided its role
        confidence[i] = p[i, _INDEX[TEASER_HEADLINE]] + p[i, _INDEX[TEASER_BLURB]]
    return labels, confidence


def _likeliest_labels(p: np.ndarray) -> list[str]:
    """Each block's likeliest label, with the two teaser roles pooled: a block the classifier
    splits between headline and blurb is still a teaser (in the likelier role). On out-of-fold
    probabilities, teaser F1 +0.004 and +0.007 on two fold assignments; body F1 unchanged."""
    headline, blurb = p[:, _INDEX[TEASER_HEADLINE]], p[:, _INDEX[TEASER_BLURB]]
    not_teaser = p[:, [_INDEX[TITLE], _INDEX[BODY], _INDEX[OTHER]]].max(axis=1)
    role = np.where(headline >= blurb, _INDEX[TEASER_HEADLINE], _INDEX[TEASER_BLURB])
    best = np.where(headline + blurb > not_teaser, role, p.argmax(axis=1))
    return [LABELS[k] for k in best.tolist()]


def _body_under_title(p: np.ndarray, body_or_lead: np.ndarray, weights: np.ndarray | None) -> tuple[int, int]:
    """When no region is sure enough to be a body but one block is confidently the title, the page
    is an article whose paragraphs the classifier doubted (a short post, an article at the end of
    a long menu): its body is the best region below the title, at a lower bar."""
    if not len(p):
        return 0, 0
    title = int(np.argmax(p[:, _INDEX[TITLE]]))
    if p[title, _INDEX[TITLE]] < TITLED_ARTICLE_MIN:
        return 0, 0
    below = slice(title + 1, None)
    # (under a sure title, the lone paragraph the classifier calls a blurb is the article's lead)
    start, end = body_region(body_or_lead[below], weights[below] if weights is not None else None,
                             prior=BODY_PRIOR_UNDER_TITLE)
    return (start + title + 1, end + title + 1) if end > start else (0, 0)


def _extend_region(body_or_lead: np.ndarray, texts: list[str], start: int, end: int) -> tuple[int, int]:
    """Grow the region by adjacent paragraphs the classifier half believes: a long block right at
    the region's edge with body (or blurb) probability at least EXTEND_MIN (an article's last
    paragraph before a list header, its first under the title)."""
    while end < len(texts) and body_or_lead[end] >= EXTEND_MIN and len(texts[end]) >= EXTEND_CHARS:
        end += 1
    while start > 0 and body_or_lead[start - 1] >= EXTEND_MIN and len(texts[start - 1]) >= EXTEND_CHARS:
        start -= 1
    return start, end


def container_of(block: Block) -> Hashable:
    """What two blocks of one HTML container share: their element path and class/id words."""
    return block.tag_path, block.hints


def is_link_heavy(block: Block) -> bool:
    """Whether an HTML block is mostly link text (see ``TEASER_LIST_LINK_DENSITY``)."""
    return block.link_density >= TEASER_LIST_LINK_DENSITY


def _teaser_list_items(teaser: list[float], labels: list[str], containers: list[Hashable],
                       link_heavy: list[bool]) -> set[int]:
    """Blocks made teaser headlines because they are items of a teaser list: in an element holding at
    least TEASER_LIST_MIN teaser headlines, a link-heavy block labelled other that the classifier
    gives at least TEASER_LIST_P of teaser (``teaser``: headline and blurb together)."""
    headlines = Counter(c for c, label in zip(containers, labels, strict=True) if label == TEASER_HEADLINE)
    items = {i for i, (container, label) in enumerate(zip(containers, labels, strict=True))
             if label == OTHER and link_heavy[i] and teaser[i] >= TEASER_LIST_P
             and headlines[container] >= TEASER_LIST_MIN}
    for i in items:
        labels[i] = TEASER_HEADLINE
    return items


def _menu_links(teaser: list[float], labels: list[str], containers: list[Hashable], link_heavy: list[bool]) -> None:
    """The converse of a teaser list: in an element of at least MENU_MIN_LINKS link-heavy blocks of
    which under half are teaser headlines (a menu, a list of sections or guides), a teaser headline
    the classifier is not sure of (under MENU_TEASER_P) is one more menu link: other."""
    linked = Counter(c for c, heavy in zip(containers, link_heavy, strict=True) if heavy)
    headlines = Counter(c for c, label in zip(containers, labels, strict=True) if label == TEASER_HEADLINE)
    for i, (container, label) in enumerate(zip(containers, labels, strict=True)):
        if (label == TEASER_HEADLINE and teaser[i] < MENU_TEASER_P and linked[container] >= MENU_MIN_LINKS
                and 2 * headlines[container] < linked[container]):
            labels[i] = OTHER


def is_caption(block: Block) -> bool:
    """Whether an HTML block is a photo caption by its markup (see ``CAPTION_HINT_WORDS``)."""
    return block.tag == "figcaption" or "caption" in (block.hints or "").split()[:CAPTION_HINT_WORDS]


def _extend_in_container(body_or_lead: np.ndarray, containers: list[Hashable], labels: list[str],
                         start: int, end: int) -> tuple[int, int, set[int]]:
    """Grow the region by adjacent blocks of its edge block's own container that the classifier
    gives at least CONTAINER_MIN of body (or blurb): short list items, a standfirst and a first
    paragraph, which it doubts alone, are the article's where they sit in the article's element.
    The title stays. Downwards it also grows past an inset (an ad, a "Related" box: up to
    INSET_MAX_BLOCKS blocks of other elements) to where the article's element goes on; the inset's
    blocks are returned with the new (start, end), to keep their own labels."""
    n, edge = len(containers), containers[end - 1]
    inset: set[int] = set()
    while True:
        while end < n and containers[end] == edge and body_or_lead[end] >= CONTAINER_MIN:
            end += 1
        after = end
        while after < n and after - end < INSET_MAX_BLOCKS and containers[after] != edge:
            after += 1
        if after == end or after == n or containers[after] != edge or body_or_lead[after] < CONTAINER_MIN:
            break
        inset.update(range(end, after))
        end = after
    while (start > 0 and containers[start - 1] == containers[start] and labels[start - 1] != TITLE
           and body_or_lead[start - 1] >= CONTAINER_MIN):
        start -= 1
    return start, end, inset


def _title_candidates(labels: list[str], last: int) -> list[int]:
    return [i for i in range(min(last, len(labels))) if labels[i] in (TITLE, OTHER, TEASER_HEADLINE)]


def _announced_title(texts: list[str], labels: list[str], last: int, title_hint: str | None) -> int | None:
    """The one title candidate whose words the page's own title (``<title>``, ``og:title``) holds,
    in order, and that makes up at least ``ANNOUNCED_TITLE_SHARE`` of it; None if none or several."""
    hint = tokens(title_hint) if title_hint else []
    if not hint:
        return None
    joined = f" {' '.join(hint)} "
    minimum = max(2, ANNOUNCED_TITLE_SHARE * len(hint))
    found = None
    for i in _title_candidates(labels, last):
        if len(texts[i]) > 2 * len(title_hint):  # (cheap) far too long to be inside it
            continue
        words = tokens(texts[i])
        if len(words) >= minimum and f" {' '.join(words)} " in joined:
            if found is not None:
                return None
            found = i
    return found


def _one_title(p: np.ndarray, labels: list[str], last: int, region: range, announced: int | None = None) -> None:
    title_p = p[:, _INDEX[TITLE]].tolist()
    candidates = _title_candidates(labels, last)
    if announced is not None:
        best, bar = announced, 0.0
    elif region:
        # A headline sits right above its article: a candidate's title probability fades with the
        # blocks between it and the body (a nav line or another story's headline far up the page
        # loses to a likely one just above the first paragraph), and it may be weaker there.
        def weighed(i: int) -> float:
            return title_p[i] * math.exp(-max(0, region.start - i - 1) / TITLE_FADE_BLOCKS)
        best = max(candidates, key=weighed, default=None)
        bar = TITLE_MIN_WITH_BODY
    else:
        best = max(candidates, key=title_p.__getitem__, default=None)
        bar = TITLE_MIN
    for i, label in enumerate(labels):
        if label == TITLE and i != best:
            # A runner-up inside the body region is a subheading (or a paragraph restating the
            # headline): body, by the same bar as the region's other weak blocks.
            if i in region and p[i, _INDEX[BODY]] >= GAP_BODY_MIN:
                labels[i] = BODY
            else:
                labels[i] = _demoted_title(p[i])
    if best is not None and title_p[best] >= bar:
        labels[best] = TITLE


def _demoted_title(row: np.ndarray) -> str:
    """The label of a runner-up title outside the body: the likeliest of the rest, but a teaser only
    when the classifier gives it DEMOTED_TEASER_MIN of teaser; else other (a breadcrumb or kicker
    repeating the headline, which the classifier takes for the title and for nothing else)."""
    label = _best_except(row, (TITLE, BODY))
    if label in (TEASER_HEADLINE, TEASER_BLURB) and (
            row[_INDEX[TEASER_HEADLINE]] + row[_INDEX[TEASER_BLURB]] < DEMOTED_TEASER_MIN):
        return OTHER
    return label


def _attach_blurbs(p: np.ndarray, labels: list[str]) -> None:
    for i, label in enumerate(labels):
        if label != TEASER_BLURB:
            continue
        before = labels[max(0, i - 2):i]
        attached = before[-1:] in ([TEASER_HEADLINE], [TEASER_BLURB]) or (
            len(before) == 2 and before[1] == OTHER and before[0] in (TEASER_HEADLINE, TEASER_BLURB))
        if not attached:
            better = p[i, _INDEX[TEASER_HEADLINE]] > p[i, _INDEX[OTHER]]
            labels[i] = TEASER_HEADLINE if better else OTHER


def _pair_teasers(labels: list[str], texts: list[str]) -> set[int]:
    """Two teaser headlines in a row where the second reads as a summary of the first (longer, and
    ending like a sentence or cut off with an ellipsis): the second is the first one's blurb.
    Returns the blocks it relabelled."""
    paired = set()
    for i in range(1, len(labels)):
        if labels[i] == labels[i - 1] == TEASER_HEADLINE and _reads_as_blurb(texts[i], texts[i - 1]):
            labels[i] = TEASER_BLURB
            paired.add(i)
    return paired


def _reads_as_blurb(text: str, headline: str) -> bool:
    end = text.rstrip()
    return len(end) >= BLURB_LENGTH_RATIO * len(headline) and (end.endswith(("...", "…")) or end[-1:] in ".!?。！？")


def _best_except(row: np.ndarray, excluded: tuple[str, ...]) -> str:
    """The likeliest label but the excluded ones, the teaser roles pooled as in _likeliest_labels."""
    scores = {label: float(row[_INDEX[label]]) for label in LABELS if label not in excluded}
    teaser = [label for label in (TEASER_HEADLINE, TEASER_BLURB) if label in scores]
    rest = [label for label in scores if label not in teaser]
    if teaser and (not rest or sum(map(scores.get, teaser)) > max(map(scores.get, rest))):
        return max(teaser, key=scores.get)
    return max(rest, key=scores.get)


def _reorder(proba: np.ndarray, classes: list[str]) -> np.ndarray:
    """Columns in LABELS order; a class the model never saw gets probability 0."""
    out = np.zeros((proba.shape[0], len(LABELS)))
    for j, cls in enumerate(classes):
        out[:, _INDEX[cls]] = proba[:, j]
    return out
