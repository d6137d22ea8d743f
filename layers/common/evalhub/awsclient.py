"""boto3 clients created on first use, shared by every AWS adapter (importing boto3 and building a
client is slow on a cold Lambda, and most invocations need only some of them)."""

from __future__ import annotations

import threading
from typing import Any, Generic, TypeVar, cast

C = TypeVar("C")


class LazyClient(Generic[C]):
    """The injected client, else one built for ``service`` on first use (thread-safe)."""

    def __init__(self, service: str, client: C | None = None) -> None:
        self.service = service
        self._client = client
        self.owned = client is None
        """Whether this object built the client (and so may close it)."""
        self._lock = threading.Lock()

    def __call__(self) -> C:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    import boto3

                    self._client = cast(C, boto3.session.Session().client(self.service))  # type: ignore[call-overload]
        return self._client

    def close(self) -> None:
        """Close a client this object built; an injected one belongs to its owner."""
        with self._lock:
            if self.owned and self._client is not None:
                cast(Any, self._client).close()
                self._client = None
