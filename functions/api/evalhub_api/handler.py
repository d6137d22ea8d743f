"""AWS Lambda entry point: the FastAPI app through Mangum, for HTTP API (v2) and REST API (v1)
events, with Powertools Logger (correlated by the API request id) and Metrics (EMF).

Everything is built on the first event, so importing this module stays as cheap as importing
FastAPI + Mangum alone (see bench/cold_start.py)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
_entry: Handler | None = None


def _build() -> Handler:
    from aws_lambda_powertools import Logger, Metrics
    from aws_lambda_powertools.logging import correlation_paths
    from aws_lambda_powertools.metrics import MetricUnit
    from mangum import Mangum

    from evalhub.context import build_context

    from .app import create_app

    logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "evalhub"))
    metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "EvalHub"))
    app = Mangum(create_app(build_context()), lifespan="off")

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    @metrics.log_metrics
    def entry(event: dict[str, Any], context: Any) -> dict[str, Any]:
        _ensure_event_loop()
        result: dict[str, Any] = app(event, context)
        status = int(result.get("statusCode", 500))
        metrics.add_metric(name="ApiRequests", unit=MetricUnit.Count, value=1)
        if status >= 500:
            metrics.add_metric(name="Api5xx", unit=MetricUnit.Count, value=1)
        logger.info("request", extra={"status": status, "path": event.get("rawPath") or event.get("path")})
        return result

    return entry


def _ensure_event_loop() -> None:
    """Mangum runs each event on ``asyncio.get_event_loop()``, which fails once anything in the process
    has called ``asyncio.run`` (it leaves no current loop); give it a fresh one then."""
    import asyncio

    try:
        asyncio.get_event_loop()
    except RuntimeError:
        asyncio.set_event_loop(asyncio.new_event_loop())


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _entry
    if _entry is None:
        _entry = _build()
    return _entry(event, context)
