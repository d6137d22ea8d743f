"""Evaluation use cases: submit (expand, store, enqueue), read status and results, list, cancel."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass

from ..context import Context
from ..errors import AlreadyExists, Conflict, EvalHubError, NotFound, StorageUnavailable, TransitionRejected
from ..models import (
    ENDED_JOB_STATES,
    BackendSpec,
    BackendType,
    CancelResponse,
    EvaluationRequestCreate,
    EvaluationResponse,
    EvaluationSpec,
    JobRecord,
    JobResult,
    JobStatus,
    RequestRecord,
    RequestStatus,
    SingleBenchmarkEvaluation,
    utcnow,
)
from ..queue import JobMessage
from .expand import PROVIDER_OF_BACKEND, expand
from .rollup import progress, rollup

log = logging.getLogger(__name__)


def submit(ctx: Context, body: EvaluationRequestCreate) -> EvaluationResponse:
    """Validate and expand the request, store it with its jobs in one write, enqueue one message per
    job. Resubmitting the same request_id with the same body returns the stored request."""
    request_id = body.request_id or str(uuid.uuid4())
    canonical = body.model_dump(mode="json", exclude={"request_id"})
    body_hash = hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()
    existing = ctx.store.get_request(request_id)
    if existing is not None:
        return _same_or_conflict(ctx, existing, body_hash)

    now = utcnow()
    jobs = expand(body, request_id, ctx.catalog, ctx.models.find, now, ctx.settings.max_jobs_per_request)
    request = RequestRecord(
        request_id=request_id,
        experiment_name=body.experiment_name,
        tags=body.tags,
        status=rollup(jobs),
        body=canonical,
        body_hash=body_hash,
        total_jobs=len(jobs),
        created_at=now,
        updated_at=now,
    )
    try:
        ctx.store.create_request(request, jobs)
    except AlreadyExists:  # a concurrent submission with the same id won the race
        stored = ctx.store.get_request(request_id)
        if stored is None:
            raise
        return _same_or_conflict(ctx, stored, body_hash)
    try:
        ctx.queue.send([JobMessage(request_id=request_id, job_id=job.job_id) for job in jobs])
    except Exception as e:
        # Nothing will run these jobs: say so on each of them instead of leaving them queued forever.
        log.exception("enqueue failed for request %s", request_id)
        for job in jobs:
            _end_job(ctx, job, JobStatus.FAILED, f"could not enqueue the job: {e}")
        raise StorageUnavailable(
            f"the job queue is unavailable ({e}); the request was stored as failed"
        ) from e
    log.info("accepted request %s with %d jobs", request_id, len(jobs))
    return view(ctx, request, jobs)


def submit_single(
    ctx: Context, provider_id: str, benchmark_id: str, body: SingleBenchmarkEvaluation
) -> EvaluationResponse:
    """The simplified API: one benchmark of one provider, run by that provider's backend."""
    provider = ctx.catalog.provider(provider_id)
    bench = ctx.catalog.benchmark(provider_id, benchmark_id)
    backend_type = next((t for t, p in PROVIDER_OF_BACKEND.items() if p == provider.provider_id), None)
    if backend_type is None:  # pragma: no cover - every catalog provider has a backend
        raise NotFound(f"Provider '{provider_id}' has no backend that can run it")
    config = {
        k: v for k, v in {"limit": body.limit, "num_fewshot": body.num_fewshot}.items() if v is not None
    }
    spec = EvaluationSpec(
        name=f"{bench.name} ({provider_id})",
        model_name=body.model_name,
        model_configuration=body.model_configuration,
        backends=[
            BackendSpec(
                name=backend_type.value,
                type=backend_type,
                config=body.backend_config,
                benchmarks=[{"name": bench.benchmark_id, "tasks": [bench.benchmark_id], "config": config}],
            )
        ],
        timeout_minutes=body.timeout_minutes,
        retry_attempts=body.retry_attempts,
    )
    request = EvaluationRequestCreate(
        request_id=body.request_id,
        experiment_name=body.experiment_name or f"{bench.name} - {body.model_name}",
        evaluations=[spec],
        tags=body.tags,
    )
    return submit(ctx, request)


def _same_or_conflict(ctx: Context, existing: RequestRecord, body_hash: str) -> EvaluationResponse:
    if existing.body_hash != body_hash:
        raise AlreadyExists(
            f"request_id '{existing.request_id}' is already used by a different request; "
            "use a new request_id, or resend the identical body to get the stored request"
        )
    return view(ctx, existing, ctx.store.list_jobs(existing.request_id))


def get(ctx: Context, request_id: str) -> EvaluationResponse:
    request = ctx.store.get_request(request_id)
    if request is None:
        raise NotFound(f"Evaluation request '{request_id}' not found")
    return view(ctx, request, ctx.store.list_jobs(request_id))


def list_requests(
    ctx: Context, status: RequestStatus | None, limit: int, page_token: str | None
) -> tuple[list[EvaluationResponse], str | None]:
    page = ctx.store.list_requests(status=status, limit=limit, page_token=page_token)
    return [view(ctx, r, ctx.store.list_jobs(r.request_id)) for r in page.items], page.next_token


