"""Domain errors. Services raise these; the API maps each class to one HTTP status in one place."""

from __future__ import annotations


class EvalHubError(Exception):
    """Base class of every error a user can cause or see."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(EvalHubError):
    """An id that names nothing (model, provider, benchmark, collection, evaluation, job)."""


class AlreadyExists(EvalHubError):
    """Creating something whose id is taken, or reusing a request_id with a different body."""


class Conflict(EvalHubError):
    """The thing exists but is in a state that forbids the action (cancel an ended evaluation)."""


class InvalidRequest(EvalHubError):
    """A well-formed body that asks for something impossible (unknown risk category, too many jobs)."""


class ReadOnly(EvalHubError):
    """An attempt to change a runtime model, which only the environment defines."""


class TransitionRejected(EvalHubError):
    """A conditional state change lost: the job is not in a state the change may start from."""


class StorageUnavailable(EvalHubError):
    """The store could not be reached."""
