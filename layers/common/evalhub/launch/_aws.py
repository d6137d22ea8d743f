"""What the ECS and Batch launchers share: the runner's environment, tags, and error translation."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from ..models import JobRecord
from .base import LaunchFailed

if TYPE_CHECKING:
    # ECS's and Batch's name/value pairs are the same TypedDict.
    from mypy_boto3_ecs.type_defs import KeyValuePairTypeDef


def runner_environment(job: JobRecord) -> list[KeyValuePairTypeDef]:
    """Only ids: the runner reads everything else (settings, the job, secrets) itself."""
    return [
        {"name": "EVALHUB_REQUEST_ID", "value": job.request_id},
        {"name": "EVALHUB_JOB_ID", "value": job.job_id},
        {"name": "EVALHUB_ATTEMPT", "value": str(job.attempts)},
    ]


def job_tags(job: JobRecord) -> dict[str, str]:
    """Tags on the task or job, so that a person (or a cost report) can find the evaluation."""
    return {
        "evalhub:request-id": job.request_id[:256],
        "evalhub:job-id": job.job_id[:256],
        "evalhub:attempt": str(job.attempts),
    }


def error_code(e: ClientError) -> str:
    return str(e.response.get("Error", {}).get("Code", ""))


@contextmanager
def vendor_errors(what: str) -> Iterator[None]:
    """Turn botocore's errors into ``LaunchFailed`` naming the call that failed."""
    try:
        yield
    except ClientError as e:
        message = e.response.get("Error", {}).get("Message", "")
        raise LaunchFailed(
            f"{what} failed: {error_code(e) or 'error'}{f': {message}' if message else ''}"
        ) from e
    except BotoCoreError as e:
        raise LaunchFailed(f"{what} failed: {e}") from e


def idempotency_token(job: JobRecord, limit: int = 64) -> str:
    """The same for every launch call of one attempt of one job, different for the next attempt;
    readable when it fits the API's limit (printable ASCII), a hash of the same ids otherwise."""
    token = f"{job.request_id}-{job.job_id}-{job.attempts}"
    if len(token) <= limit and all(33 <= ord(c) <= 126 for c in token):
        return token
    return hashlib.sha256(token.encode()).hexdigest()[:limit]
