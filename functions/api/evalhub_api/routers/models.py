from __future__ import annotations

from fastapi import APIRouter, status

from evalhub.models import Message, Model, ModelCreate, ModelList, ModelUpdate

from ..deps import Ctx

router = APIRouter(prefix="/models", tags=["models"])


@router.get("", response_model=ModelList)
def list_models(ctx: Ctx, include_inactive: bool = True) -> ModelList:
    return ctx.models.list(include_inactive=include_inactive)


@router.post("", response_model=Model, status_code=status.HTTP_201_CREATED)
def register_model(ctx: Ctx, body: ModelCreate) -> Model:
    return ctx.models.register(body)


@router.post("/reload", response_model=Message)
def reload_runtime_models(ctx: Ctx) -> Message:
    return ctx.models.reload()


@router.get("/{model_id}", response_model=Model)
def get_model(ctx: Ctx, model_id: str) -> Model:
    return ctx.models.get(model_id)


@router.put("/{model_id}", response_model=Model)
def update_model(ctx: Ctx, model_id: str, body: ModelUpdate) -> Model:
    return ctx.models.update(model_id, body)


@router.delete("/{model_id}", response_model=Message)
def delete_model(ctx: Ctx, model_id: str) -> Message:
    return ctx.models.delete(model_id)
