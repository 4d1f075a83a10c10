"""The OpenAPI 3.1 document served at ``/openapi.json``.

Written as data next to the routes it describes; ``tests/api/test_openapi.py`` checks that every
route of the app is described, sends every request example through the app and validates each
response against the schema given here, so the document cannot drift from the service unnoticed.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import segmenter
from segmenter.article import LABELS

EXAMPLE_TEXT = (
    "Putin offers economic, political and military support to Lukashenko\n\n"
    "Election update: Trump deviates from party course and Biden calls on Obama\n\n"
    "Welcome to your daily update leading up to the US presidential election on November 3rd...\n\n"
    "Russian President Vladimir Putin has offered economic, political and military support to the "
    "Belarusian leader Alexander Lukashenko, who faces the largest protests in the history of the "
    "country after an election that the opposition and Western governments call rigged.\n\n"
    "The Kremlin said on Friday that both leaders agreed to deepen the integration of their two "
    "countries and that Moscow stood ready to help Minsk if the situation deteriorated further.\n\n"
    "Related Articles\n"
)
EXAMPLE_HTML = (
    "<html><head><meta charset='utf-8'><title>Putin offers support to Lukashenko</title></head><body>"
    "<h1>Putin offers economic, political and military support to Lukashenko</h1>"
    "<p>Russian President Vladimir Putin has offered economic, political and military support to the "
    "Belarusian leader Alexander Lukashenko, who faces the largest protests in the history of the "
    "country after an election that the opposition and Western governments call rigged.</p>"
    "<p>The Kremlin said on Friday that both leaders agreed to deepen the integration of their two "
    "countries and that Moscow stood ready to help Minsk if the situation deteriorated further.</p>"
    "<ul><li><a href='/other-story'>Election update: Trump deviates from party course</a></li></ul>"
    "</body></html>"
)
EXAMPLE_ARTICLE = (
    "MOSCOW (Reuters) - Russian President Vladimir Putin has offered economic, political and military "
    "support to the Belarusian leader Alexander Lukashenko, who faces the largest protests in the "
    "history of the country after a disputed election. The Kremlin said both leaders agreed to deepen "
    "the integration of their two countries."
)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"application/json": {"schema": schema, **extra}}


def _error(description: str, code: str, message: str) -> dict[str, Any]:
    example = {"error": {"code": code, "message": message}}
    return {"description": description, "content": _json(_ref("Error"), example=example)}


ERRORS = {
    "400": _error("Malformed JSON, a missing or invalid field", "missing_field",
                  "the field 'url' is required (a query parameter for raw bodies)"),
    "413": _error("The body is over the size limit", "payload_too_large",
                  "The data value transmitted exceeds the capacity limit."),
    "415": _error("Unsupported Content-Type", "unsupported_media_type",
                  "unsupported Content-Type 'application/pdf'; send one of text/plain, text/html, "
                  "application/xhtml+xml, application/json"),
    "422": _error("Empty or undecodable text, no article, or segmentation over its time limit",
                  "empty_text", "the page has no text"),
    "503": _error("The story store is not available", "store_unavailable",
                  "the story store is not available"),
}


def _errors(*statuses: str) -> dict[str, Any]:
    return {status: ERRORS[status] for status in statuses}


def _schemas() -> dict[str, Any]:
    nullable_str = {"type": ["string", "null"]}
    text = {"type": "string"}
    member = {
        "type": "object",
        "required": ["doc_id", "source", "url", "title", "first_seen", "last_seen"],
        "properties": {"doc_id": {"type": "string"}, "source": nullable_str, "url": nullable_str,
                       "title": nullable_str, "first_seen": text, "last_seen": text},
    }
    return {
        "Error": {
            "type": "object", "required": ["error"], "additionalProperties": False,
            "properties": {"error": {
                "type": "object", "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}},
        },
        "Block": {
            "type": "object", "required": ["text", "label", "confidence", "start", "end"],
            "properties": {"text": {"type": "string"}, "label": {"enum": list(LABELS)},
                           "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                           "start": {"type": "integer"}, "end": {"type": "integer"}},
        },
        "Segmentation": {
            "type": "object",
            "required": ["title", "paragraphs", "body", "teasers", "kind", "content_type"],
            "properties": {
                "title": nullable_str,
                "paragraphs": {"type": "array", "items": {"type": "string"}},
                "body": {"type": "string"},
                "teasers": {"type": "array", "items": {
                    "type": "object", "required": ["headline", "blurb"],
                    "properties": {"headline": {"type": "string"}, "blurb": nullable_str}}},
                "kind": {"enum": ["article", "index"]},
                "blocks": {"type": "array", "items": _ref("Block"),
                           "description": "only with ?blocks=1"},
                "content_type": {"enum": ["text", "html"]},
                "url": nullable_str,
                "replaced_chars": {"type": "integer", "minimum": 0,
                                   "description": "characters that could not be decoded"},
            },
        },
        "PageJson": {
            "type": "object",
            "description": "The page in exactly one of 'text' (a page dump) or 'html'.",
            "properties": {"text": {"type": "string"}, "html": {"type": "string"}, "url": {"type": "string"}},
        },
        "StoryMember": member,
        "Story": {
            "type": "object",
            "required": ["id", "title", "canonical", "members", "size", "first_seen", "last_seen"],
            "properties": {"id": {"type": "string"}, "title": nullable_str,
                           "canonical": {**_ref("StoryMember"),
                                         "description": "the member new documents are matched against"},
                           "members": {"type": "array", "items": _ref("StoryMember")},
                           "size": {"type": "integer", "minimum": 1},
                           "first_seen": {"type": "string"}, "last_seen": {"type": "string"}},
        },
        "IngestRequest": {
            "type": "object", "required": ["url"],
            "properties": {
                "text": {"type": "string",
                         "description": "page dump, or the article when segmented is false"},
                "html": {"type": "string"},
                "url": {"type": "string", "description": "the document's identity: re-posting is idempotent"},
                "source": {"type": "string", "description": "the feed or site"},
                "published": {"type": "string", "description": "ISO 8601; default: now"},
                "title": {"type": "string", "description": "used when segmented is false"},
                "segmented": {"type": "boolean", "default": True,
                              "description": "false: the text is already the article; skip segmentation"},
            },
        },
        "IngestResult": {
            "type": "object", "required": ["story_id", "is_new", "similarity", "document_id", "story"],
            "properties": {"story_id": {"type": "string"}, "is_new": {"type": "boolean"},
                           "similarity": {"type": "number"}, "document_id": {"type": "string"},
                           "story": _ref("Story")},
        },
        "StoryPage": {
            "type": "object", "required": ["stories", "next_cursor"],
            "properties": {"stories": {"type": "array", "items": _ref("Story")},
                           "next_cursor": nullable_str},
        },
        "DedupRequest": {
            "type": "object", "required": ["documents"],
            "properties": {
                "documents": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "required": ["id", "text"],
                    "properties": {"id": {"type": "string"}, "text": {"type": "string"},
                                   "title": {"type": "string"}, "url": {"type": "string"},
                                   "source": {"type": "string"}}}},
                "config": {"type": "object", "additionalProperties": False,
                           "properties": {"ngram": {"type": "integer"}, "num_perm": {"type": "integer"},
                                          "seed": {"type": "integer"}, "threshold": {"type": "number"}}},
            },
        },
        "DedupResult": {
            "type": "object", "required": ["clusters", "assignments"],
            "properties": {
                "clusters": {"type": "array", "items": {
                    "type": "object", "required": ["cluster", "documents", "size"],
                    "properties": {"cluster": {"type": ["string", "integer"]},
                                   "documents": {"type": "array", "items": {"type": "string"}},
                                   "size": {"type": "integer", "minimum": 1}}}},
                "assignments": {"type": "array", "items": {
                    "type": "object", "required": ["id", "cluster", "similarity"],
                    "properties": {"id": {"type": "string"}, "cluster": {"type": ["string", "integer"]},
                                   "similarity": {"type": ["number", "null"]}}}},
            },
        },
        "Readiness": {
            "type": "object", "required": ["status", "checks"],
            "properties": {"status": {"enum": ["ready", "not_ready"]},
                           "checks": {"type": "object", "additionalProperties": {
                               "type": "object", "required": ["ok"],
                               "properties": {"ok": {"type": "boolean"}, "detail": nullable_str}}}},
        },
    }


def _segment_path() -> dict[str, Any]:
    return {"post": {
        "operationId": "segment",
        "summary": "Segment one page into its article, teasers and labelled blocks",
        "parameters": [
            {"name": "blocks", "in": "query",
             "schema": {"type": "string", "enum": ["0", "1", "true", "false"]},
             "description": "1: add every block with its label and confidence", "example": "1"},
            {"name": "url", "in": "query", "schema": {"type": "string"},
             "description": "the page's URL, for raw text/plain or text/html bodies"},
        ],
        "requestBody": {"required": True, "content": {
            "text/plain": {"schema": {"type": "string"}, "examples": {"dump": {"value": EXAMPLE_TEXT}},
                           "description": "a page dump; a charset parameter is honoured"},
            "text/html": {"schema": {"type": "string"}, "examples": {"page": {"value": EXAMPLE_HTML}}},
            "application/json": {"schema": _ref("PageJson"), "examples": {
                "text": {"value": {"text": EXAMPLE_TEXT, "url": "https://example.com/news/putin-lukashenko"}},
                "html": {"value": {"html": EXAMPLE_HTML}}}},
        }},
        "responses": {"200": {"description": "The segmentation", "content": _json(_ref("Segmentation"))},
                      **_errors("400", "413", "415", "422")},
    }}


def _stories_path() -> dict[str, Any]:
    ingest = {
        "operationId": "ingestStory",
        "summary": "Ingest one page: segment it and add it to its story (idempotent per url)",
        "parameters": [
            {"name": "url", "in": "query", "schema": {"type": "string"},
             "description": "the document's URL: required with raw bodies (a JSON body carries its own)",
             "example": "https://example.com/news/putin-lukashenko"},
            {"name": "source", "in": "query", "schema": {"type": "string"}, "example": "example.com",
             "description": "the feed or site, with raw bodies"},
            {"name": "published", "in": "query", "schema": {"type": "string"},
             "description": "ISO 8601, with raw bodies; default: now"},
        ],
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": _ref("IngestRequest"), "examples": {
                "page": {"value": {"text": EXAMPLE_TEXT, "url": "https://example.com/news/putin-lukashenko",
                                   "source": "example.com", "published": "2020-10-23T09:00:00Z"}},
                "article": {"value": {"text": EXAMPLE_ARTICLE, "title": "Putin backs Lukashenko",
                                      "url": "https://wire.example.org/putin-lukashenko",
                                      "source": "wire.example.org", "segmented": False}}}},
            "text/plain": {"schema": {"type": "string"}, "examples": {"dump": {"value": EXAMPLE_TEXT}}},
            "text/html": {"schema": {"type": "string"}},
        }},
        "responses": {"200": {"description": "The story the document joined or founded",
                              "content": _json(_ref("IngestResult"))},
                      **_errors("400", "413", "415", "422", "503")},
    }
    listing = {
        "operationId": "listStories",
        "summary": "Stories seen since a time, newest first, paged with a cursor",
        "parameters": [
            {"name": "since", "in": "query", "schema": {"type": "string"}, "example": "2020-10-01T00:00:00Z"},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100},
             "example": 20},
            {"name": "cursor", "in": "query", "schema": {"type": "string"},
             "description": "next_cursor of the previous page"},
        ],
        "responses": {"200": {"description": "One page of stories", "content": _json(_ref("StoryPage"))},
                      **_errors("400", "503")},
    }
    return {"post": ingest, "get": listing}


def _story_path() -> dict[str, Any]:
    return {"get": {
        "operationId": "getStory",
        "summary": "One story with its members",
        "parameters": [{"name": "story_id", "in": "path", "required": True, "schema": {"type": "string"},
                        "example": "1"}],
        "responses": {"200": {"description": "The story", "content": _json(_ref("Story"))},
                      "404": _error("No such story", "story_not_found", "no story with id '42'"),
                      **_errors("503")},
    }}


def _dedup_path() -> dict[str, Any]:
    example = {"documents": [
        {"id": "a", "text": EXAMPLE_ARTICLE},
        {"id": "b", "text": EXAMPLE_ARTICLE.replace("MOSCOW (Reuters) - ", "")},
        {"id": "c", "text": "Shares in Europe rose on Monday as investors welcomed better than expected "
                            "earnings from the region's largest banks and carmakers."}]}
    return {"post": {
        "operationId": "dedup",
        "summary": "Cluster a list of documents into stories (stateless)",
        "requestBody": {"required": True, "content": _json(_ref("DedupRequest"),
                                                           examples={"three": {"value": example}})},
        "responses": {"200": {"description": "Clusters and per-document assignments",
                              "content": _json(_ref("DedupResult"))},
                      **_errors("400", "413", "415")},
    }}


def _ops_paths() -> dict[str, Any]:
    status = {"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}}
    readiness = _json(_ref("Readiness"))
    text = {"text/plain": {"schema": {"type": "string"}}}
    return {
        "/healthz": {"get": {"operationId": "healthz", "summary": "The process is alive",
                             "responses": {"200": {"description": "alive", "content": _json(status)}}}},
        "/readyz": {"get": {"operationId": "readyz", "summary": "Model loaded and store writable",
                            "responses": {"200": {"description": "ready", "content": readiness},
                                          "503": {"description": "not ready",
                                                  "content": readiness}}}},
        "/metrics": {"get": {"operationId": "metrics", "summary": "Prometheus text exposition",
                             "responses": {"200": {"description": "metrics of all worker processes",
                                                   "content": text}}}},
        "/openapi.json": {"get": {"operationId": "openapi", "summary": "This document",
                                  "responses": {"200": {"description": "OpenAPI 3.1",
                                                        "content": _json({"type": "object"})}}}},
    }


def openapi_document(config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The OpenAPI document of the app built with ``config``."""
    config = config or {}
    limit = config.get("MAX_CONTENT_LENGTH")
    description = ("Split news page dumps into the main article and its teasers; merge near-duplicate "
                   "stories. Every error is JSON {\"error\": {\"code\", \"message\"}}.")
    if limit:
        description += f" Bodies over {limit} bytes are refused with 413."
    return {
        "openapi": "3.1.0",
        "info": {"title": "segmenter", "version": segmenter.__version__, "description": description},
        "paths": {"/v1/segment": _segment_path(), "/v1/stories": _stories_path(),
                  "/v1/stories/{story_id}": _story_path(), "/v1/dedup": _dedup_path(), **_ops_paths()},
        "components": {"schemas": _schemas()},
    }
