"""What a backend is given and gives back. The runner entrypoint owns the job's lifecycle; a backend
only evaluates."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from evalhub.models import JobRecord, ModelType


class BackendError(Exception):
    """An evaluation failure with a message a person can act on (shown as the job's error_message).

    ``permanent`` failures (a bad configuration, an endpoint that answers 4xx, a task it cannot
    score) end the job at once: another attempt would fail the same way. Others are retried while
    the job's ``retry_attempts`` last."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class ResolvedModel:
    """The model a job evaluates, after looking up the registry, runtime models and defaults."""

    name: str
    """What the endpoint calls the model (the registry's model_path, else its model name)."""
    model_type: ModelType
    base_url: str | None
    """OpenAI-style base URL ending in /v1 (or the server root); None for huggingface."""
    api_key: str | None = field(default=None, repr=False)
    tokenizer: str | None = None
    model_id: str | None = None
    supports_logprobs: bool | None = None
    generation_defaults: dict[str, Any] = field(default_factory=dict)


# Called with the fraction done (0..1) as work finishes; cheap, may be called very often.
ProgressSink = Callable[[float], None]


@dataclass
class BackendResult:
    metrics: dict[str, float]
    """Headline metrics, e.g. {"acc": 0.75, "acc_norm": 0.74, "exact_match,strict-match": 0.5}."""
    documents: dict[str, Any] = field(default_factory=dict)
    """Name -> JSON-serialisable document the runner writes to the blob store (results.json, ...)."""
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Task name -> per-sample log lines (written as JSON Lines)."""


class Backend(Protocol):
    def run(self, job: JobRecord, model: ResolvedModel, report: ProgressSink, workdir: Path) -> BackendResult:
        """Evaluate ``job.tasks`` for ``model``; raise ``BackendError`` with an actionable message."""
