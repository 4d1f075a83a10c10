"""One blueprint per resource: segment, stories, dedup, health (with metrics and the OpenAPI document)."""
