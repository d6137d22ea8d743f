"""AWS Lambda entry point: the FastAPI app through Mangum (HTTP API v2 and REST v1 events)."""

from __future__ import annotations

from typing import Any

from mangum import Mangum

_handler: Mangum | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _handler
    if _handler is None:  # built on the first event, so importing this module stays cheap
        from evalhub.context import build_context

        from .app import create_app

        _handler = Mangum(create_app(build_context()), lifespan="off")
    result: dict[str, Any] = _handler(event, context)
    return result
