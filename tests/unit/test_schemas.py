"""Given request bodies, the schemas accept what the notebook sends and reject what it must not."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from evalhub.models import BackendType, EvaluationRequestCreate, ModelCreate, ModelUpdate


def evaluation(**overrides: object) -> dict[str, object]:
    return {"evaluations": [{"name": "e", "model_name": "m", "risk_category": "low", **overrides}]}


def test_a_risk_category_evaluation_is_enough() -> None:
    body = EvaluationRequestCreate.model_validate(evaluation())
    assert body.evaluations[0].timeout_minutes > 0 and body.evaluations[0].retry_attempts == 0


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"model_name": ""}, "model_name"),
        ({"timeout_minutes": 0}, "timeout_minutes"),
        ({"retry_attempts": -1}, "retry_attempts"),
        ({"risk_category": "extreme"}, "risk_category"),
        ({"risk_category": None, "backends": []}, "at least one backend"),
    ],
)
def test_invalid_evaluations_name_the_field(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        EvaluationRequestCreate.model_validate(evaluation(**overrides))
    assert field in str(info.value)


def test_request_id_must_be_a_uuid() -> None:
    with pytest.raises(ValidationError, match="UUID"):
        EvaluationRequestCreate.model_validate({"request_id": "invalid-uuid-format", **evaluation()})


def test_too_many_evaluations_are_refused() -> None:
    body = {"evaluations": evaluation()["evaluations"] * 101}  # type: ignore[operator]
    with pytest.raises(ValidationError, match="at most 100"):
        EvaluationRequestCreate.model_validate(body)


def test_backend_config_is_validated_by_its_type() -> None:
    backend = {
        "name": "b",
        "type": "nemo-evaluator",
        "config": {"port": 3825},
        "benchmarks": [{"name": "x", "tasks": ["gsm8k"]}],
    }
    with pytest.raises(ValidationError, match="endpoint"):
        EvaluationRequestCreate.model_validate(evaluation(risk_category=None, backends=[backend]))
    backend["config"] = {"endpoint": "localhost", "port": 3825}
    body = EvaluationRequestCreate.model_validate(evaluation(risk_category=None, backends=[backend]))
    spec = body.evaluations[0].backends[0]
    assert spec.type == BackendType.NEMO and spec.config["endpoint_type"] == "chat"


@pytest.mark.parametrize("limit", [0, -5])
def test_benchmark_limits_must_be_positive(limit: int) -> None:
    backend = {
        "name": "b",
        "type": "lm-evaluation-harness",
        "benchmarks": [{"name": "x", "tasks": ["arc_easy"], "config": {"limit": limit}}],
    }
    with pytest.raises(ValidationError, match="limit"):
        EvaluationRequestCreate.model_validate(evaluation(risk_category=None, backends=[backend]))


def test_api_models_need_a_base_url() -> None:
    with pytest.raises(ValidationError, match="base_url is required"):
        ModelCreate(model_id="v", model_name="V", model_type="vllm")
    with pytest.raises(ValidationError, match="http"):
        ModelCreate(model_id="v", model_name="V", model_type="vllm", base_url="gpu-box:8000")
    assert ModelCreate(model_id="o", model_name="O", model_type="openai").base_url is None


def test_model_ids_are_url_safe_and_updates_reject_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        ModelCreate(model_id="has space", model_name="x", base_url="http://h")
    with pytest.raises(ValidationError, match="model_id"):
        ModelUpdate.model_validate({"model_id": "other"})
