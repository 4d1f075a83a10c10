"""Fixtures of the batch tests."""
from __future__ import annotations

import pytest
from batch_paths import FIXTURES


@pytest.fixture
def tiny_warc() -> str:
    return str(FIXTURES / "tiny.warc.gz")


@pytest.fixture
def tiny_wet() -> str:
    return str(FIXTURES / "tiny.wet.gz")
