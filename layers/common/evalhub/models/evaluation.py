"""Evaluation request and response schemas (the bodies of /evaluations)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .common import BackendType, JobStatus, RequestStatus, RiskCategory

MAX_EVALUATIONS_PER_REQUEST = 100
Tags = dict[str, str]


def _check_request_id(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError("request_id must be a UUID, e.g. str(uuid4())") from None


class ModelConfiguration(BaseModel):
    """Generation settings for this evaluation; unknown keys pass through as generation kwargs."""

    model_config = ConfigDict(extra="allow")

    temperature: float | None = Field(default=None, ge=0)
    max_tokens: int | None = Field(default=None, gt=0)
    top_p: float | None = Field(default=None, gt=0, le=1)


class CustomTask(BaseModel):
    """A user's own lm-eval task: a task YAML (with local ``data_files``) or a folder of them."""

    model_config = ConfigDict(extra="forbid")

    yaml: str | None = Field(default=None, max_length=64_000)
    """The task YAML itself; its ``task`` name must be among the benchmark's ``tasks``."""
    include_path: str | None = Field(default=None, max_length=4096)
    """A directory of task YAMLs readable by the runner."""

    @model_validator(mode="after")
    def _one_source(self) -> CustomTask:
        if not self.yaml and not self.include_path:
            raise ValueError("custom_task needs 'yaml' or 'include_path'")
        return self


class BenchmarkConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    limit: int | None = Field(default=None, gt=0)
    num_fewshot: int | None = Field(default=None, ge=0)
    batch_size: int | None = Field(default=None, gt=0)


class BenchmarkSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=256)
    tasks: list[str] = Field(min_length=1, max_length=64)
    provider_id: str | None = None
    config: BenchmarkConfig = Field(default_factory=BenchmarkConfig)
    custom_task: CustomTask | None = None

    @field_validator("tasks")
    @classmethod
    def _nonempty_tasks(cls, tasks: list[str]) -> list[str]:
        if any(not t.strip() for t in tasks):
            raise ValueError("task names must not be empty")
        return [t.strip() for t in tasks]


class LmEvalBackendConfig(BaseModel):
    """Settings of an lm-evaluation-harness backend."""

    model_config = ConfigDict(extra="allow")

    batch_size: int | str | None = None
    device: str | None = None
    parallelism: int = Field(default=8, ge=1, le=256)
    """Concurrent requests to an API model (lm-eval's num_concurrent)."""
    tokenizer: str | None = None
    tokenizer_backend: Literal["remote", "huggingface", "tiktoken", "none"] | None = None
    max_retries: int = Field(default=3, ge=0)
    timeout_seconds: float = Field(default=300, gt=0)
    seed: int = 1234
    log_samples: bool = True


class NemoBackendConfig(BaseModel):
    """Settings of a NeMo Evaluator backend (a service at endpoint:port)."""

    model_config = ConfigDict(extra="allow")

    endpoint: str = Field(min_length=1)
    port: int = Field(default=3825, ge=1, le=65535)
    model_endpoint: str | None = None
    endpoint_type: Literal["chat", "completions"] = "chat"
    api_key_env: str | None = None
    timeout_seconds: float = Field(default=3600, gt=0)
    max_retries: int = Field(default=2, ge=0)
    verify_ssl: bool = True
    framework_name: str | None = None
    parallelism: int = Field(default=1, ge=1, le=256)
    limit_samples: int | None = Field(default=None, gt=0)
    temperature: float | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, gt=0, le=1)


class BackendSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=256)
    type: BackendType
    config: dict[str, Any] = Field(default_factory=dict)
    benchmarks: list[BenchmarkSpec] = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _typed_config(self) -> BackendSpec:
        # Validate against the type's schema, keep the normalised dict (with defaults) for storage.
        schema = LmEvalBackendConfig if self.type == BackendType.LM_EVAL else NemoBackendConfig
        self.config = schema.model_validate(self.config).model_dump(mode="json")
        return self


class EvaluationSpec(BaseModel):
    """One model evaluated on benchmarks: explicit backends, a risk category, or a collection."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    name: str = Field(min_length=1, max_length=256)
    description: str | None = Field(default=None, max_length=4096)
    model_name: str = Field(min_length=1, max_length=256)
    model_configuration: ModelConfiguration = Field(default_factory=ModelConfiguration)
    backends: list[BackendSpec] = Field(default_factory=list, max_length=20)
    risk_category: RiskCategory | None = None
    collection_id: str | None = Field(default=None, min_length=1)
    timeout_minutes: float = Field(default=60, gt=0, le=7 * 24 * 60)
    retry_attempts: int = Field(default=0, ge=0, le=10)

    @field_validator("name", "model_name")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @model_validator(mode="after")
    def _has_work(self) -> EvaluationSpec:
        if not self.backends and self.risk_category is None and self.collection_id is None:
            raise ValueError("give at least one backend, a risk_category or a collection_id")
        return self


class EvaluationRequestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: str | None = None
    experiment_name: str | None = Field(default=None, max_length=512)
    evaluations: list[EvaluationSpec] = Field(min_length=1, max_length=MAX_EVALUATIONS_PER_REQUEST)
    tags: Tags = Field(default_factory=dict)

    _rid = field_validator("request_id")(classmethod(lambda cls, v: _check_request_id(v)))


class SingleBenchmarkEvaluation(BaseModel):
    """Body of POST /evaluations/benchmarks/{provider_id}/{benchmark_id}."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    request_id: str | None = None
    model_name: str = Field(min_length=1, max_length=256)
    model_configuration: ModelConfiguration = Field(default_factory=ModelConfiguration)
    backend_config: dict[str, Any] = Field(default_factory=dict)
    timeout_minutes: float = Field(default=60, gt=0, le=7 * 24 * 60)
    retry_attempts: int = Field(default=0, ge=0, le=10)
    limit: int | None = Field(default=None, gt=0)
    num_fewshot: int | None = Field(default=None, ge=0)
    experiment_name: str | None = Field(default=None, max_length=512)
    tags: Tags = Field(default_factory=dict)

    _rid = field_validator("request_id")(classmethod(lambda cls, v: _check_request_id(v)))


class JobResult(BaseModel):
    """One job of a request: a benchmark run by one backend for one evaluation."""

    job_id: str
    evaluation_name: str
    model_name: str
    backend_name: str
    backend_type: BackendType
    provider_id: str | None
    benchmark_name: str
    tasks: list[str]
    status: JobStatus
    progress_percentage: float
    metrics: dict[str, float] = Field(default_factory=dict)
    artifacts: dict[str, str] = Field(default_factory=dict)
    error_message: str | None = None
    attempts: int
    max_attempts: int
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_seconds: float | None = None


class EvaluationResponse(BaseModel):
    request_id: str
    status: RequestStatus
    experiment_name: str | None = None
    experiment_url: str | None = None
    total_evaluations: int
    completed_evaluations: int
    failed_evaluations: int
    cancelled_evaluations: int = 0
    running_evaluations: int = 0
    progress_percentage: float
    results: list[JobResult] = Field(default_factory=list)
    aggregated_metrics: dict[str, float] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime
    tags: Tags = Field(default_factory=dict)
    error_message: str | None = None


class CancelResponse(BaseModel):
    message: str
    request_id: str
    cancelled_jobs: int
