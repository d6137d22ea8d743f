"""The FastAPI application: the same app behind uvicorn (local) and Mangum (Lambda)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from evalhub import __version__
from evalhub.context import Context

from . import errors
from .routers import catalog, evaluations, models, system

API_PREFIX = "/api/v1"
# The request body is stored whole in one DynamoDB item (400 KB at most), and its jobs in
# transactions of at most 4 MB: 256 KiB keeps both well inside, whatever the expansion.
MAX_BODY_BYTES = 256 * 1024


def create_app(ctx: Context) -> FastAPI:
    app = FastAPI(
        title="Eval Hub",
        version=__version__,
        description="Orchestrates LLM evaluations: models, benchmarks, evaluations, results.",
    )
    app.state.context = ctx
    errors.install(app)
    for router in (system.router, catalog.router, models.router, evaluations.router):
        app.include_router(router, prefix=API_PREFIX)

    @app.middleware("http")
    async def limit_body(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return JSONResponse(
                status_code=413, content={"detail": f"request body larger than {MAX_BODY_BYTES} bytes"}
            )
        if ctx.settings.public_url is None:  # e.g. in Lambda: the URL API Gateway was reached at
            ctx.settings.public_url = str(request.base_url).rstrip("/")
        return await call_next(request)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    return app
