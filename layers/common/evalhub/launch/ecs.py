"""ECS launcher: CPU jobs as Fargate tasks, GPU jobs on the cluster's EC2 GPU capacity provider.

Handles are ``ecs:<task ARN>``. Both task definitions use ``awsvpc`` networking, so every task gets
the configured subnets and security groups (no public IP: runners reach AWS and model endpoints
through the VPC's NAT or endpoints).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..awsclient import LazyClient
from ..models import JobRecord
from ._aws import idempotency_token, job_tags, runner_environment, vendor_errors
from .base import LaunchFailed
from .routing import needs_gpu

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_ecs.type_defs import FailureTypeDef, RunTaskRequestTypeDef, TaskTypeDef

log = logging.getLogger(__name__)

PREFIX = "ecs:"
STARTED_BY = "evalhub"
MAX_REASON = 255
ENDED = frozenset({"STOPPED", "DELETED"})


class EcsLauncher:
    prefix = PREFIX

    def __init__(
        self,
        cluster: str,
        cpu_task_definition: str,
        gpu_task_definition: str | None,
        gpu_capacity_provider: str | None,
        subnets: list[str],
        security_groups: list[str],
        container_name: str = "runner",
        client: ECSClient | None = None,
    ) -> None:
        self.cluster = cluster
        self.cpu_task_definition = cpu_task_definition
        self.gpu_task_definition = gpu_task_definition
        self.gpu_capacity_provider = gpu_capacity_provider
        self.subnets = subnets
        self.security_groups = security_groups
        self.container_name = container_name
        self._client: LazyClient[ECSClient] = LazyClient("ecs", client)

    @property
    def client(self) -> ECSClient:
        return self._client()

    def launch(self, job: JobRecord) -> str:
        return self.launch_on(job, gpu=needs_gpu(job))

    def launch_on(self, job: JobRecord, gpu: bool) -> str:
        """RunTask for one attempt of ``job``; a repeated call for the same attempt (a retried
        request) is answered with the task the first one started, thanks to the client token."""
        request: RunTaskRequestTypeDef = {
            "cluster": self.cluster,
            "taskDefinition": self.cpu_task_definition,
            "count": 1,
            "startedBy": STARTED_BY,
            "clientToken": idempotency_token(job),
            "networkConfiguration": {
                "awsvpcConfiguration": {
                    "subnets": self.subnets,
                    "securityGroups": self.security_groups,
                    "assignPublicIp": "DISABLED",
                }
            },
            "overrides": {
                "containerOverrides": [{"name": self.container_name, "environment": runner_environment(job)}]
            },
            "tags": [{"key": k, "value": v} for k, v in job_tags(job).items()],
        }
        if gpu:
            if not (self.gpu_task_definition and self.gpu_capacity_provider):
                raise LaunchFailed(
                    f"job {job.job_id} needs a GPU, but no ECS GPU task definition and capacity provider are configured"
                )
            request["taskDefinition"] = self.gpu_task_definition
            request["capacityProviderStrategy"] = [
                {"capacityProvider": self.gpu_capacity_provider, "weight": 1}
            ]
        else:
            request["launchType"] = "FARGATE"
        with vendor_errors(f"ECS RunTask on cluster {self.cluster}"):
            resp = self.client.run_task(**request)
        tasks = resp.get("tasks", [])
        if tasks:  # count=1: a started task wins over any failure listed beside it
            return PREFIX + tasks[0]["taskArn"]
        reasons = [_failure(f) for f in resp.get("failures", [])]
        raise LaunchFailed(
            f"ECS started no task for job {job.job_id}: {'; '.join(reasons) or 'no reason given'}"
        )

    def stop(self, handle: str, reason: str) -> None:
        if self.alive(handle) is False:
            return
        arn = _arn(handle)
        with vendor_errors(f"ECS StopTask {_task_id(arn)}"):
            try:
                self.client.stop_task(cluster=self.cluster, task=arn, reason=reason[:MAX_REASON])
            except self.client.exceptions.InvalidParameterException:
                # What ECS answers for a task it no longer knows; anything else is a real failure.
                if self.alive(handle) is not False:
                    raise

    def alive(self, handle: str) -> bool | None:
        try:
            task = self._describe(handle)
        except LaunchFailed as e:
            log.warning("cannot tell whether %s is alive: %s", handle, e)
            return None
        return task is not None and task.get("lastStatus") not in ENDED

    def close(self) -> None:
        self._client.close()

    def describe_exit(self, handle: str) -> str:
        task_id = _task_id(_arn(handle))
        try:
            task = self._describe(handle)
        except LaunchFailed as e:
            return f"ECS task {task_id}: {e}"
        if task is None:
            return f"ECS task {task_id} is gone (ECS no longer describes it)"
        status = task.get("lastStatus", "UNKNOWN")
        if status not in ENDED:
            return f"ECS task {task_id} is {status}"
        containers = task.get("containers", [])
        runner = next((c for c in containers if c.get("name") == self.container_name), None)
        runner = runner or (containers[0] if containers else None)
        text = f"ECS task {task_id} stopped: {task.get('stoppedReason') or task.get('stopCode') or 'no reason given'}"
        if runner is not None:
            if "exitCode" in runner:
                text += f" (exit code {runner['exitCode']})"
            if runner.get("reason"):
                text += f"; container: {runner['reason']}"
        return text

    def _describe(self, handle: str) -> TaskTypeDef | None:
        """The task, or None when ECS does not know it (any more): it answers MISSING."""
        arn = _arn(handle)
        with vendor_errors(f"ECS DescribeTasks {_task_id(arn)}"):
            resp = self.client.describe_tasks(cluster=self.cluster, tasks=[arn])
        return next((t for t in resp.get("tasks", []) if t.get("taskArn") == arn), None)


def _failure(f: FailureTypeDef) -> str:
    reason = f.get("reason", "unknown")
    return f"{reason} ({f['detail']})" if f.get("detail") else reason


def _arn(handle: str) -> str:
    return handle.removeprefix(PREFIX)


def _task_id(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]
