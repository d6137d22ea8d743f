"""Resolve a job's ``model_name`` to an endpoint the backend can call (registry, runtime, default)."""

from __future__ import annotations

import os
from typing import Any

from evalhub.context import Context
from evalhub.models import JobRecord, Model, ModelType

from .backends.base import BackendError, ResolvedModel


def resolve(ctx: Context, job: JobRecord) -> ResolvedModel:
    model = ctx.models.find(job.model_name)
    if model is None:
        settings = ctx.settings
        return ResolvedModel(
            name=job.model_name,
            model_type=ModelType.OPENAI,
            base_url=settings.default_model_base_url,
            api_key=os.environ.get(settings.default_model_api_key_env),
        )
    return ResolvedModel(
        name=model.model_path or model.model_id,
        model_type=model.model_type,
        base_url=model.base_url
        or (ctx.settings.default_model_base_url if model.model_type == ModelType.OPENAI else None),
        api_key=_api_key(model),
        tokenizer=model.tokenizer,
        model_id=model.model_id,
        supports_logprobs=model.capabilities.supports_logprobs,
        generation_defaults=_generation_defaults(model),
    )


def _api_key(model: Model) -> str | None:
    if model.api_key_env:
        key = os.environ.get(model.api_key_env)
        if key is None and model.api_key_required:
            raise BackendError(
                f"model '{model.model_id}' needs an API key from the environment variable {model.api_key_env}, "
                "which is not set where the runner runs",
                permanent=True,
            )
        return key
    if model.api_key_secret:
        return _secret(model.api_key_secret)
    return None


def _secret(name: str) -> str:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return str(boto3.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"])
    except (ClientError, BotoCoreError) as e:
        raise BackendError(f"cannot read the API key secret '{name}' from Secrets Manager: {e}") from e


def _generation_defaults(model: Model) -> dict[str, Any]:
    config = model.config.model_dump(exclude_none=True)
    return {k: config[k] for k in ("temperature", "max_tokens") if k in config}
