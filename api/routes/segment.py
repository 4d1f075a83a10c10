"""POST /v1/segment: one page in, its article, teasers and (optionally) labelled blocks out."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from api.inputs import parse_flag, read_page
from api.services import run_segmentation

bp = Blueprint("segment", __name__, url_prefix="/v1")


@bp.post("/segment")
def segment_page() -> Response:
    """Segment the posted page; ``?blocks=1`` adds every block with its label and confidence."""
    include_blocks = parse_flag(request.args.get("blocks"), "blocks")
    received = read_page(request)
    result = run_segmentation(received.page)
    body = result.to_dict(include_blocks=include_blocks)
    body["content_type"] = received.page.content_type
    body["url"] = received.page.url
    body["replaced_chars"] = received.page.replaced_chars
    return jsonify(body)
