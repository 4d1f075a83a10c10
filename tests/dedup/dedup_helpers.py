"""Helpers of the dedup tests (a uniquely named module: ``conftest`` is taken by other test folders)."""
from __future__ import annotations

import json
import random
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "dedup"
SHARED = Path(__file__).resolve().parents[3] / "shared"


def load_stories() -> list[dict]:
    with open(FIXTURES / "stories.jsonl", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def variant(text: str, kind: str, seed: int = 0) -> str:
    """A reprint of ``text``: what feeds do to wire copy."""
    rng = random.Random(seed)
    sentences = [s.strip() + "." for s in text.split(".") if s.strip()]
    if kind == "dateline":
        return "GENEVA (Wire) - " + text
    if kind == "footer":
        return text + "\nCopyright The Daily Example. All rights reserved."
    if kind == "truncate":
        return " ".join(sentences[: max(3, len(sentences) // 2)])
    if kind == "drop":
        drop = rng.randrange(1, len(sentences) - 1)
        return " ".join(s for i, s in enumerate(sentences) if i != drop)
    if kind == "noise":
        chars = list(text)
        for _ in range(len(chars) // 200):
            chars[rng.randrange(len(chars))] = rng.choice("rnmlI1")
        return "".join(chars)
    raise ValueError(kind)


KINDS = ("dateline", "footer", "truncate", "drop", "noise")
