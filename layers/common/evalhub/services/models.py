"""Model registry: registered models (in the store) and runtime models (from the environment)."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import ValidationError

from ..errors import AlreadyExists, NotFound, ReadOnly
from ..models import Message, Model, ModelCreate, ModelList, ModelStatus, ModelType, ModelUpdate, utcnow
from ..storage import Store

log = logging.getLogger(__name__)

RUNTIME_PREFIX = "EVAL_HUB_MODEL_"
_URL_VAR = re.compile(rf"^{RUNTIME_PREFIX}(?P<key>[A-Z0-9_]+?)_URL$")


@dataclass
class RuntimeModels:
    """Models defined by ``EVAL_HUB_MODEL_<ID>_URL`` (required), ``_NAME``, ``_TYPE``, ``_PATH``,
    ``_API_KEY_ENV``; ``<ID>`` becomes the model_id in lower case with ``_`` as ``-``."""

    models: dict[str, Model] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RuntimeModels:
        env = os.environ if env is None else env
        found = cls()
        now = utcnow()
        for var, url in sorted(env.items()):
            match = _URL_VAR.match(var)
            if not match:
                continue
            key = match["key"]
            model_id = key.lower().replace("_", "-")
            prefix = f"{RUNTIME_PREFIX}{key}_"
            try:
                fields = ModelCreate(
                    model_id=model_id,
                    model_name=env.get(f"{prefix}NAME") or model_id,
                    model_type=ModelType(env.get(f"{prefix}TYPE") or ModelType.OPENAI_COMPATIBLE),
                    base_url=url,
                    model_path=env.get(f"{prefix}PATH") or None,
                    api_key_env=env.get(f"{prefix}API_KEY_ENV") or None,
                    api_key_required=bool(env.get(f"{prefix}API_KEY_ENV")),
                    description=f"Runtime model from {var}",
                    tags=["runtime"],
                )
            except (ValueError, ValidationError) as e:
                found.errors.append(f"{var}: {_first_error(e)}")
                log.warning("skipping runtime model %s: %s", var, e)
                continue
            found.models[model_id] = Model(
                **fields.model_dump(), source="runtime", created_at=now, updated_at=now
            )
        return found


def _first_error(e: Exception) -> str:
    if isinstance(e, ValidationError):
        err = e.errors()[0]
        return f"{'.'.join(map(str, err['loc'])) or 'value'}: {err['msg']}"
    return str(e)


class ModelRegistry:
    def __init__(self, store: Store, runtime: RuntimeModels | None = None) -> None:
        self.store = store
        self.runtime = runtime if runtime is not None else RuntimeModels.from_env()

    def list(self, include_inactive: bool = True) -> ModelList:
        def keep(model: Model) -> bool:
            return include_inactive or model.status == ModelStatus.ACTIVE

        registered = [m for m in self.store.list_models() if keep(m)]
        runtime = [m for m in self.runtime.models.values() if keep(m)]
        return ModelList(
            models=registered, runtime_models=runtime, total_models=len(registered) + len(runtime)
        )

    def get(self, model_id: str) -> Model:
        model = self.runtime.models.get(model_id) or self.store.get_model(model_id)
        if model is None:
            raise NotFound(f"Model '{model_id}' not found")
        return model

    def find(self, name: str) -> Model | None:
        """The model a job's ``model_name`` means: by id, then by model_name (runtime first)."""
        by_id = self.runtime.models.get(name) or self.store.get_model(name)
        if by_id is not None:
            return by_id
        candidates = [*self.runtime.models.values(), *self.store.list_models()]
        return next((m for m in candidates if m.model_name == name), None)

    def register(self, body: ModelCreate) -> Model:
        if body.model_id in self.runtime.models:
            raise AlreadyExists(f"Model '{body.model_id}' already exists as a runtime model")
        now = utcnow()
        model = Model(**body.model_dump(), source="registered", created_at=now, updated_at=now)
        self.store.create_model(model)
        return model

    def update(self, model_id: str, body: ModelUpdate) -> Model:
        if model_id in self.runtime.models:
            raise ReadOnly(
                f"Model '{model_id}' is a runtime model; change its EVAL_HUB_MODEL_* variables instead"
            )
        current = self.store.get_model(model_id)
        if current is None:
            raise NotFound(f"Model '{model_id}' not found")
        merged = {**current.model_dump(), **body.model_dump(exclude_unset=True)}
        # Re-validate the whole model so an update cannot produce an invalid one (e.g. vllm without base_url).
        fields = ModelCreate.model_validate(
            {k: v for k, v in merged.items() if k in ModelCreate.model_fields}
        )
        model = Model(
            **fields.model_dump(), source="registered", created_at=current.created_at, updated_at=utcnow()
        )
        self.store.replace_model(model)
        return model

    def delete(self, model_id: str) -> Message:
        if model_id in self.runtime.models:
            raise ReadOnly(
                f"Model '{model_id}' is a runtime model (configured via environment variables) and cannot be deleted"
            )
        self.store.delete_model(model_id)
        return Message(message=f"Model '{model_id}' deleted successfully")

    def reload(self, env: Mapping[str, str] | None = None) -> Message:
        self.runtime = RuntimeModels.from_env(env)
        return Message(
            message=f"Reloaded {len(self.runtime.models)} runtime model(s) from environment variables",
            details={"runtime_models": sorted(self.runtime.models), "errors": self.runtime.errors},
        )
