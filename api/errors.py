"""Every error the service answers is JSON: ``{"error": {"code": ..., "message": ...}}``.

Routes raise :class:`ApiError` (or let werkzeug raise its HTTP exceptions: 404, 405, 413 ...); the
handlers here turn both into the same JSON shape, so that a client needs one parser for all failures.
"""
from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

# Stable, snake_case codes for the werkzeug exceptions the service can meet; others fall back to
# the snake-cased HTTP reason phrase.
HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    500: "internal_error",
    503: "unavailable",
}


# Bodies declared up to this size are read to the end before a 413 is sent (see drain_body).
DRAIN_LIMIT = 64 * 1024 * 1024


class ApiError(Exception):
    """An error the client should see: HTTP status, a stable machine code and a readable message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(status: int, code: str, message: str) -> Response:
    """The JSON error body with its status."""
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


def handle_api_error(exc: ApiError) -> Response:
    if exc.status == 413:
        drain_body()
    return error_response(exc.status, exc.code, exc.message)


def drain_body(limit: int = DRAIN_LIMIT) -> None:
    """Read and drop what is left of the request body (at most ``limit`` bytes).

    A server that answers 413 and closes the connection while the client is still sending makes
    the client's TCP stack see a reset, and most clients then report "connection reset" instead of
    the 413. Reading the rest first lets the answer arrive; a body declared bigger than ``limit``
    is not worth reading and gets the reset.
    """
    if request.content_length is not None and request.content_length > limit:
        return
    stream = request.input_stream
    while limit > 0:
        chunk = stream.read(min(1 << 16, limit))
        if not chunk:
            return
        limit -= len(chunk)


def handle_http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    if status == 413:
        drain_body()
    code = HTTP_CODES.get(status) or (exc.name or "error").lower().replace(" ", "_")
    message = exc.description or exc.name or "error"
    response = error_response(status, code, message)
    # Keep the headers that carry meaning (Allow on 405, Retry-After ...), not werkzeug's HTML type.
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def handle_unexpected(exc: Exception) -> Response:
    log.exception("unhandled error")
    return error_response(500, "internal_error", "internal error; the server logged the details")


def init_app(app: Flask) -> None:
    """Register the JSON handlers on ``app``."""
    app.register_error_handler(ApiError, handle_api_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
