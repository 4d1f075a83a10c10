"""Labels -> Article: the structured result of segmenting one page."""
from __future__ import annotations

from dataclasses import dataclass, field

TITLE, BODY, TEASER_HEADLINE, TEASER_BLURB, OTHER = (
    "title", "body", "teaser_headline", "teaser_blurb", "other")
LABELS = (TITLE, BODY, TEASER_HEADLINE, TEASER_BLURB, OTHER)
ARTICLE, INDEX = "article", "index"


@dataclass(frozen=True)
class LabeledBlock:
    text: str
    label: str
    confidence: float
    start: int
    end: int

    def __init__(self, text: str, label: str, confidence: float, start: int, end: int) -> None:
        # The dataclass's own __init__, writing the instance dict directly rather than through
        # object.__setattr__ per field (frozen): the same instance, at half the cost, and a page
        # makes hundreds of these.
        fields = self.__dict__
        fields["text"] = text
        fields["label"] = label
        fields["confidence"] = confidence
        fields["start"] = start
        fields["end"] = end

    def to_dict(self) -> dict:
        return {"text": self.text, "label": self.label, "confidence": round(self.confidence, 4),
                "start": self.start, "end": self.end}


@dataclass(frozen=True)
class Teaser:
    headline: str
    blurb: str | None = None

    def to_dict(self) -> dict:
        return {"headline": self.headline, "blurb": self.blurb}


@dataclass(frozen=True)
class Segmentation:
    """The main article, the teasers and every labelled block of one page."""

    title: str | None
    paragraphs: list[str]
    teasers: list[Teaser]
    kind: str
    blocks: list[LabeledBlock] = field(default_factory=list)

    @property
    def body(self) -> str:
        return "\n".join(self.paragraphs)

    def to_dict(self, include_blocks: bool = True) -> dict:
        out = {"title": self.title, "paragraphs": list(self.paragraphs), "body": self.body,
               "teasers": [t.to_dict() for t in self.teasers], "kind": self.kind}
        if include_blocks:
            out["blocks"] = [b.to_dict() for b in self.blocks]
        return out


def build_article(blocks: list[LabeledBlock]) -> Segmentation:
    """Collect title, body paragraphs and (headline, blurb) teasers from labelled blocks.

    A blurb attaches to the headline before it; consecutive blurb blocks join into one blurb.
    A page with no body is an index page (a list of teasers), and then has no title either.
    """
    title = next((b.text for b in blocks if b.label == TITLE), None)
    paragraphs = [b.text for b in blocks if b.label == BODY]
    teasers: list[Teaser] = []
    for block in blocks:
        if block.label == TEASER_HEADLINE:
            teasers.append(Teaser(block.text))
        elif block.label == TEASER_BLURB and teasers:
            last = teasers[-1]
            blurb = block.text if last.blurb is None else f"{last.blurb}\n{block.text}"
            teasers[-1] = Teaser(last.headline, blurb)
    if not paragraphs:
        return Segmentation(None, [], teasers, INDEX, blocks)
    return Segmentation(title, paragraphs, teasers, ARTICLE, blocks)
