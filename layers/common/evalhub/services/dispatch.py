"""Dispatch and lifecycle, shared by the local worker and the AWS dispatcher/reaper Lambdas:
launch a queued job once, retry or fail jobs whose runner died, timed out or went silent."""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import timedelta
from enum import StrEnum

from ..context import Context
from ..errors import TransitionRejected
from ..launch import LaunchFailed
from ..models import JobRecord, JobStatus, utcnow
from ..queue import JobMessage
from .rollup import rollup

log = logging.getLogger(__name__)

IN_FLIGHT = (JobStatus.DISPATCHED, JobStatus.RUNNING)


class Outcome(StrEnum):
    LAUNCHED = "launched"
    SKIPPED = "skipped"
    """The job is gone or no longer queued (a duplicate delivery, a cancelled job): drop the message."""
    DEFERRED = "deferred"
    """The concurrency cap is full: put the message back for later."""
    FAILED = "failed"
    STOPPED = "stopped"
    """A cancelled job's runner was told to stop."""


def dispatch(ctx: Context, message: JobMessage) -> Outcome:
    if message.stop is not None:
        return _stop_cancelled(ctx, message, message.stop)
    job = ctx.store.get_job(message.request_id, message.job_id)
    if job is None or job.status != JobStatus.QUEUED:
        return Outcome.SKIPPED
    if len(ctx.store.list_jobs_in(IN_FLIGHT)) >= ctx.settings.max_concurrent_jobs:
        return Outcome.DEFERRED
    now = utcnow()
    try:  # the conditional claim: of two deliveries of one message, only one gets past here
        job = ctx.store.transition_job(
            job.request_id,
            job.job_id,
            expected=[JobStatus.QUEUED],
            to=JobStatus.DISPATCHED,
            changes={
                "attempts": job.attempts + 1,
                "dispatched_at": now,
                "heartbeat_at": now,
                "started_at": None,
                "progress": 0.0,
                "launch_handle": None,
            },
            rollup=rollup,
        )
    except TransitionRejected:
        return Outcome.SKIPPED
    try:
        handle = ctx.launcher.launch(job)
    except LaunchFailed as e:
        fail_or_retry(ctx, job, f"could not start the runner: {e}")
        return Outcome.FAILED
    try:
        ctx.store.update_job(
            job.request_id, job.job_id, expected=IN_FLIGHT, changes={"launch_handle": handle}
        )
    except TransitionRejected:
        current = ctx.store.get_job(job.request_id, job.job_id)
        if current is not None and current.status == JobStatus.CANCELLED:
            ctx.launcher.stop(handle, "job cancelled while it was being launched")
    log.info("launched job %s/%s attempt %d as %s", job.request_id, job.job_id, job.attempts, handle)
    return Outcome.LAUNCHED


def fail_or_retry(ctx: Context, job: JobRecord, reason: str) -> JobRecord | None:
    """End the current attempt of an in-flight job: back to the queue while attempts remain, else
    ``failed`` with ``reason``. None if the job already left flight (it ended some other way)."""
    try:
        if job.attempts < job.max_attempts:
            retried = ctx.store.transition_job(
                job.request_id,
                job.job_id,
                expected=IN_FLIGHT,
                to=JobStatus.QUEUED,
                changes={
                    "error_message": f"attempt {job.attempts} of {job.max_attempts} failed: {reason}",
                    "launch_handle": None,
                    "progress": 0.0,
                },
                rollup=rollup,
            )
            ctx.queue.send([JobMessage(request_id=job.request_id, job_id=job.job_id)])
            log.warning("job %s/%s retried after: %s", job.request_id, job.job_id, reason)
            return retried
    except TransitionRejected:
        return None
    return fail(ctx, job, reason)


def fail(
    ctx: Context, job: JobRecord, reason: str, expected: Collection[JobStatus] = IN_FLIGHT
) -> JobRecord | None:
    """End a job as ``failed`` whatever attempts remain (it ran past its timeout, or its message is
    poison). None if it was not in one of ``expected``."""
    try:
        return ctx.store.transition_job(
            job.request_id,
            job.job_id,
            expected=expected,
            to=JobStatus.FAILED,
            changes={"error_message": reason, "finished_at": utcnow()},
            rollup=rollup,
        )
    except TransitionRejected:
        return None


def reap(ctx: Context) -> int:
    """Fail jobs past their timeout, retry jobs with a stale heartbeat or a runner that is gone.
    Returns how many jobs it acted on."""
    now = utcnow()
    stale_after = timedelta(seconds=ctx.settings.heartbeat_timeout_seconds)
    acted = 0
    for job in ctx.store.list_jobs_in(IN_FLIGHT):
        since = job.dispatched_at or job.updated_at
        if now - since > timedelta(minutes=job.timeout_minutes):
            _stop(ctx, job, "timed out")
            acted += (
                fail(ctx, job, f"timed out: still running after timeout_minutes={job.timeout_minutes:g}")
                is not None
            )
        elif job.heartbeat_at and now - job.heartbeat_at > stale_after:
            _stop(ctx, job, "no heartbeat")
            silent = int((now - job.heartbeat_at).total_seconds())
            acted += (
                fail_or_retry(ctx, job, f"the runner stopped reporting (no heartbeat for {silent} s)")
                is not None
            )
        elif job.launch_handle and ctx.launcher.alive(job.launch_handle) is False:
            current = ctx.store.get_job(job.request_id, job.job_id)  # it may have finished just now
            if current is not None and current.status in IN_FLIGHT and current.version == job.version:
                reason = f"the runner exited without reporting a result ({ctx.launcher.describe_exit(job.launch_handle)})"
                acted += fail_or_retry(ctx, current, reason) is not None
    return acted


def recover(ctx: Context) -> int:
    """After a restart: re-send a message for every queued job (duplicates are skipped by dispatch)."""
    queued = ctx.store.list_jobs_in([JobStatus.QUEUED])
    if queued:
        ctx.queue.send([JobMessage(request_id=j.request_id, job_id=j.job_id) for j in queued])
    return len(queued)


def _stop_cancelled(ctx: Context, message: JobMessage, handle: str) -> Outcome:
    job = ctx.store.get_job(message.request_id, message.job_id)
    if job is None or job.status != JobStatus.CANCELLED:
        return Outcome.SKIPPED  # only a cancellation stops a runner this way
    ctx.launcher.stop(handle, f"evaluation {job.request_id} cancelled")
    return Outcome.STOPPED


def _stop(ctx: Context, job: JobRecord, why: str) -> None:
    if job.launch_handle:
        try:
            ctx.launcher.stop(job.launch_handle, why)
        except Exception:
            log.exception("could not stop runner %s", job.launch_handle)