def cancel(ctx: Context, request_id: str) -> CancelResponse:
    """Cancel every job that has not ended and stop its runner; 409 if the request already ended."""
    request = ctx.store.get_request(request_id)
    if request is None:
        raise NotFound(f"Evaluation request '{request_id}' not found")
    if request.status.ended:
        raise Conflict(
            f"Evaluation request '{request_id}' already ended ({request.status.value}); nothing to cancel"
        )
    cancelled, to_stop = 0, []
    for job in ctx.store.list_jobs(request_id):
        if job.status in ENDED_JOB_STATES:
            continue
        try:
            ended = _end_job(ctx, job, JobStatus.CANCELLED, "cancelled by the user")
        except TransitionRejected:
            continue  # it ended on its own meanwhile
        cancelled += 1
        if ended.launch_handle:
            to_stop.append(JobMessage(request_id=request_id, job_id=job.job_id, stop=ended.launch_handle))
    _stop_runners(ctx, to_stop)
    return CancelResponse(
        message=f"Evaluation request '{request_id}' cancelled ({cancelled} job(s) stopped)",
        request_id=request_id,
        cancelled_jobs=cancelled,
    )


def _stop_runners(ctx: Context, stops: list[JobMessage]) -> None:
    """Stop the runners of cancelled jobs here when this process can (local mode, the dispatcher);
    else (the API Lambda knows no cluster) ask the dispatcher through the queue. Either way a runner
    also sees the cancellation at its next heartbeat and exits."""
    if not stops:
        return
    try:
        launcher = ctx.launcher
    except ValueError:
        ctx.queue.send(stops)
        return
    for stop in stops:
        assert stop.stop is not None
        try:
            launcher.stop(stop.stop, f"evaluation {stop.request_id} cancelled")
        except Exception:  # the job is cancelled either way
            log.exception("could not stop runner %s of job %s", stop.stop, stop.job_id)


def _end_job(ctx: Context, job: JobRecord, to: JobStatus, reason: str) -> JobRecord:
    expected = [s for s in JobStatus if s not in ENDED_JOB_STATES]
    return ctx.store.transition_job(
        job.request_id,
        job.job_id,
        expected=expected,
        to=to,
        changes={"error_message": reason, "finished_at": utcnow()},
        rollup=rollup,
    )


@dataclass(frozen=True)
class Artifact:
    """Where to read one of a job's artifacts: a link to hand out (presigned S3 URL), or the bytes."""

    name: str
    link: str | None
    content: bytes | None


def artifact(ctx: Context, request_id: str, job_id: str, name: str) -> Artifact:
    job = ctx.store.get_job(request_id, job_id)
    if job is None:
        raise NotFound(f"Job '{job_id}' of evaluation '{request_id}' not found")
    uri = job.artifacts.get(name)
    if uri is None:
        known = ", ".join(sorted(job.artifacts)) or "none yet"
        raise NotFound(f"Job '{job_id}' has no artifact '{name}'; it has: {known}")
    # The runner writes every artifact directly under results/<request_id>/<job_id>/.
    key = f"results/{request_id}/{job_id}/{uri.rsplit('/', 1)[-1]}"
    link = ctx.blobs.link(key)
    if link.startswith(("http://", "https://")):
        return Artifact(name, link, None)
    return Artifact(name, None, ctx.blobs.get(key))


def experiment_url(ctx: Context, request_id: str) -> str:
    base = (ctx.settings.public_url or "").rstrip("/")
    return f"{base}/api/v1/evaluations/{request_id}"


def view(ctx: Context, request: RequestRecord, jobs: list[JobRecord]) -> EvaluationResponse:
    """The API's picture of a request: counters, progress, per-job results and aggregated metrics."""
    counts: dict[JobStatus, int] = defaultdict(int)
    for job in jobs:
        counts[job.status] += 1
    errors = [
        f"{j.benchmark_name}: {j.error_message}"
        for j in jobs
        if j.status == JobStatus.FAILED and j.error_message
    ]
    return EvaluationResponse(
        request_id=request.request_id,
        status=request.status,
        experiment_name=request.experiment_name,
        experiment_url=experiment_url(ctx, request.request_id),
        total_evaluations=len(jobs),
        completed_evaluations=counts[JobStatus.COMPLETED],
        failed_evaluations=counts[JobStatus.FAILED],
        cancelled_evaluations=counts[JobStatus.CANCELLED],
        running_evaluations=counts[JobStatus.RUNNING] + counts[JobStatus.DISPATCHED],
        progress_percentage=progress(jobs),
        results=[_result(job) for job in jobs],
        aggregated_metrics=_aggregate(jobs),
        created_at=request.created_at,
        updated_at=max([request.updated_at, *(j.updated_at for j in jobs)]),
        tags=request.tags,
        error_message="; ".join(errors) or None,
    )


def _result(job: JobRecord) -> JobResult:
    duration = (
        (job.finished_at - job.started_at).total_seconds() if job.finished_at and job.started_at else None
    )
    return JobResult(
        job_id=job.job_id,
        evaluation_name=job.evaluation_name,
        model_name=job.model_name,
        backend_name=job.backend_name,
        backend_type=BackendType(job.backend_type),
        provider_id=job.provider_id,
        benchmark_name=job.benchmark_name,
        tasks=job.tasks,
        status=job.status,
        progress_percentage=100.0 if job.status == JobStatus.COMPLETED else round(100 * job.progress, 2),
        metrics=job.metrics,
        artifacts=job.artifacts,
        error_message=job.error_message,  # set on failure, cancellation, or a failed attempt being retried
        attempts=job.attempts,
        max_attempts=job.max_attempts,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        duration_seconds=duration,
    )


def _aggregate(jobs: list[JobRecord]) -> dict[str, float]:
    """Mean of each metric over the completed jobs that report it."""
    values: dict[str, list[float]] = defaultdict(list)
    for job in jobs:
        if job.status == JobStatus.COMPLETED:
            for name, value in job.metrics.items():
                values[name].append(value)
    return {name: sum(v) / len(v) for name, v in sorted(values.items())}


__all__ = [
    "Artifact",
    "EvalHubError",
    "artifact",
    "cancel",
    "get",
    "list_requests",
    "submit",
    "submit_single",
    "view",
]
