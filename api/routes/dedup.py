"""POST /v1/dedup: stateless clustering of a list of documents, for callers with their own storage."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from api.errors import ApiError
from api.inputs import optional_str, read_json_object, require_str

bp = Blueprint("dedup", __name__, url_prefix="/v1")

CONFIG_FIELDS = ("ngram", "num_perm", "seed", "threshold")


@bp.post("/dedup")
def dedup() -> Response:
    """Cluster ``documents`` (each ``{id, text}`` plus optional ``title``, ``url``, ``source``)."""
    from segmenter.dedup import cluster

    data = read_json_object(request)
    docs = _documents(data.get("documents"))
    config = _config(data.get("config"))
    assignments = cluster(docs, config)
    clusters: dict[Any, list[str]] = {}
    for a in assignments:
        clusters.setdefault(a.cluster, []).append(a.id)
    return jsonify({
        "clusters": [{"cluster": key, "documents": ids, "size": len(ids)} for key, ids in clusters.items()],
        "assignments": [{"id": a.id, "cluster": a.cluster, "similarity": a.similarity} for a in assignments],
    })


def _documents(value: Any) -> list[Any]:
    from segmenter.dedup import Document

    if not isinstance(value, list) or not value:
        raise ApiError(400, "missing_field", "'documents' must be a non-empty list of {id, text} objects")
    largest = current_app.config["MAX_DEDUP_DOCUMENTS"]
    if len(value) > largest:
        raise ApiError(413, "too_many_documents", f"at most {largest} documents per request")
    docs, seen_ids = [], set()
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise ApiError(400, "invalid_field", f"documents[{i}] must be an object")
        doc_id = require_str(item, "id")
        if doc_id in seen_ids:
            raise ApiError(400, "duplicate_id", f"documents[{i}]: the id {doc_id!r} is used twice")
        seen_ids.add(doc_id)
        try:
            docs.append(Document(id=doc_id, text=require_str(item, "text"), url=optional_str(item, "url"),
                                 source=optional_str(item, "source"), title=optional_str(item, "title")))
        except ValueError as exc:
            raise ApiError(400, "invalid_field", f"documents[{i}]: {exc}") from None
    return docs


def _config(value: Any) -> Any:
    from segmenter.dedup import DedupConfig

    if value is None:
        return DedupConfig()
    if not isinstance(value, dict) or set(value) - set(CONFIG_FIELDS):
        raise ApiError(400, "invalid_field", f"'config' may only set {', '.join(CONFIG_FIELDS)}")
    try:
        return DedupConfig(**value)
    except (TypeError, ValueError) as exc:
        raise ApiError(400, "invalid_field", f"invalid config: {exc}") from None
