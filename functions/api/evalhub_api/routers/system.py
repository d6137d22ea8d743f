from __future__ import annotations

from fastapi import APIRouter, Request

from evalhub.models import ComponentHealth, Health, SystemMetrics
from evalhub.services import system

from ..deps import Ctx

router = APIRouter(tags=["system"])


@router.get("/health", response_model=Health)
def health(ctx: Ctx, request: Request) -> Health:
    worker = getattr(request.app.state, "worker", None)
    extra = {}
    if worker is not None:
        extra["worker"] = ComponentHealth(
            status="healthy" if worker.healthy else "unhealthy", detail="local dispatcher"
        )
    return system.health(ctx, extra)


@router.get("/metrics/system", response_model=SystemMetrics)
def system_metrics(ctx: Ctx) -> SystemMetrics:
    return system.metrics(ctx)
