"""POST /v1/echo: the trivial baseline for benchmarks/api.py. Registered only when the app's
``BENCHMARK_ECHO`` setting is true, never in a production configuration."""
from __future__ import annotations

from flask import Blueprint, Response, request

bp = Blueprint("bench", __name__, url_prefix="/v1")


@bp.post("/echo")
def echo() -> Response:
    """Return the body as sent: the cost of the server, Flask and the client, and nothing else."""
    return Response(request.get_data(), content_type=request.content_type or "application/octet-stream")
