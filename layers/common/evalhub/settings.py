"""One settings model, read once from the environment (prefix ``EVALHUB_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where state lives and how jobs run. Local mode needs nothing set; AWS mode names its resources."""

    model_config = SettingsConfigDict(env_prefix="EVALHUB_", env_ignore_empty=True, extra="ignore")

    mode: Literal["local", "aws"] = "local"
    home: Path = Field(default_factory=lambda: Path.home() / ".evalhub")
    public_url: str | None = None
    """Base URL people use to reach the API; experiment URLs are built from it. When unset, the API
    takes it from the first request it serves (behind API Gateway, the stage's URL)."""

    # AWS mode resources (required when mode == "aws").
    table_name: str | None = None
    queue_url: str | None = None
    results_bucket: str | None = None
    launcher: Literal["process", "ecs", "batch"] = "process"
    """Where GPU jobs go on AWS (ECS on the GPU capacity provider, or AWS Batch); CPU jobs use Fargate."""
    ecs_cluster: str | None = None
    ecs_cpu_task_definition: str | None = None
    ecs_gpu_task_definition: str | None = None
    ecs_gpu_capacity_provider: str | None = None
    subnets: str = ""
    """Comma-separated subnet ids for Fargate tasks."""
    security_groups: str = ""
    """Comma-separated security group ids for Fargate tasks."""
    batch_job_queue: str | None = None
    batch_job_definition: str | None = None
    runner_container_name: str = "runner"

    # Execution.
    max_concurrent_jobs: int = Field(default=2, ge=1)
    heartbeat_timeout_seconds: int = Field(default=300, ge=5)
    heartbeat_interval_seconds: float = Field(default=1.0, gt=0)
    worker_poll_seconds: float = Field(default=0.5, gt=0)
    max_jobs_per_request: int = Field(default=500, ge=1)
    warm_runner: bool = True
    """Local launcher: keep one runner started ahead with lm-eval imported (a job then starts in
    milliseconds, not ~1.5 s); it costs one idle process (~250 MB)."""

    # Models that are named but neither registered nor runtime go to this OpenAI-compatible endpoint.
    default_model_base_url: str = "https://api.openai.com/v1"
    default_model_api_key_env: str = "OPENAI_API_KEY"

    @model_validator(mode="after")
    def _aws_needs_resources(self) -> Settings:
        if self.mode == "aws":
            missing = [
                f"EVALHUB_{name.upper()}"
                for name in ("table_name", "queue_url", "results_bucket")
                if not getattr(self, name)
            ]
            if missing:
                raise ValueError(f"EVALHUB_MODE=aws needs {', '.join(missing)} to be set")
        return self

    @property
    def db_path(self) -> Path:
        return self.home / "evalhub.sqlite3"

    @property
    def results_dir(self) -> Path:
        return self.home / "results"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
