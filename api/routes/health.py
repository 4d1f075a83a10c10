"""Liveness, readiness, Prometheus metrics and the OpenAPI document."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from api.metrics import current_metrics
from api.openapi import openapi_document
from api.services import current_services, store_writable, warm_up_model

bp = Blueprint("health", __name__)

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


@bp.get("/healthz")
def healthz() -> Response:
    """The process is alive and answering."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Ready for traffic: the model is loaded and the story store takes a write lock."""
    services = current_services()
    if not services.model_ready:
        warm_up_model(services)  # a model that failed to load (a file being replaced) gets another try
    model_ok = services.model_ready
    store_ok, store_detail = (False, services.store_error) if services.index is None \
        else store_writable(services.store_path)
    checks = {
        "model": {"ok": model_ok, "detail": "loaded" if model_ok else services.model_error},
        "store": {"ok": store_ok, "detail": store_detail},
    }
    ready = model_ok and store_ok
    return jsonify({"status": "ready" if ready else "not_ready", "checks": checks}), 200 if ready else 503


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus text: requests, latency, documents ingested, stories (all worker processes)."""
    text = current_metrics().render(_store_gauges())
    return Response(text, mimetype=None, content_type=PROMETHEUS_TEXT)


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 description of this service."""
    return jsonify(openapi_document(current_app.config))


def _store_gauges() -> list[tuple[str, str, float]]:
    # Counts read from the shared store are exact across workers, unlike per-process counters.
    services = current_services()
    if services.index is None:
        return []
    try:
        with services.store_lock:
            documents, stories = services.index.count()
    except Exception:  # a scrape must not fail because the store is busy or gone
        return []
    return [("segmenter_stories", "Stories in the store.", stories),
            ("segmenter_store_documents", "Documents in the store.", documents)]
