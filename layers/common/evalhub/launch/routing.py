"""Which jobs need a GPU, a launcher that sends each job to the right platform, and the factory of the
AWS launcher from settings.

Only lm-evaluation-harness jobs whose backend runs the model on ``cuda`` need a GPU. Jobs of API
models (OpenAI-compatible endpoints) and NeMo Evaluator jobs only make HTTP calls: they run on
Fargate CPU.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from ..models import BackendType, JobRecord
from .base import Launcher

if TYPE_CHECKING:
    from ..settings import Settings

log = logging.getLogger(__name__)


def needs_gpu(job: JobRecord) -> bool:
    device = str(job.backend_config.get("device", ""))
    return job.backend_type == BackendType.LM_EVAL and device.startswith("cuda")


class PrefixedLauncher(Launcher, Protocol):
    """A launcher whose handles all start with ``prefix`` (``ecs:``, ``batch:``)."""

    @property
    def prefix(self) -> str: ...


class RoutingLauncher:
    """CPU jobs to ``cpu``, GPU jobs to ``gpu``; each handle back to the launcher whose prefix it has."""

    def __init__(self, cpu: PrefixedLauncher, gpu: PrefixedLauncher) -> None:
        self.cpu = cpu
        self.gpu = gpu

    def launch(self, job: JobRecord) -> str:
        return (self.gpu if needs_gpu(job) else self.cpu).launch(job)

    def stop(self, handle: str, reason: str) -> None:
        owner = self._owner(handle)
        if owner is None:
            log.warning("not stopping %s: no launcher owns handles like it", handle)
            return
        owner.stop(handle, reason)

    def alive(self, handle: str) -> bool | None:
        owner = self._owner(handle)
        return None if owner is None else owner.alive(handle)

    def close(self) -> None:
        self.cpu.close()
        self.gpu.close()

    def describe_exit(self, handle: str) -> str:
        owner = self._owner(handle)
        return f"unknown runner {handle}" if owner is None else owner.describe_exit(handle)

    def _owner(self, handle: str) -> PrefixedLauncher | None:
        # A handle from another launcher (a pid from local mode, a setting changed since): nobody's.
        return next((x for x in (self.cpu, self.gpu) if handle.startswith(x.prefix)), None)


def build_aws_launcher(settings: Settings) -> Launcher:
    """CPU jobs on ECS Fargate always; GPU jobs on the ECS GPU capacity provider (``launcher=ecs``) or
    AWS Batch (``launcher=batch``). ``ValueError`` naming every missing ``EVALHUB_*`` setting."""
    from .batch import BatchLauncher
    from .ecs import EcsLauncher

    gpu_settings = {
        "ecs": ("ecs_gpu_task_definition", "ecs_gpu_capacity_provider"),
        "batch": ("batch_job_queue", "batch_job_definition"),
    }
    if settings.launcher not in gpu_settings:
        raise ValueError(f"EVALHUB_LAUNCHER must be 'ecs' or 'batch' on AWS, not '{settings.launcher}'")
    names = ("ecs_cluster", "ecs_cpu_task_definition", "subnets", "security_groups")
    values = {n: str(getattr(settings, n) or "") for n in (*names, *gpu_settings[settings.launcher])}
    missing = [f"EVALHUB_{n.upper()}" for n, v in values.items() if not _split(v)]
    if missing:
        raise ValueError(f"EVALHUB_LAUNCHER={settings.launcher} needs {', '.join(missing)} to be set")

    ecs = EcsLauncher(
        cluster=values["ecs_cluster"],
        cpu_task_definition=values["ecs_cpu_task_definition"],
        gpu_task_definition=values.get("ecs_gpu_task_definition"),
        gpu_capacity_provider=values.get("ecs_gpu_capacity_provider"),
        subnets=_split(values["subnets"]),
        security_groups=_split(values["security_groups"]),
        container_name=settings.runner_container_name,
    )
    if settings.launcher == "ecs":
        return ecs  # it sends GPU jobs to the capacity provider itself
    return RoutingLauncher(
        cpu=ecs, gpu=BatchLauncher(values["batch_job_queue"], values["batch_job_definition"])
    )


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]
