from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import RedirectResponse

from evalhub.models import (
    CancelResponse,
    EvaluationRequestCreate,
    EvaluationResponse,
    RequestStatus,
    SingleBenchmarkEvaluation,
)
from evalhub.services import evaluations

from ..deps import Ctx

router = APIRouter(prefix="/evaluations", tags=["evaluations"])

NEXT_PAGE_HEADER = "X-Next-Page-Token"


@router.post("", response_model=EvaluationResponse, status_code=status.HTTP_202_ACCEPTED)
def create_evaluation(ctx: Ctx, body: EvaluationRequestCreate) -> EvaluationResponse:
    return evaluations.submit(ctx, body)


@router.post(
    "/benchmarks/{provider_id}/{benchmark_id}",
    response_model=EvaluationResponse,
    status_code=status.HTTP_202_ACCEPTED,
)
def evaluate_single_benchmark(
    ctx: Ctx, provider_id: str, benchmark_id: str, body: SingleBenchmarkEvaluation
) -> EvaluationResponse:
    return evaluations.submit_single(ctx, provider_id, benchmark_id, body)


@router.get("", response_model=list[EvaluationResponse])
def list_evaluations(
    ctx: Ctx,
    response: Response,
    status_filter: Annotated[RequestStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    page_token: Annotated[
        str | None, Query(description=f"the {NEXT_PAGE_HEADER} of the previous page")
    ] = None,
) -> list[EvaluationResponse]:
    """Newest first. When more remain, the next page's token is in the X-Next-Page-Token header."""
    items, token = evaluations.list_requests(ctx, status_filter, limit, page_token)
    if token:
        response.headers[NEXT_PAGE_HEADER] = token
    return items


@router.get("/{request_id}", response_model=EvaluationResponse)
def get_evaluation(ctx: Ctx, request_id: str) -> EvaluationResponse:
    return evaluations.get(ctx, request_id)


@router.delete("/{request_id}", response_model=CancelResponse)
def cancel_evaluation(ctx: Ctx, request_id: str) -> CancelResponse:
    return evaluations.cancel(ctx, request_id)


@router.get(
    "/{request_id}/jobs/{job_id}/artifacts/{name:path}",
    response_class=Response,
    responses={
        200: {"description": "the artifact (local mode)"},
        307: {"description": "a presigned S3 link"},
    },
)
def get_artifact(ctx: Ctx, request_id: str, job_id: str, name: str) -> Response:
    """One of a job's results files (results, summary, samples/<task>)."""
    found = evaluations.artifact(ctx, request_id, job_id, name)
    if found.link is not None:
        return RedirectResponse(found.link, status_code=status.HTTP_307_TEMPORARY_REDIRECT)
    media = "application/x-ndjson" if name.startswith("samples/") else "application/json"
    return Response(content=found.content, media_type=media)
