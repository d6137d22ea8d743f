"""The Store protocol: everything Eval Hub keeps, behind one interface (SQLite locally, DynamoDB on AWS).

Rules every implementation follows (the contract suite in tests/integration/test_store_contract.py
checks them):
- Writes are conditional. A job only moves along ``JOB_TRANSITIONS``; a change whose job is not in
  one of ``expected`` raises ``TransitionRejected`` and changes nothing.
- A request and all of its jobs are created atomically; a request_id that exists raises
  ``AlreadyExists``.
- Each job change also rewrites its request's rolled-up status (``rollup``) in the same
  transaction, so a reader never sees a request that disagrees with its jobs.
- Returned records are copies: mutating them changes nothing stored.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any, Protocol

from ..models import JobRecord, JobStatus, Model, RequestRecord, RequestStatus

# Computes a request's status from its jobs; stores call it inside the job-changing transaction.
Rollup = Callable[[list[JobRecord]], RequestStatus]


class Page:
    """One page of requests, newest first, and the opaque token of the next page (None at the end)."""

    def __init__(self, items: list[RequestRecord], next_token: str | None) -> None:
        self.items = items
        self.next_token = next_token


class Store(Protocol):
    # -- health -----------------------------------------------------------------------------------
    def ping(self) -> None:
        """Raise ``StorageUnavailable`` if the store cannot be read."""

    # -- model registry -----------------------------------------------------------------------------
    def create_model(self, model: Model) -> None:
        """Store a new model; ``AlreadyExists`` if its model_id is taken."""

    def replace_model(self, model: Model) -> None:
        """Overwrite an existing model; ``NotFound`` if it does not exist."""

    def get_model(self, model_id: str) -> Model | None: ...

    def list_models(self) -> list[Model]:
        """Every registered model, ordered by model_id."""

    def delete_model(self, model_id: str) -> None:
        """``NotFound`` if it does not exist."""

    # -- requests and jobs --------------------------------------------------------------------------
    def create_request(self, request: RequestRecord, jobs: list[JobRecord]) -> None:
        """Store a request and its jobs atomically; ``AlreadyExists`` if the request_id exists."""

    def get_request(self, request_id: str) -> RequestRecord | None: ...

    def list_requests(
        self, *, status: RequestStatus | None = None, limit: int = 50, page_token: str | None = None
    ) -> Page:
        """Requests newest first (created_at, then request_id), optionally of one status.

        ``InvalidRequest`` for a page_token this store did not hand out."""

    def count_requests(self) -> dict[RequestStatus, int]:
        """Number of requests in each status (statuses with none may be missing)."""

    def get_job(self, request_id: str, job_id: str) -> JobRecord | None: ...

    def list_jobs(self, request_id: str) -> list[JobRecord]:
        """The request's jobs ordered by index."""

    def list_jobs_in(self, statuses: Collection[JobStatus]) -> list[JobRecord]:
        """Every job currently in one of ``statuses`` (the worker, reaper and metrics use this)."""

    def transition_job(
        self,
        request_id: str,
        job_id: str,
        *,
        expected: Collection[JobStatus],
        to: JobStatus,
        changes: Mapping[str, Any] | None = None,
        rollup: Rollup,
    ) -> JobRecord:
        """Move a job to ``to`` if it is in one of ``expected``, applying ``changes`` (JobRecord field
        names) and bumping ``version`` and ``updated_at``; recompute the request's status with
        ``rollup`` in the same transaction. Returns the new job. ``NotFound`` for an unknown job,
        ``TransitionRejected`` if the job's status is not in ``expected``."""

    def update_job(
        self,
        request_id: str,
        job_id: str,
        *,
        expected: Collection[JobStatus],
        changes: Mapping[str, Any],
    ) -> JobRecord:
        """Change fields (progress, heartbeat_at, launch_handle, ...) of a job that is in one of
        ``expected`` without changing its status. ``TransitionRejected`` otherwise."""

    def close(self) -> None: ...
