"""A durable job queue in a table of the local SQLite file (local mode's stand-in for SQS).

Same semantics as SQS standard queues, minus the distribution: at-least-once delivery, a received
message is invisible until acked or until its visibility timeout passes, each receive counts.
Receipts are ``<id>:<token>``; a receipt from an earlier delivery no longer acks or releases the
message (SQS mostly behaves the same way).
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import StorageUnavailable
from ..sqlitedb import connect, immediate
from .base import Delivery, JobMessage

SCHEMA = """
CREATE TABLE IF NOT EXISTS queue_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    body TEXT NOT NULL,
    visible_at REAL NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT
);
CREATE INDEX IF NOT EXISTS queue_messages_visible ON queue_messages (visible_at, id);
"""
POLL_SECONDS = 0.1
"""How often a waiting receive looks again for messages sent by another process."""


class LocalQueue:
    def __init__(self, db_path: Path, visibility_timeout: float = 60) -> None:
        self.db_path = db_path
        self.visibility_timeout = visibility_timeout
        self._conn = connect(db_path)
        self._conn.executescript(SCHEMA)
        # One connection for every thread: the lock keeps its transactions apart; the condition
        # wakes a waiting receive as soon as this process sends.
        self._lock = threading.Lock()
        self._sent = threading.Condition(threading.Lock())

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                with immediate(self._conn) as conn:
                    yield conn
            except sqlite3.OperationalError as e:  # locked past busy_timeout, disk full, unreadable
                raise StorageUnavailable(f"Queue database {self.db_path} is unusable: {e}") from e

    def send(self, messages: list[JobMessage]) -> None:
        if not messages:
            return
        now = time.time()
        with self._transaction() as conn:
            conn.executemany(
                "INSERT INTO queue_messages (body, visible_at) VALUES (?, ?)",
                [(m.model_dump_json(), now) for m in messages],
            )
        with self._sent:
            self._sent.notify_all()

    def receive(self, max_messages: int = 10, wait_seconds: float = 0) -> list[Delivery]:
        deadline = time.monotonic() + wait_seconds
        while True:
            deliveries = self._take(max_messages)
            left = deadline - time.monotonic()
            if deliveries or left <= 0:
                return deliveries
            with self._sent:
                self._sent.wait(min(left, POLL_SECONDS))

    def _take(self, max_messages: int) -> list[Delivery]:
        now = time.time()
        with self._transaction() as conn:
            rows = conn.execute(
                "SELECT id, body, receive_count FROM queue_messages WHERE visible_at <= ? ORDER BY id LIMIT ?",
                (now, max(max_messages, 1)),
            ).fetchall()
            taken = [
                (msg_id, body, count + 1, f"{msg_id}:{uuid.uuid4().hex}") for msg_id, body, count in rows
            ]
            conn.executemany(
                "UPDATE queue_messages SET visible_at = ?, receive_count = ?, receipt = ? WHERE id = ?",
                [
                    (now + self.visibility_timeout, count, receipt, msg_id)
                    for msg_id, _, count, receipt in taken
                ],
            )
        return [
            Delivery(message=JobMessage.model_validate_json(body), receipt=receipt, receive_count=count)
            for _, body, count, receipt in taken
        ]

    def ack(self, delivery: Delivery) -> None:
        with self._transaction() as conn:
            conn.execute(
                "DELETE FROM queue_messages WHERE id = ? AND receipt = ?",
                (_message_id(delivery), delivery.receipt),
            )

    def release(self, delivery: Delivery, delay_seconds: float = 0) -> None:
        with self._transaction() as conn:
            conn.execute(
                "UPDATE queue_messages SET visible_at = ? WHERE id = ? AND receipt = ?",
                (time.time() + max(delay_seconds, 0), _message_id(delivery), delivery.receipt),
            )
        if delay_seconds <= 0:
            with self._sent:
                self._sent.notify_all()

    def depth(self) -> int:
        with self._lock:
            (count,) = self._conn.execute("SELECT COUNT(*) FROM queue_messages").fetchone()
        return int(count)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _message_id(delivery: Delivery) -> int:
    return int(delivery.receipt.split(":", 1)[0])
