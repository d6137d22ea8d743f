"""How a request's status and counters follow from its jobs (DESIGN.md, "Job states")."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from ..models import ENDED_JOB_STATES, JobRecord, JobStatus, RequestStatus


def rollup(jobs: Sequence[JobRecord]) -> RequestStatus:
    """``pending`` until a job starts, then ``running``; once every job ended: ``completed`` if one
    completed, ``failed`` if all failed, otherwise ``cancelled``."""
    statuses = Counter(job.status for job in jobs)
    if not jobs:
        return RequestStatus.PENDING
    if all(status in ENDED_JOB_STATES for status in statuses):
        if statuses[JobStatus.COMPLETED]:
            return RequestStatus.COMPLETED
        if statuses[JobStatus.FAILED] == len(jobs):
            return RequestStatus.FAILED
        return RequestStatus.CANCELLED
    started = sum(n for status, n in statuses.items() if status not in (JobStatus.PENDING, JobStatus.QUEUED))
    return RequestStatus.RUNNING if started or any(j.attempts for j in jobs) else RequestStatus.PENDING


def progress(jobs: Sequence[JobRecord]) -> float:
    """Percent done: ended jobs count whole, others by their reported progress."""
    if not jobs:
        return 0.0
    done = sum(1.0 if job.status in ENDED_JOB_STATES else min(max(job.progress, 0.0), 1.0) for job in jobs)
    return round(100.0 * done / len(jobs), 2)
