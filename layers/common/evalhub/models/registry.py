"""Model registry schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .common import API_MODEL_TYPES, ModelStatus, ModelType

MODEL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"


def _check_url(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value.startswith(("http://", "https://")) or len(value) <= len("https://"):
        raise ValueError("must be an http:// or https:// URL")
    return value.rstrip("/")


class ModelCapabilities(BaseModel):
    model_config = ConfigDict(extra="allow")

    max_tokens: int | None = Field(default=None, gt=0)
    context_window: int | None = Field(default=None, gt=0)
    supports_streaming: bool | None = None
    supports_function_calling: bool | None = None
    supports_logprobs: bool | None = None
    """Whether the endpoint returns prompt logprobs (echo); needed for loglikelihood tasks."""


class ModelConfig(BaseModel):
    """Default generation settings and client behaviour for this model."""

    model_config = ConfigDict(extra="allow")

    temperature: float | None = Field(default=None, ge=0)
    max_tokens: int | None = Field(default=None, gt=0)
    timeout: float | None = Field(default=None, gt=0)
    retry_attempts: int | None = Field(default=None, ge=0)


class ModelFields(BaseModel):
    """Fields a user may set on a model."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model_name: str = Field(min_length=1, max_length=256)
    description: str = Field(default="", max_length=4096)
    model_type: ModelType = ModelType.OPENAI_COMPATIBLE
    base_url: str | None = Field(default=None, max_length=2048)
    api_key_required: bool = False
    api_key_env: str | None = Field(default=None, max_length=256, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """Name of the environment variable the runner reads the key from (never the key itself)."""
    api_key_secret: str | None = Field(default=None, max_length=512)
    """Secrets Manager name or ARN of the key (AWS mode)."""
    model_path: str | None = Field(default=None, max_length=1024)
    """The model name the endpoint expects, or a Hugging Face id / local path for huggingface models."""
    tokenizer: str | None = Field(default=None, max_length=1024)
    """Tokenizer for loglikelihood tasks when the endpoint has no vLLM-style /tokenize."""
    capabilities: ModelCapabilities = Field(default_factory=ModelCapabilities)
    config: ModelConfig = Field(default_factory=ModelConfig)
    status: ModelStatus = ModelStatus.ACTIVE
    tags: list[str] = Field(default_factory=list, max_length=64)

    _url = field_validator("base_url")(classmethod(lambda cls, v: _check_url(v)))

    @model_validator(mode="after")
    def _api_models_need_url(self) -> ModelFields:
        if self.model_type in API_MODEL_TYPES - {ModelType.OPENAI} and not self.base_url:
            raise ValueError(f"base_url is required for model_type '{self.model_type.value}'")
        if self.model_type == ModelType.HUGGINGFACE and not self.model_path:
            raise ValueError("model_path (a Hugging Face id or local path) is required for 'huggingface'")
        return self


class ModelCreate(ModelFields):
    model_id: str = Field(pattern=MODEL_ID_PATTERN)


class ModelUpdate(BaseModel):
    """Partial update: only the fields sent change."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model_name: str | None = Field(default=None, min_length=1, max_length=256)
    description: str | None = Field(default=None, max_length=4096)
    model_type: ModelType | None = None
    base_url: str | None = Field(default=None, max_length=2048)
    api_key_required: bool | None = None
    api_key_env: str | None = Field(default=None, max_length=256, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    api_key_secret: str | None = Field(default=None, max_length=512)
    model_path: str | None = Field(default=None, max_length=1024)
    tokenizer: str | None = Field(default=None, max_length=1024)
    capabilities: ModelCapabilities | None = None
    config: ModelConfig | None = None
    status: ModelStatus | None = None
    tags: list[str] | None = Field(default=None, max_length=64)

    _url = field_validator("base_url")(classmethod(lambda cls, v: _check_url(v)))


class Model(ModelCreate):
    """A model as stored and returned."""

    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    source: Literal["registered", "runtime"] = "registered"
    created_at: datetime
    updated_at: datetime


class ModelList(BaseModel):
    models: list[Model]
    runtime_models: list[Model]
    total_models: int


class Message(BaseModel):
    message: str
    details: dict[str, Any] = Field(default_factory=dict)
