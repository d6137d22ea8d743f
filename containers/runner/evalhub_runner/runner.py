"""Run one job: claim it, resolve the model, run the backend while heartbeating, store the results."""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from evalhub.context import Context
from evalhub.errors import TransitionRejected
from evalhub.models import BackendType, JobRecord, JobStatus, utcnow
from evalhub.services.dispatch import fail, fail_or_retry
from evalhub.services.rollup import rollup

from .backends.base import Backend, BackendError, BackendResult
from .models import resolve

log = logging.getLogger("evalhub_runner")

RESULT_SCHEMA_VERSION = 1


def backend_for(kind: BackendType) -> Backend:
    if kind == BackendType.LM_EVAL:
        from .backends.lm_eval import LmEvalBackend

        return LmEvalBackend()
    from .backends.nemo import NemoBackend

    return NemoBackend()


class Heartbeat(threading.Thread):
    """Writes progress and a heartbeat every interval; ends the process if the job left ``running``
    (cancelled by the user, or failed by the reaper) so no work continues for a job nobody wants."""

    def __init__(self, ctx: Context, job: JobRecord) -> None:
        super().__init__(daemon=True, name="heartbeat")
        self.ctx, self.job = ctx, job
        self.progress = 0.0
        self.done = threading.Event()

    def report(self, fraction: float) -> None:
        self.progress = max(self.progress, min(fraction, 1.0))

    def beat(self) -> None:
        try:
            self.ctx.store.update_job(
                self.job.request_id,
                self.job.job_id,
                expected=[JobStatus.RUNNING],
                changes={"progress": self.progress, "heartbeat_at": utcnow()},
            )
        except TransitionRejected:
            current = self.ctx.store.get_job(self.job.request_id, self.job.job_id)
            state = current.status.value if current else "gone"
            log.warning("job is %s; stopping this runner", state)
            os._exit(0)

    def run(self) -> None:
        while not self.done.wait(self.ctx.settings.heartbeat_interval_seconds):
            try:
                self.beat()
            except Exception:  # a store hiccup must not kill the evaluation; the next beat retries
                log.exception("heartbeat failed")


def run_job(ctx: Context, request_id: str, job_id: str) -> JobStatus | None:
    """Run the job if it is waiting for this runner; return its final status (None if not ours)."""
    try:
        job = ctx.store.transition_job(
            request_id,
            job_id,
            expected=[JobStatus.DISPATCHED],
            to=JobStatus.RUNNING,
            changes={"started_at": utcnow(), "heartbeat_at": utcnow()},
            rollup=rollup,
        )
    except TransitionRejected as e:
        log.warning("not running job %s/%s: %s", request_id, job_id, e.detail)
        return None

    heartbeat = Heartbeat(ctx, job)
    heartbeat.start()
    try:
        model = resolve(ctx, job)
        job = job.model_copy(
            update={"model_configuration": {**model.generation_defaults, **job.model_configuration}}
        )
        with TemporaryDirectory(prefix=f"evalhub-{job_id}-") as workdir:
            result = backend_for(job.backend_type).run(job, model, heartbeat.report, Path(workdir))
        artifacts = write_results(ctx, job, result, model_name=model.name)
    except BackendError as e:
        heartbeat.done.set()
        log.error("job %s/%s failed: %s", request_id, job_id, e)
        ended = fail(ctx, job, str(e)) if e.permanent else fail_or_retry(ctx, job, str(e))
        return ended.status if ended else None
    except Exception as e:
        heartbeat.done.set()
        log.exception("job %s/%s crashed", request_id, job_id)
        ended = fail_or_retry(ctx, job, f"internal error in the runner: {type(e).__name__}: {e}")
        return ended.status if ended else None
    heartbeat.done.set()
    try:
        ctx.store.transition_job(
            request_id,
            job_id,
            expected=[JobStatus.RUNNING],
            to=JobStatus.COMPLETED,
            changes={
                "metrics": result.metrics,
                "artifacts": artifacts,
                "progress": 1.0,
                "finished_at": utcnow(),
            },
            rollup=rollup,
        )
    except TransitionRejected as e:  # cancelled or reaped while finishing: keep what they decided
        log.warning("results of %s/%s not recorded as completed: %s", request_id, job_id, e.detail)
        return None
    return JobStatus.COMPLETED


def write_results(ctx: Context, job: JobRecord, result: BackendResult, model_name: str) -> dict[str, str]:
    """Everything the backend produced, under results/<request_id>/<job_id>/; returns name -> URI."""
    prefix = f"results/{job.request_id}/{job.job_id}"
    artifacts: dict[str, str] = {}
    summary: dict[str, Any] = {
        "schema_version": RESULT_SCHEMA_VERSION,
        "request_id": job.request_id,
        "job_id": job.job_id,
        "attempt": job.attempts,
        "model_name": job.model_name,
        "endpoint_model": model_name,
        "backend_type": job.backend_type,
        "backend_config": job.backend_config,
        "benchmark_name": job.benchmark_name,
        "tasks": job.tasks,
        "benchmark_config": job.benchmark_config,
        "model_configuration": job.model_configuration,
        "metrics": result.metrics,
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": utcnow().isoformat(),
    }
    artifacts["summary"] = ctx.blobs.put(f"{prefix}/summary.json", _json(summary))
    for name, document in result.documents.items():
        artifacts[name] = ctx.blobs.put(f"{prefix}/{name}.json", _json(document))
    for task, lines in result.samples.items():
        body = "".join(json.dumps(line, default=str) + "\n" for line in lines).encode()
        artifacts[f"samples/{task}"] = ctx.blobs.put(
            f"{prefix}/samples_{task}.jsonl", body, content_type="application/x-ndjson"
        )
    return artifacts


def _json(document: Any) -> bytes:
    return json.dumps(document, indent=2, default=str).encode()
