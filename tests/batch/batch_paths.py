"""Paths and skips shared by the batch tests (a uniquely named module, so no clash with other conftests)."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
SHARED = REPO.parent / "shared"
CRAWL = SHARED / "corpora" / "crawl"

needs_shared = pytest.mark.skipif(not CRAWL.is_dir(), reason=f"../shared crawl samples absent ({CRAWL})")
