"""Enums and small types shared by the API schemas and the stored records."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum


def utcnow() -> datetime:
    return datetime.now(UTC)


class BackendType(StrEnum):
    LM_EVAL = "lm-evaluation-harness"
    NEMO = "nemo-evaluator"


class ModelType(StrEnum):
    OPENAI = "openai"
    OPENAI_COMPATIBLE = "openai-compatible"
    VLLM = "vllm"
    OLLAMA = "ollama"
    HUGGINGFACE = "huggingface"


# Model types reached over an OpenAI-style HTTP API; they need a base_url (openai has a default).
API_MODEL_TYPES = frozenset({ModelType.OPENAI, ModelType.OPENAI_COMPATIBLE, ModelType.VLLM, ModelType.OLLAMA})


class ModelStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    TESTING = "testing"


class RiskCategory(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class JobStatus(StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    DISPATCHED = "dispatched"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def ended(self) -> bool:
        return self in ENDED_JOB_STATES


ENDED_JOB_STATES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})
ACTIVE_JOB_STATES = frozenset({JobStatus.DISPATCHED, JobStatus.RUNNING})

# Legal job transitions; every store enforces them with a conditional write.
# failed -> queued is a retry and is only taken while attempts remain (services decide that).
JOB_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.PENDING: frozenset({JobStatus.QUEUED, JobStatus.CANCELLED, JobStatus.FAILED}),
    JobStatus.QUEUED: frozenset({JobStatus.DISPATCHED, JobStatus.CANCELLED, JobStatus.FAILED}),
    JobStatus.DISPATCHED: frozenset(
        {JobStatus.RUNNING, JobStatus.QUEUED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.COMPLETED}
    ),
    # running -> queued is a retry decided atomically with the failure (attempts remained).
    JobStatus.RUNNING: frozenset(
        {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.QUEUED}
    ),
    JobStatus.FAILED: frozenset({JobStatus.QUEUED}),
    JobStatus.COMPLETED: frozenset(),
    JobStatus.CANCELLED: frozenset(),
}


def sources_of(target: JobStatus) -> frozenset[JobStatus]:
    """Every state a job may move to ``target`` from."""
    return frozenset(src for src, dsts in JOB_TRANSITIONS.items() if target in dsts)


class RequestStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def ended(self) -> bool:
        return self in (RequestStatus.COMPLETED, RequestStatus.FAILED, RequestStatus.CANCELLED)
