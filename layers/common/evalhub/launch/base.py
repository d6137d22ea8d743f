"""The Launcher protocol: start the runner for one job somewhere (subprocess, ECS task, Batch job)."""

from __future__ import annotations

from typing import Protocol

from ..models import JobRecord


class LaunchFailed(Exception):
    """The platform refused to start the runner (capacity, permissions, bad image)."""


class Launcher(Protocol):
    def launch(self, job: JobRecord) -> str:
        """Start the runner for ``job`` with only its ids in the environment; return the handle
        (pid, ECS task ARN, Batch job id). ``LaunchFailed`` if it could not start."""

    def stop(self, handle: str, reason: str) -> None:
        """Stop a launched runner; a handle that is already gone is not an error."""

    def alive(self, handle: str) -> bool | None:
        """Whether the runner is still running; None when the launcher cannot tell (events do)."""

    def describe_exit(self, handle: str) -> str:
        """How a runner that is no longer alive ended (exit code, signal, stop reason), for messages."""

    def close(self) -> None:
        """Release what the launcher holds (clients, a spare process); launched runners keep going."""
