"""The HTTP service: ``create_app()`` builds the Flask app (``gunicorn 'api:create_app()'``)."""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

DEFAULT_MAX_BODY = 5 * 1024 * 1024  # bytes; a 5 MB page is far beyond any real article page

DEFAULTS: dict[str, Any] = {
    "MAX_CONTENT_LENGTH": DEFAULT_MAX_BODY,  # Flask answers 413 beyond it
    # Seconds one segmentation may take. A 5 MB page segments in well under this on one core;
    # a page that does not is pathological and must not hold the worker.
    "SEGMENT_TIMEOUT": 2.0,
    "STORE_PATH": None,          # default: <instance folder>/stories.sqlite3
    "METRICS_DIR": None,         # a folder shared by the worker processes (see api.metrics)
    "BENCHMARK_ECHO": False,     # register POST /v1/echo (benchmarks/api.py only)
    "STORIES_PAGE_LIMIT": 100,   # largest ?limit= for GET /v1/stories
    "MAX_DEDUP_DOCUMENTS": 10_000,
}


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then ``SEGMENTER_*`` environment variables, then ``config``.

    The model is loaded and the story store opened here, once per process.
    """
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("SEGMENTER")
    if config:
        app.config.from_mapping(config)
    if not app.config["STORE_PATH"]:
        os.makedirs(app.instance_path, exist_ok=True)
        app.config["STORE_PATH"] = os.path.join(app.instance_path, "stories.sqlite3")
    app.json.sort_keys = False
    app.json.ensure_ascii = False

    from api import errors, metrics, services

    errors.init_app(app)
    metrics.init_app(app)
    services.init_app(app)
    _register_blueprints(app)
    return app


def _register_blueprints(app: Flask) -> None:
    from api.routes import dedup, health, segment, stories

    for module in (segment, stories, dedup, health):
        app.register_blueprint(module.bp)
    if app.config["BENCHMARK_ECHO"]:
        from api.routes import bench

        app.register_blueprint(bench.bp)
