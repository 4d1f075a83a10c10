"""The plain data that goes in and comes out of deduplication."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Document:
    """One text to deduplicate. ``seen``: ISO-8601 time it was seen (None: now)."""

    id: str
    text: str
    url: str | None = None
    source: str | None = None
    title: str | None = None
    seen: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ValueError("Document.id must be a non-empty string")
        if not isinstance(self.text, str):
            raise ValueError("Document.text must be a string")
        if self.seen is not None:
            parse_time(self.seen)  # fail early on a bad timestamp
        for name in ("id", "url", "source", "title"):  # stored: must be encodable as UTF-8
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _valid_utf8(value))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Document:
        """From a JSON object with ``id`` and ``text`` (+ optional url, source, title, seen)."""
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        missing = [key for key in ("id", "text") if data.get(key) is None]
        if missing:
            raise ValueError(f"missing field(s): {', '.join(missing)}")
        if isinstance(data["id"], bool) or not isinstance(data["id"], (str, int)):
            raise ValueError("field 'id' must be a string or an integer")
        optional = {k: _opt_str(data.get(k), k) for k in ("url", "source", "title", "seen")}
        return cls(id=str(data["id"]), text=_text(data["text"]), **optional)


def _valid_utf8(value: str) -> str:
    """``value`` with lone surrogates (from JSON such as "\\ud800") replaced by U+FFFD."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", value)


def _opt_str(value: Any, name: str) -> str | None:
    if value is None or isinstance(value, str):
        return value or None
    raise ValueError(f"field {name!r} must be a string")


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("field 'text' must be a string")
    return value


def parse_time(value: str | datetime) -> datetime:
    """An aware UTC datetime from ISO-8601 text (``Z`` allowed; naive means UTC)."""
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except (ValueError, AttributeError) as exc:
            raise ValueError(f"not an ISO-8601 time: {value!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def format_time(moment: datetime) -> str:
    """UTC ISO-8601 with microseconds and ``Z``: sorts as text in the same order as in time."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now_iso() -> str:
    """The current time as ``format_time`` text."""
    return format_time(datetime.now(timezone.utc))
