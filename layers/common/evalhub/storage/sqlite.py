"""SQLite implementation of the Store (local mode): one file under EVALHUB_HOME, shared with the
local job queue and with runner subprocesses. Records are stored as JSON documents beside the columns
that are queried; every job change runs in one ``BEGIN IMMEDIATE`` transaction with its roll-up."""

from __future__ import annotations

import base64
import binascii
import json
import sqlite3
import threading
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import AlreadyExists, InvalidRequest, NotFound, StorageUnavailable, TransitionRejected
from ..models import JOB_TRANSITIONS, JobRecord, JobStatus, Model, RequestRecord, RequestStatus, utcnow
from ..sqlitedb import connect, immediate
from .base import Page, Rollup

SCHEMA = """
CREATE TABLE IF NOT EXISTS models (
    model_id TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS requests (
    request_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS requests_newest ON requests (created_at DESC, request_id DESC);
CREATE INDEX IF NOT EXISTS requests_status ON requests (status, created_at DESC, request_id DESC);
CREATE TABLE IF NOT EXISTS jobs (
    request_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    status TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (request_id, job_id)
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status);
"""


class SqliteStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = connect(path)
        self._lock = threading.RLock()
        with self._lock:
            self._conn.executescript(SCHEMA)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock, immediate(self._conn) as conn:
            yield conn

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def ping(self) -> None:
        try:
            self._read("SELECT 1")
        except sqlite3.Error as e:
            raise StorageUnavailable(f"SQLite database {self.path} is unreadable: {e}") from e

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- models -----------------------------------------------------------------------------------
    def create_model(self, model: Model) -> None:
        try:
            with self._write() as conn:
                conn.execute(
                    "INSERT INTO models (model_id, doc) VALUES (?, ?)",
                    (model.model_id, model.model_dump_json()),
                )
        except sqlite3.IntegrityError as e:
            raise AlreadyExists(f"Model '{model.model_id}' already exists") from e

    def replace_model(self, model: Model) -> None:
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE models SET doc = ? WHERE model_id = ?", (model.model_dump_json(), model.model_id)
            )
            if cur.rowcount == 0:
                raise NotFound(f"Model '{model.model_id}' not found")

    def get_model(self, model_id: str) -> Model | None:
        rows = self._read("SELECT doc FROM models WHERE model_id = ?", (model_id,))
        return Model.model_validate_json(rows[0][0]) if rows else None

    def list_models(self) -> list[Model]:
        return [
            Model.model_validate_json(doc)
            for (doc,) in self._read("SELECT doc FROM models ORDER BY model_id")
        ]

    def delete_model(self, model_id: str) -> None:
        with self._write() as conn:
            if conn.execute("DELETE FROM models WHERE model_id = ?", (model_id,)).rowcount == 0:
                raise NotFound(f"Model '{model_id}' not found")

    # -- requests ---------------------------------------------------------------------------------
    def create_request(self, request: RequestRecord, jobs: list[JobRecord]) -> None:
        try:
            with self._write() as conn:
                conn.execute(
                    "INSERT INTO requests (request_id, created_at, status, doc) VALUES (?, ?, ?, ?)",
                    (
                        request.request_id,
                        request.created_at.isoformat(),
                        request.status,
                        request.model_dump_json(),
                    ),
                )
                conn.executemany(
                    "INSERT INTO jobs (request_id, job_id, idx, status, doc) VALUES (?, ?, ?, ?, ?)",
                    [(j.request_id, j.job_id, j.index, j.status, j.model_dump_json()) for j in jobs],
                )
        except sqlite3.IntegrityError as e:
            raise AlreadyExists(f"Evaluation request '{request.request_id}' already exists") from e

    def get_request(self, request_id: str) -> RequestRecord | None:
        rows = self._read("SELECT doc FROM requests WHERE request_id = ?", (request_id,))
        return RequestRecord.model_validate_json(rows[0][0]) if rows else None

    def list_requests(
        self, *, status: RequestStatus | None = None, limit: int = 50, page_token: str | None = None
    ) -> Page:
        where, params = [], []
        if status is not None:
            where.append("status = ?")
            params.append(str(status))
        if page_token:
            created_at, request_id = _decode_token(page_token)
            where.append("(created_at < ? OR (created_at = ? AND request_id < ?))")
            params += [created_at, created_at, request_id]
        sql = "SELECT doc FROM requests"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, request_id DESC LIMIT ?"
        rows = self._read(sql, (*params, limit + 1))
        items = [RequestRecord.model_validate_json(doc) for (doc,) in rows[:limit]]
        token = _encode_token(items[-1]) if len(rows) > limit else None
        return Page(items, token)

    def count_requests(self) -> dict[RequestStatus, int]:
        rows = self._read("SELECT status, COUNT(*) FROM requests GROUP BY status")
        return {RequestStatus(status): n for status, n in rows}

    # -- jobs -------------------------------------------------------------------------------------
    def get_job(self, request_id: str, job_id: str) -> JobRecord | None:
        rows = self._read("SELECT doc FROM jobs WHERE request_id = ? AND job_id = ?", (request_id, job_id))
        return JobRecord.model_validate_json(rows[0][0]) if rows else None

    def list_jobs(self, request_id: str) -> list[JobRecord]:
        rows = self._read("SELECT doc FROM jobs WHERE request_id = ? ORDER BY idx", (request_id,))
        return [JobRecord.model_validate_json(doc) for (doc,) in rows]

    def list_jobs_in(self, statuses: Collection[JobStatus]) -> list[JobRecord]:
        if not statuses:
            return []
        marks = ",".join("?" * len(statuses))
        rows = self._read(
            f"SELECT doc FROM jobs WHERE status IN ({marks}) ORDER BY request_id, idx",
            tuple(map(str, statuses)),
        )
        return [JobRecord.model_validate_json(doc) for (doc,) in rows]

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
        with self._write() as conn:
            job = self._apply(conn, request_id, job_id, expected, {**(changes or {}), "status": to})
            jobs = [
                JobRecord.model_validate_json(doc)
                for (doc,) in conn.execute(
                    "SELECT doc FROM jobs WHERE request_id = ? ORDER BY idx", (request_id,)
                )
            ]
            row = conn.execute("SELECT doc FROM requests WHERE request_id = ?", (request_id,)).fetchone()
            request = RequestRecord.model_validate_json(row[0])
            request = request.model_copy(
                update={"status": rollup(jobs), "updated_at": job.updated_at, "version": request.version + 1}
            )
            conn.execute(
                "UPDATE requests SET status = ?, doc = ? WHERE request_id = ?",
                (request.status, request.model_dump_json(), request_id),
            )
            return job

    def update_job(
        self, request_id: str, job_id: str, *, expected: Collection[JobStatus], changes: Mapping[str, Any]
    ) -> JobRecord:
        if "status" in changes:
            raise ValueError("update_job does not change status; use transition_job")
        with self._write() as conn:
            return self._apply(conn, request_id, job_id, expected, dict(changes))

    def _apply(
        self,
        conn: sqlite3.Connection,
        request_id: str,
        job_id: str,
        expected: Collection[JobStatus],
        changes: dict[str, Any],
    ) -> JobRecord:
        row = conn.execute(
            "SELECT doc FROM jobs WHERE request_id = ? AND job_id = ?", (request_id, job_id)
        ).fetchone()
        if row is None:
            raise NotFound(f"Job '{job_id}' of evaluation '{request_id}' not found")
        job = JobRecord.model_validate_json(row[0])
        if job.status not in expected:
            raise TransitionRejected(
                f"Job '{job_id}' is {job.status.value}, not {' or '.join(sorted(s.value for s in expected))}"
            )
        to = changes.get("status")
        if to is not None and JobStatus(to) not in JOB_TRANSITIONS[job.status]:
            raise TransitionRejected(
                f"Job '{job_id}' cannot move from {job.status.value} to {JobStatus(to).value}"
            )
        updated = JobRecord.model_validate(
            {**job.model_dump(), **changes, "version": job.version + 1, "updated_at": utcnow()}
        )
        conn.execute(
            "UPDATE jobs SET status = ?, doc = ? WHERE request_id = ? AND job_id = ?",
            (updated.status, updated.model_dump_json(), request_id, job_id),
        )
        return updated


def _encode_token(last: RequestRecord) -> str:
    raw = json.dumps([last.created_at.isoformat(), last.request_id]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_token(token: str) -> tuple[str, str]:
    try:
        created_at, request_id = json.loads(base64.urlsafe_b64decode(token.encode()))
        return str(created_at), str(request_id)
    except (ValueError, TypeError, binascii.Error) as e:
        raise InvalidRequest("page_token is not one this server handed out; drop it to start over") from e
