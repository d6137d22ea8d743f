"""What the stores keep: evaluation requests and their jobs (versioned, documented)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .common import BackendType, JobStatus, RequestStatus

RECORD_VERSION = 1


class RequestRecord(BaseModel):
    """An accepted evaluation request. Its status rolls up from its jobs (see services.rollup)."""

    model_config = ConfigDict(extra="ignore")

    request_id: str
    experiment_name: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    status: RequestStatus = RequestStatus.PENDING
    body: dict[str, Any]
    """The request as the client sent it (after validation), for idempotent resubmission."""
    body_hash: str
    """sha256 of the canonical body; a reused request_id with another hash is a conflict."""
    total_jobs: int
    created_at: datetime
    updated_at: datetime
    version: int = 0
    """Bumped on every write; writers that can race condition on it."""


class JobRecord(BaseModel):
    """One unit of execution: one benchmark (its tasks) of one backend of one evaluation."""

    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    schema_version: int = RECORD_VERSION
    job_id: str
    request_id: str
    index: int
    """Position in the request (0-based); results are listed in this order."""
    evaluation_name: str
    model_name: str
    model_configuration: dict[str, Any] = Field(default_factory=dict)
    backend_name: str
    backend_type: BackendType
    backend_config: dict[str, Any] = Field(default_factory=dict)
    provider_id: str | None = None
    benchmark_name: str
    tasks: list[str]
    benchmark_config: dict[str, Any] = Field(default_factory=dict)
    """limit, num_fewshot and other per-benchmark parameters."""
    custom_task: dict[str, Any] | None = None
    timeout_minutes: float
    """Per attempt, from its launch; fractions allowed (0.5 = 30 s)."""
    max_attempts: int
    """1 + retry_attempts."""

    status: JobStatus = JobStatus.PENDING
    attempts: int = 0
    """Launches so far; incremented when the job is dispatched."""
    progress: float = 0.0
    """0..1, from the runner's heartbeats."""
    launch_handle: str | None = None
    """ECS task ARN, Batch job id or local pid of the current attempt."""
    metrics: dict[str, float] = Field(default_factory=dict)
    artifacts: dict[str, str] = Field(default_factory=dict)
    """Name -> URI (file:// locally, s3:// on AWS) of what the runner wrote."""
    error_message: str | None = None
    created_at: datetime
    updated_at: datetime
    dispatched_at: datetime | None = None
    """When the current attempt was launched; its timeout counts from here."""
    started_at: datetime | None = None
    """When the runner of the current attempt began."""
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None
    version: int = 0
