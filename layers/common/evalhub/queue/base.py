"""The JobQueue protocol: one message per job, at-least-once delivery (SQS on AWS, SQLite locally)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel


class JobMessage(BaseModel):
    """What travels on the queue: only ids. Everything else is read from the store."""

    request_id: str
    job_id: str
    stop: str | None = None
    """A launch handle to stop (the job was cancelled by a process that cannot stop runners itself,
    like the API Lambda); absent for the usual "run this job"."""


@dataclass(frozen=True)
class Delivery:
    message: JobMessage
    receipt: str
    """Opaque handle to ack or release this delivery."""
    receive_count: int


class JobQueue(Protocol):
    def send(self, messages: list[JobMessage]) -> None:
        """Enqueue messages (batched where the backend allows, e.g. 10 per SQS call)."""

    def receive(self, max_messages: int = 10, wait_seconds: float = 0) -> list[Delivery]:
        """Take up to max_messages; each stays invisible to others until acked or its visibility
        timeout passes (then it is delivered again)."""

    def ack(self, delivery: Delivery) -> None:
        """Delete a delivered message for good."""

    def release(self, delivery: Delivery, delay_seconds: float = 0) -> None:
        """Make a delivered message visible again after delay_seconds (e.g. the concurrency cap is full)."""

    def depth(self) -> int:
        """Approximate number of messages waiting (visible or in flight)."""
