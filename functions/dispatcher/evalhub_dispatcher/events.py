"""Reading ECS and Batch state-change events: which job's runner stopped, and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RunnerStopped:
    request_id: str
    job_id: str
    handle: str
    """The launch handle the event is about (``ecs:<task arn>`` or ``batch:<job id>``)."""
    reason: str


def _env(entries: list[dict[str, Any]] | None) -> dict[str, str]:
    return {e.get("name", ""): e.get("value", "") for e in entries or []}


def parse_runner_stopped(event: dict[str, Any]) -> RunnerStopped | None:
    """A RunnerStopped for an event about one of our runners that stopped; None for anything else."""
    detail = event.get("detail") or {}
    kind = event.get("detail-type")
    if kind == "ECS Task State Change" and detail.get("lastStatus") == "STOPPED":
        env: dict[str, str] = {}
        for override in (detail.get("overrides") or {}).get("containerOverrides", []):
            env.update(_env(override.get("environment")))
        codes = [
            f"{c.get('name')}: exit code {c.get('exitCode')}"
            for c in detail.get("containers", [])
            if "exitCode" in c
        ]
        reason = (
            f"ECS task stopped: {detail.get('stoppedReason') or detail.get('stopCode') or 'no reason given'}"
        )
        handle = f"ecs:{detail.get('taskArn')}"
    elif kind == "Batch Job State Change" and detail.get("status") in ("FAILED", "SUCCEEDED"):
        container = detail.get("container") or {}
        env = _env(container.get("environment"))
        codes = [f"exit code {container['exitCode']}"] if "exitCode" in container else []
        reason = (
            f"Batch job {detail.get('status', '').lower()}: {detail.get('statusReason') or 'no reason given'}"
        )
        handle = f"batch:{detail.get('jobId')}"
    else:
        return None
    request_id, job_id = env.get("EVALHUB_REQUEST_ID"), env.get("EVALHUB_JOB_ID")
    if not request_id or not job_id:
        return None
    if codes:
        reason += f" ({', '.join(codes)})"
    return RunnerStopped(request_id=request_id, job_id=job_id, handle=handle, reason=reason)
