"""Results as files under one root directory (local mode); URIs are file://."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..errors import InvalidRequest, NotFound


def checked_key(key: str) -> str:
    """``key`` if it is a plain relative path (``a/b/c.json``); ``InvalidRequest`` for anything that
    could name something outside the store (absolute, ``..``, empty or odd segments)."""
    parts = key.split("/")
    if not key or "\\" in key or "\x00" in key or any(p in ("", ".", "..") for p in parts):
        raise InvalidRequest(f"Blob key '{key}' is not a plain relative path")
    return key


class FileBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / checked_key(key)).resolve()
        # resolve() follows symlinks, so a link inside the root cannot lead out of it either.
        if not path.is_relative_to(self.root) or path == self.root:
            raise InvalidRequest(f"Blob key '{key}' leads outside the results directory")
        return path

    def put(self, key: str, data: bytes, content_type: str = "application/json") -> str:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so that a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path.as_uri()

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as e:
            raise NotFound(f"No blob at '{key}'") from e

    def link(self, key: str, expires_seconds: int = 3600) -> str:
        return self._path(key).as_uri()
