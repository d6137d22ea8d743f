"""The BlobStore protocol: where runners write full results and per-sample logs (S3 or files)."""

from __future__ import annotations

from typing import Protocol


class BlobStore(Protocol):
    def put(self, key: str, data: bytes, content_type: str = "application/json") -> str:
        """Write ``data`` at ``key`` (a relative path like results/<request>/<job>/results.json);
        return its URI (file://... or s3://...)."""

    def get(self, key: str) -> bytes:
        """Read what was written at ``key``; ``NotFound`` if nothing was."""

    def link(self, key: str, expires_seconds: int = 3600) -> str:
        """A URL a person can open (a presigned S3 URL, or the file:// URI locally)."""
