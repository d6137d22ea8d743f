"""The one place that maps domain errors to HTTP statuses; handlers never build error responses."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from evalhub.errors import (
    AlreadyExists,
    Conflict,
    EvalHubError,
    InvalidRequest,
    NotFound,
    ReadOnly,
    StorageUnavailable,
    TransitionRejected,
)

log = logging.getLogger(__name__)

STATUS_OF: dict[type[EvalHubError], int] = {
    NotFound: 404,
    AlreadyExists: 409,
    Conflict: 409,
    TransitionRejected: 409,
    InvalidRequest: 422,
    ReadOnly: 400,
    StorageUnavailable: 503,
}


def status_of(error: EvalHubError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]
    return 400


def install(app: FastAPI) -> None:
    @app.exception_handler(EvalHubError)
    async def domain_error(_: Request, exc: EvalHubError) -> JSONResponse:
        return JSONResponse(status_code=status_of(exc), content={"detail": exc.detail})

    @app.exception_handler(ValidationError)
    async def late_validation_error(_: Request, exc: ValidationError) -> JSONResponse:
        # A model re-validated inside a service (e.g. an update that leaves a vllm model without base_url).
        errors = exc.errors(include_url=False, include_context=False)
        return JSONResponse(status_code=422, content={"detail": jsonable_encoder(errors)})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(status_code=500, content={"detail": "internal error; see the server log"})
