"""Fixtures for the HTTP API tests, in the Flask tutorial's style: ``app``, ``client``, ``runner``."""
from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from api import create_app

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
# The bound for error paths: every bad input answers 4xx JSON within this many seconds.
ERROR_DEADLINE = 1.0


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    """An app with its own empty story store and per-process metrics."""
    # A generous time limit: these tests check results, and a busy CI machine must not turn a
    # slow segmentation into a 422. The tests of the limit set their own.
    app = create_app({"TESTING": True, "STORE_PATH": str(tmp_path / "stories.sqlite3"),
                      "METRICS_DIR": None, "BENCHMARK_ECHO": False, "SEGMENT_TIMEOUT": 30.0})
    yield app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture(scope="session")
def page_dump() -> bytes:
    """The example page dump (a real page: article, teasers, related links)."""
    return (FIXTURES / "page-dump.txt").read_bytes()


@pytest.fixture
def assert_error():
    """A checker: the response is the JSON error shape with ``status`` (and ``code``), within
    :data:`ERROR_DEADLINE` of ``started`` when given. Returns the error object."""
    return check_error


def check_error(response, status: int, code: str | None = None, started: float | None = None) -> dict:
    """See the ``assert_error`` fixture."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    assert isinstance(body["error"]["code"], str) and isinstance(body["error"]["message"], str)
    if code is not None:
        assert body["error"]["code"] == code
    if started is not None:
        assert time.perf_counter() - started < ERROR_DEADLINE
    return body["error"]
