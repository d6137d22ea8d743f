"""Health and system metrics."""

from __future__ import annotations

import os
import time

import psutil

from .. import __version__
from ..context import Context
from ..errors import StorageUnavailable
from ..models import ComponentHealth, Health, JobStatus, MemoryUsage, RequestStatus, SystemMetrics, utcnow

MB = 1024 * 1024


def health(ctx: Context, extra: dict[str, ComponentHealth] | None = None) -> Health:
    components: dict[str, ComponentHealth] = {}
    try:
        ctx.store.ping()
        components["storage"] = ComponentHealth(status="healthy", detail=type(ctx.store).__name__)
    except StorageUnavailable as e:
        components["storage"] = ComponentHealth(status="unhealthy", detail=e.detail)
    try:
        components["queue"] = ComponentHealth(
            status="healthy", detail=f"{ctx.queue.depth()} message(s) waiting"
        )
    except Exception as e:
        components["queue"] = ComponentHealth(status="unhealthy", detail=str(e))
    components["catalog"] = ComponentHealth(
        status="healthy", detail=f"{sum(p.benchmark_count for p in ctx.catalog.providers())} benchmarks"
    )
    components.update(extra or {})
    healthy = all(c.status == "healthy" for c in components.values())
    return Health(
        status="healthy" if healthy else "degraded",
        version=__version__,
        uptime_seconds=time.time() - ctx.started_at,
        timestamp=utcnow(),
        mode=ctx.settings.mode,
        components=components,
    )


def metrics(ctx: Context) -> SystemMetrics:
    by_status = ctx.store.count_requests()
    active_jobs = ctx.store.list_jobs_in([JobStatus.QUEUED, JobStatus.DISPATCHED, JobStatus.RUNNING])
    job_counts = {s.value: sum(1 for j in active_jobs if j.status == s) for s in JobStatus}
    return SystemMetrics(
        active_evaluations=by_status.get(RequestStatus.PENDING, 0) + by_status.get(RequestStatus.RUNNING, 0),
        running_tasks=job_counts[JobStatus.RUNNING] + job_counts[JobStatus.DISPATCHED],
        queued_tasks=job_counts[JobStatus.QUEUED],
        total_requests=sum(by_status.values()),
        status_breakdown={s.value: by_status.get(s, 0) for s in RequestStatus},
        job_status_breakdown={k: v for k, v in job_counts.items() if v},
        memory_usage=MemoryUsage(
            process_rss_mb=psutil.Process(os.getpid()).memory_info().rss / MB,
            active_evaluations_mb=_runner_rss_mb(
                ctx, [j.launch_handle for j in active_jobs if j.launch_handle]
            ),
        ),
        uptime_seconds=time.time() - ctx.started_at,
    )


def _runner_rss_mb(ctx: Context, handles: list[str]) -> float:
    """Resident memory of local runner processes (their handles are pids); 0 where runners are remote."""
    if ctx.settings.launcher != "process":
        return 0.0
    total = 0
    for handle in handles:
        try:
            total += psutil.Process(int(handle)).memory_info().rss
        except (ValueError, psutil.Error):
            continue
    return total / MB
