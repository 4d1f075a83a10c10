"""Stories: ingest a page into the persistent story store, read a story, list recent stories."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from api.errors import ApiError
from api.inputs import optional_str, parse_flag, read_page
from api.metrics import current_metrics
from api.services import current_services, run_segmentation, story_index

bp = Blueprint("stories", __name__, url_prefix="/v1")


@bp.post("/stories")
def ingest() -> Response:
    """Segment the page (unless ``"segmented": false``), then add it to the story it belongs to.

    Re-posting a url is idempotent: the document stays where it is and the reply is the same story.
    """
    from segmenter.dedup import Document

    received = read_page(request)
    fields = received.fields
    url = received.page.url or optional_str(fields, "url")
    if not url:
        raise ApiError(400, "missing_field", "the field 'url' is required (a query parameter for raw bodies)")
    title, text = _article(received.page, fields)
    seen = _timestamp(fields.get("published"), "published") or _now()
    doc = Document(id=url, text=text, url=url, source=optional_str(fields, "source"), title=title, seen=seen)
    index, services = story_index(), current_services()
    # Only the placement needs the write lock that every worker queues on: the MinHash before it
    # is CPU work on this request's text, and the story read after it is a WAL read that no writer
    # blocks. Keeping them outside shortens the one section the workers cannot run in parallel.
    sketches = index.prepare([doc])
    with services.writing():
        placed = index.place(sketches)[0]  # committed here: the reply below is for a durable add
    with services.store_lock:
        story = index.get(placed.story_id)
    if story is None:  # removed by another process (an expiry run) in the instant since the commit
        raise ApiError(409, "story_removed", f"story {placed.story_id} was removed while the document "
                       "was being added; post it again")
    metrics = current_metrics()
    metrics.inc("segmenter_documents_ingested_total", ("new_story" if placed.is_new else "existing_story",))
    if placed.is_new:
        metrics.inc("segmenter_stories_created_total")
    return jsonify({"story_id": placed.story_id, "is_new": placed.is_new,
                    "similarity": placed.similarity, "document_id": doc.id,
                    "story": story.to_dict()})


@bp.get("/stories/<story_id>")
def get_story(story_id: str) -> Response:
    """One story with all its members."""
    story = None
    if _plausible_id(story_id):
        with current_services().store_lock:
            story = story_index().get(story_id)
    if story is None:
        raise ApiError(404, "story_not_found", f"no story with id {story_id!r}")
    return jsonify(story.to_dict())


@bp.get("/stories")
def list_stories() -> Response:
    """Stories seen since ``since`` (ISO 8601), newest first, ``limit`` per page, paged by ``cursor``."""
    # An unescaped "+" of a UTC offset arrives as a space: take it back.
    since = _timestamp((request.args.get("since") or "").replace(" ", "+"), "since")
    limit = _limit(request.args.get("limit"))
    cursor = request.args.get("cursor") or None
    with current_services().store_lock:
        try:
            stories, next_cursor = story_index().stories(since=since, limit=limit, cursor=cursor)
        except (ValueError, OverflowError) as exc:  # a cursor the store did not make
            raise ApiError(400, "invalid_cursor", f"bad cursor: {exc}") from None
    return jsonify({"stories": [s.to_dict() for s in stories], "next_cursor": next_cursor})


def _article(page: Any, fields: dict[str, Any]) -> tuple[str | None, str]:
    if not parse_flag(fields.get("segmented", True), "segmented", default=True):
        if page.content_type != "text":
            raise ApiError(400, "invalid_field", "\"segmented\": false takes the article as plain 'text', "
                           "not HTML")
        return optional_str(fields, "title"), page.text
    result = run_segmentation(page)
    if not result.paragraphs:
        raise ApiError(422, "no_article", "the page has no article body (it looks like an index page); "
                       "send the article text with \"segmented\": false to ingest it as it is")
    return result.title, result.body


def _plausible_id(story_id: str) -> bool:
    # Story ids are SQLite row ids: digits that fit in 64 bits. Anything else cannot exist, and
    # handing it to the store would only fail there.
    return story_id.isascii() and story_id.isdigit() and int(story_id) < 2**63


def _limit(value: str | None) -> int:
    largest = current_app.config["STORIES_PAGE_LIMIT"]
    if value is None:
        return min(20, largest)
    if not value.isdigit() or not 1 <= int(value) <= largest:
        raise ApiError(400, "invalid_parameter", f"'limit' must be an integer in 1..{largest}")
    return int(value)


def _timestamp(value: Any, name: str) -> str | None:
    """An ISO 8601 timestamp normalised to UTC (``...Z``); a date alone means its midnight UTC."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ApiError(400, "invalid_field", f"{name!r} must be an ISO 8601 timestamp string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, "invalid_field", f"{name!r} is not an ISO 8601 timestamp: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
