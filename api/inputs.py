"""Request bodies -> plain data: the one place where the API reads what a client sent.

A page arrives as raw ``text/plain`` or ``text/html`` bytes (their declared charset honoured, other
fields in the query string), or as ``application/json`` with the page in ``"text"`` or ``"html"``.
Everything else is refused with a JSON error before any segmentation runs.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from flask import Request

from api.errors import ApiError
from segmenter.page import HTML, TEXT, Page, charset_from_content_type

RAW_TYPES = {"text/plain": TEXT, "text/html": HTML, "application/xhtml+xml": HTML}
JSON_TYPE = "application/json"
# A page where more than this share of characters could not be decoded (U+FFFD) or are control
# characters is binary or in an encoding we cannot read; segmenting it would only return garbage.
MAX_GARBAGE_SHARE = 0.10
# C0/C1 control characters other than the whitespace ones (\t \n \v \f \r).
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class PageInput:
    """A decoded page and the other fields that came with it (JSON members or query parameters)."""

    page: Page
    fields: dict[str, Any] = field(default_factory=dict)


def read_body(request: Request) -> bytes:
    """The body, 413 when it is over ``MAX_CONTENT_LENGTH``, also for chunked uploads.

    Werkzeug refuses a declared ``Content-Length`` over the limit, but a chunked body (no length)
    is only cut at the limit and returned truncated; a body that fills the limit is refused here.
    """
    data = request.get_data(cache=True)
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(data) >= limit:
        raise ApiError(413, "payload_too_large", f"the body is over the limit of {limit} bytes")
    return data


def read_json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object; 415 unless it is declared JSON, 400 if it is not an object."""
    if request.mimetype != JSON_TYPE:
        raise ApiError(415, "unsupported_media_type",
                       f"send {JSON_TYPE}, not {request.mimetype or 'a body without Content-Type'}")
    try:
        data = json.loads(read_body(request))
    except ValueError as exc:  # includes UnicodeDecodeError: JSON must be UTF-8
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {exc}") from None
    except RecursionError:  # '[[[[...' nested deeper than the parser's recursion limit
        raise ApiError(400, "malformed_json", "the JSON body is nested too deeply") from None
    if not isinstance(data, dict):
        raise ApiError(400, "malformed_json", "the JSON body must be an object")
    return data


def read_page(request: Request) -> PageInput:
    """Decode the page a client sent, in any of the accepted forms."""
    mimetype = request.mimetype
    if mimetype in RAW_TYPES:
        charset = charset_from_content_type(request.headers.get("Content-Type"))
        page = Page.from_input(read_body(request), RAW_TYPES[mimetype], charset,
                               url=request.args.get("url"))
        return PageInput(check_page(page), dict(request.args.items()))
    if mimetype == JSON_TYPE:
        return page_from_json(read_json_object(request))
    accepted = ", ".join([*RAW_TYPES, JSON_TYPE])
    raise ApiError(415, "unsupported_media_type",
                   f"unsupported Content-Type {mimetype or '(none)'!r}; send one of {accepted}")


def page_from_json(data: dict[str, Any]) -> PageInput:
    """A page from a JSON object carrying exactly one of ``text`` and ``html``."""
    present = [key for key in ("text", "html") if key in data]
    if len(present) != 1:
        raise ApiError(400, "missing_field" if not present else "conflicting_fields",
                       "give the page as exactly one of the fields 'text' or 'html'")
    key = present[0]
    text = require_str(data, key)
    url = optional_str(data, "url")
    text, replaced = _drop_surrogates(text)
    page = Page(text, TEXT if key == "text" else HTML, url, optional_str(data, "source"), None, replaced)
    return PageInput(check_page(page), data)


def check_page(page: Page) -> Page:
    """422 for a page with no text, or one that is mostly undecodable or binary."""
    if not page.text.strip():
        raise ApiError(422, "empty_text", "the page has no text")
    garbage = page.replaced_chars + _control_chars(page.text)
    if garbage > MAX_GARBAGE_SHARE * len(page.text):
        raise ApiError(422, "undecodable_text",
                       f"{garbage} of {len(page.text)} characters could not be decoded or are control "
                       "characters; declare the page's charset in the Content-Type header")
    return page


def require_str(data: dict[str, Any], key: str) -> str:
    """``data[key]`` as a string: 400 when it is missing or not a string."""
    if key not in data or data[key] is None:
        raise ApiError(400, "missing_field", f"the field {key!r} is required")
    value = data[key]
    if not isinstance(value, str):
        raise ApiError(400, "invalid_field", f"the field {key!r} must be a string")
    return value


def optional_str(data: dict[str, Any], key: str) -> str | None:
    """``data[key]`` as a string or None: 400 when it is there but not a string."""
    if data.get(key) is None:
        return None
    return require_str(data, key)


def parse_flag(value: Any, name: str, default: bool = False) -> bool:
    """A boolean from JSON (true/false) or a query parameter (1/0, true/false, yes/no)."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ApiError(400, "invalid_field", f"{name!r} must be a boolean (true/false or 1/0)")


def _drop_surrogates(text: str) -> tuple[str, int]:
    # JSON may escape lone surrogates ("\ud800"), which no UTF-8 output can carry: replace them.
    try:
        text.encode("utf-8")
        return text, 0
    except UnicodeEncodeError:
        cleaned = text.encode("utf-8", "replace").decode("utf-8")
        return cleaned, cleaned.count("?") - text.count("?")


def _control_chars(text: str) -> int:
    return sum(1 for _ in _CONTROL_CHARS.finditer(text))
