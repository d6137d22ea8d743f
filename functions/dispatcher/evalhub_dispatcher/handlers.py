"""AWS Lambda entry points of the dispatcher side: thin faces over ``evalhub.services``.

- ``dispatch``: SQS batch of job messages -> launch each job once (partial batch failures reported);
- ``state_change``: EventBridge ECS Task State Change / Batch Job State Change -> a runner that stopped
  without finishing its job fails the attempt (retried while attempts remain);
- ``reap``: one-minute schedule -> jobs past their timeout or with a stale heartbeat;
- ``submit_from_s3``: EventBridge "Object Created" under ``requests/`` -> an evaluation request;
- ``submit_scheduled``: a schedule whose input names a stored request JSON -> a fresh evaluation.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from evalhub.context import Context, build_context
from evalhub.errors import EvalHubError
from evalhub.models import EvaluationRequestCreate, JobStatus
from evalhub.queue import JobMessage
from evalhub.services import dispatch as lifecycle
from evalhub.services import evaluations

from .events import RunnerStopped, parse_runner_stopped

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "evalhub")
logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "EvalHub"), service=SERVICE)
processor = BatchProcessor(event_type=EventType.SQS)

# Matches the jobs queue's redrive maxReceiveCount in template.yaml: the last delivery before the DLQ.
MAX_RECEIVES = 5
# After this many deferrals (concurrency cap full), a message is re-sent fresh instead of redelivered,
# so waiting for capacity never pushes a healthy job into the dead-letter queue.
RESEND_AFTER_RECEIVES = 3

_ctx: Context | None = None


def context() -> Context:
    global _ctx
    if _ctx is None:
        _ctx = build_context()
    return _ctx


class CapacityFull(Exception):
    """The concurrency cap is reached: report the record as failed so SQS redelivers it later."""


def dispatch_record(record: SQSRecord) -> str:
    ctx = context()
    message = JobMessage.model_validate_json(record.body)
    logger.append_keys(request_id=message.request_id, job_id=message.job_id)
    receives = int(record.attributes.approximate_receive_count or 1)
    started = time.perf_counter()
    try:
        outcome = lifecycle.dispatch(ctx, message)
    except Exception as e:
        if receives >= MAX_RECEIVES:  # a poison message: say so on the job before SQS dead-letters it
            job = ctx.store.get_job(message.request_id, message.job_id)
            if job is not None:
                lifecycle.fail(
                    ctx, job, f"could not dispatch the job after {receives} tries: {e}", [JobStatus.QUEUED]
                )
            metrics.add_metric(name="JobsFailed", unit=MetricUnit.Count, value=1)
        raise
    metrics.add_metric(
        name="DispatchLatency", unit=MetricUnit.Milliseconds, value=(time.perf_counter() - started) * 1000
    )
    if outcome == lifecycle.Outcome.DEFERRED:
        if receives < RESEND_AFTER_RECEIVES:
            raise CapacityFull(f"{ctx.settings.max_concurrent_jobs} jobs already in flight")
        ctx.queue.send([message])
    elif outcome == lifecycle.Outcome.LAUNCHED:
        metrics.add_metric(name="JobsDispatched", unit=MetricUnit.Count, value=1)
    elif outcome == lifecycle.Outcome.FAILED:
        metrics.add_metric(name="JobsFailed", unit=MetricUnit.Count, value=1)
    logger.info("dispatched", extra={"outcome": outcome.value, "receive_count": receives})
    return outcome.value


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def dispatch(event: dict[str, Any], lambda_context: LambdaContext) -> dict[str, Any]:
    response = process_partial_response(
        event=event, record_handler=dispatch_record, processor=processor, context=lambda_context
    )
    return dict(response)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def state_change(event: dict[str, Any], lambda_context: LambdaContext) -> dict[str, Any]:
    stopped: RunnerStopped | None = parse_runner_stopped(event)
    if stopped is None:
        return {"action": "ignored"}
    logger.append_keys(request_id=stopped.request_id, job_id=stopped.job_id)
    ctx = context()
    job = ctx.store.get_job(stopped.request_id, stopped.job_id)
    if job is None or job.launch_handle != stopped.handle or job.status not in lifecycle.IN_FLIGHT:
        return {"action": "ignored"}  # finished normally, or an event about an older attempt
    ended = lifecycle.fail_or_retry(ctx, job, stopped.reason)
    action = "none" if ended is None else ("retried" if ended.status == "queued" else "failed")
    if action == "failed":
        metrics.add_metric(name="JobsFailed", unit=MetricUnit.Count, value=1)
    logger.warning("runner stopped before its job ended", extra={"reason": stopped.reason, "action": action})
    return {"action": action}


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def reap(event: dict[str, Any], lambda_context: LambdaContext) -> dict[str, Any]:
    acted = lifecycle.reap(context())
    metrics.add_metric(name="JobsReaped", unit=MetricUnit.Count, value=acted)
    return {"reaped": acted}


def _submit_stored(key: str, fresh_id: bool) -> dict[str, Any]:
    ctx = context()
    try:
        body = json.loads(ctx.blobs.get(key))
        if fresh_id and isinstance(body, dict):
            body.pop("request_id", None)  # each scheduled run is a new evaluation
        request = EvaluationRequestCreate.model_validate(body)
        response = evaluations.submit(ctx, request)
    except (ValueError, ValidationError, EvalHubError) as e:
        detail = e.detail if isinstance(e, EvalHubError) else str(e)
        logger.error("stored request rejected", extra={"key": key, "detail": detail})
        ctx.blobs.put(f"request-errors/{key}.error.json", json.dumps({"key": key, "detail": detail}).encode())
        metrics.add_metric(name="RequestsRejected", unit=MetricUnit.Count, value=1)
        return {"key": key, "accepted": False, "detail": detail}
    metrics.add_metric(name="RequestsSubmitted", unit=MetricUnit.Count, value=1)
    logger.info("stored request submitted", extra={"key": key, "request_id": response.request_id})
    return {"key": key, "accepted": True, "request_id": response.request_id}


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def submit_from_s3(event: dict[str, Any], lambda_context: LambdaContext) -> dict[str, Any]:
    """EventBridge S3 "Object Created": detail.object.key is the request JSON (under requests/)."""
    return _submit_stored(event["detail"]["object"]["key"], fresh_id=False)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def submit_scheduled(event: dict[str, Any], lambda_context: LambdaContext) -> dict[str, Any]:
    """A schedule's input ``{"request_key": "<key of a request JSON in the results bucket>"}``."""
    return _submit_stored(event["request_key"], fresh_id=True)
