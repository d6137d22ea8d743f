"""Runtime models come from EVAL_HUB_MODEL_<ID>_* variables."""

from __future__ import annotations

from evalhub.models import ModelType
from evalhub.services.models import RuntimeModels


def test_variables_define_models() -> None:
    env = {
        "EVAL_HUB_MODEL_MY_VLLM_URL": "http://gpu:8000/v1",
        "EVAL_HUB_MODEL_MY_VLLM_NAME": "My vLLM",
        "EVAL_HUB_MODEL_MY_VLLM_TYPE": "vllm",
        "EVAL_HUB_MODEL_MY_VLLM_PATH": "meta-llama/Llama-3.1-8B",
        "EVAL_HUB_MODEL_PLAIN_URL": "http://other/v1",
        "UNRELATED": "x",
    }
    found = RuntimeModels.from_env(env)
    assert sorted(found.models) == ["my-vllm", "plain"]
    model = found.models["my-vllm"]
    assert (model.model_name, model.model_type, model.model_path, model.source) == (
        "My vLLM",
        ModelType.VLLM,
        "meta-llama/Llama-3.1-8B",
        "runtime",
    )
    assert found.models["plain"].model_type == ModelType.OPENAI_COMPATIBLE and not found.errors


def test_bad_variables_are_reported_not_fatal() -> None:
    found = RuntimeModels.from_env(
        {
            "EVAL_HUB_MODEL_BAD_URL": "not-a-url",
            "EVAL_HUB_MODEL_ODD_URL": "http://h",
            "EVAL_HUB_MODEL_ODD_TYPE": "x",
        }
    )
    assert not found.models
    assert len(found.errors) == 2 and "EVAL_HUB_MODEL_BAD_URL" in found.errors[0]
