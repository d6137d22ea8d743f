"""A request's status follows from its jobs as DESIGN.md states."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from evalhub.models import JobRecord, JobStatus, RequestStatus
from evalhub.services.rollup import progress, rollup

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def job(status: JobStatus, progress: float = 0.0, attempts: int = 0) -> JobRecord:
    return JobRecord(
        job_id="j",
        request_id="r",
        index=0,
        evaluation_name="e",
        model_name="m",
        backend_name="b",
        backend_type="lm-evaluation-harness",
        benchmark_name="x",
        tasks=["x"],
        timeout_minutes=1,
        max_attempts=1,
        status=status,
        progress=progress,
        attempts=attempts,
        created_at=NOW,
        updated_at=NOW,
    )


S = JobStatus


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([S.QUEUED, S.QUEUED], RequestStatus.PENDING),
        ([S.QUEUED, S.DISPATCHED], RequestStatus.RUNNING),
        ([S.COMPLETED, S.QUEUED], RequestStatus.RUNNING),
        ([S.COMPLETED, S.FAILED], RequestStatus.COMPLETED),
        ([S.FAILED, S.FAILED], RequestStatus.FAILED),
        ([S.FAILED, S.CANCELLED], RequestStatus.CANCELLED),
        ([S.CANCELLED], RequestStatus.CANCELLED),
        ([S.COMPLETED, S.CANCELLED], RequestStatus.COMPLETED),
    ],
)
def test_rollup(statuses: list[JobStatus], expected: RequestStatus) -> None:
    assert rollup([job(s) for s in statuses]) == expected


def test_a_retried_job_keeps_the_request_running() -> None:
    assert rollup([job(S.QUEUED, attempts=1)]) == RequestStatus.RUNNING


def test_progress_counts_ended_jobs_whole_and_running_ones_by_their_share() -> None:
    assert progress([job(S.COMPLETED), job(S.RUNNING, 0.5), job(S.QUEUED), job(S.FAILED)]) == 62.5
    assert progress([]) == 0.0
