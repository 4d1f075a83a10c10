"""The Flask service (issue 4)."""
