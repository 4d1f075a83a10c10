"""Fixtures of the dedup tests: six self-written stories and reprint-style variants of them."""
from __future__ import annotations

import pytest
from dedup_helpers import KINDS, load_stories, variant

from segmenter.dedup import Document


@pytest.fixture(scope="session")
def stories() -> list[dict]:
    return load_stories()


@pytest.fixture(scope="session")
def corpus(stories) -> tuple[list[Document], dict[str, str]]:
    """Originals and five variants of each story, interleaved; and doc id -> true story."""
    docs, truth = [], {}
    for round_, kind in enumerate(("original",) + KINDS):
        for story in stories:
            text = story["text"] if kind == "original" else variant(story["text"], kind, round_)
            doc_id = f"{story['id']}-{kind}"
            docs.append(Document(id=doc_id, text=text, url=f"https://feed{round_}.example/{story['id']}",
                                 source=f"feed{round_}", title=story["title"]))
            truth[doc_id] = story["id"]
    return docs, truth
