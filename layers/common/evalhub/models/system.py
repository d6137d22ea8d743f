"""Health and system metrics schemas."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ComponentHealth(BaseModel):
    status: str
    detail: str | None = None


class Health(BaseModel):
    status: str
    version: str
    uptime_seconds: float
    timestamp: datetime
    mode: str
    components: dict[str, ComponentHealth] = Field(default_factory=dict)


class MemoryUsage(BaseModel):
    process_rss_mb: float
    active_evaluations_mb: float
    """Resident memory of the runner processes of active jobs (local mode; 0 on AWS)."""


class SystemMetrics(BaseModel):
    active_evaluations: int
    running_tasks: int
    queued_tasks: int
    total_requests: int
    status_breakdown: dict[str, int]
    job_status_breakdown: dict[str, int]
    memory_usage: MemoryUsage
    uptime_seconds: float
