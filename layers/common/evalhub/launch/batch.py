"""AWS Batch launcher: one Batch job per attempt on the GPU job queue. Handles are ``batch:<jobId>``.

Batch retries nothing (``attempts: 1``): Eval Hub counts attempts itself and re-queues the job.
The job definition has one container, so the overrides need no container name.
"""

from __future__ import annotations

import logging
import math
import re
from typing import TYPE_CHECKING

from ..awsclient import LazyClient
from ..models import JobRecord
from ._aws import job_tags, runner_environment, vendor_errors
from .base import LaunchFailed

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient
    from mypy_boto3_batch.type_defs import JobDetailTypeDef

log = logging.getLogger(__name__)

PREFIX = "batch:"
ENDED = frozenset({"SUCCEEDED", "FAILED"})
MIN_TIMEOUT_SECONDS = 60  # Batch refuses shorter attempt timeouts
MAX_NAME = 128
NOT_ALLOWED_IN_NAME = re.compile(r"[^A-Za-z0-9_-]")


def job_name(job: JobRecord) -> str:
    """``evalhub-<job_id>-<attempt>`` in what Batch allows: letters, digits, ``-`` and ``_``, 128 at most."""
    return NOT_ALLOWED_IN_NAME.sub("-", f"evalhub-{job.job_id}-{job.attempts}")[:MAX_NAME]


class BatchLauncher:
    prefix = PREFIX

    def __init__(self, job_queue: str, job_definition: str, client: BatchClient | None = None) -> None:
        self.job_queue = job_queue
        self.job_definition = job_definition
        self._client: LazyClient[BatchClient] = LazyClient("batch", client)

    @property
    def client(self) -> BatchClient:
        return self._client()

    def launch(self, job: JobRecord) -> str:
        with vendor_errors(f"Batch SubmitJob to queue {self.job_queue}"):
            resp = self.client.submit_job(
                jobName=job_name(job),
                jobQueue=self.job_queue,
                jobDefinition=self.job_definition,
                containerOverrides={"environment": runner_environment(job)},
                timeout={
                    "attemptDurationSeconds": max(MIN_TIMEOUT_SECONDS, math.ceil(job.timeout_minutes * 60))
                },
                retryStrategy={"attempts": 1},
                tags=job_tags(job),
            )
        return PREFIX + resp["jobId"]

    def stop(self, handle: str, reason: str) -> None:
        # TerminateJob also cancels a job that has not started yet; an ended one needs nothing.
        if self.alive(handle) is False:
            return
        job_id = _job_id(handle)
        with vendor_errors(f"Batch TerminateJob {job_id}"):
            try:
                self.client.terminate_job(jobId=job_id, reason=reason or "stopped by Eval Hub")
            except self.client.exceptions.ClientException:
                # What Batch answers for a job it no longer knows; anything else is a real failure.
                if self.alive(handle) is not False:
                    raise

    def alive(self, handle: str) -> bool | None:
        try:
            job = self._describe(handle)
        except LaunchFailed as e:
            log.warning("cannot tell whether %s is alive: %s", handle, e)
            return None
        return job is not None and job["status"] not in ENDED

    def close(self) -> None:
        self._client.close()

    def describe_exit(self, handle: str) -> str:
        job_id = _job_id(handle)
        try:
            job = self._describe(handle)
        except LaunchFailed as e:
            return f"Batch job {job_id}: {e}"
        if job is None:
            return f"Batch job {job_id} is gone (Batch no longer describes it)"
        status = job["status"]
        if status not in ENDED:
            return f"Batch job {job_id} is {status}"
        container = job.get("container", {})
        text = f"Batch job {job_id} {status.lower()}: {job.get('statusReason') or 'no reason given'}"
        if "exitCode" in container:
            text += f" (exit code {container['exitCode']})"
        if container.get("reason"):
            text += f"; container: {container['reason']}"
        return text

    def _describe(self, handle: str) -> JobDetailTypeDef | None:
        """The job, or None when Batch does not know it (any more)."""
        job_id = _job_id(handle)
        with vendor_errors(f"Batch DescribeJobs {job_id}"):
            resp = self.client.describe_jobs(jobs=[job_id])
        return next((j for j in resp.get("jobs", []) if j["jobId"] == job_id), None)


def _job_id(handle: str) -> str:
    return handle.removeprefix(PREFIX)
