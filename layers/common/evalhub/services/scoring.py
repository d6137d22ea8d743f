"""Which benchmarks a model's endpoint can score, when that is knowable before running anything."""

from __future__ import annotations

from ..models import Model, ModelType

# lm-eval output types that need the prompt's token logprobs (completions with echo + logprobs).
LOGPROB_OUTPUT_TYPES = frozenset({"multiple_choice", "loglikelihood", "loglikelihood_rolling"})


def unscorable_reason(output_type: str | None, model: Model | None) -> str | None:
    """Why ``model`` cannot score a task of ``output_type``, or None if it can (or we cannot tell)."""
    if model is None or output_type not in LOGPROB_OUTPUT_TYPES:
        return None
    if model.model_type == ModelType.HUGGINGFACE:
        return None
    if model.capabilities.supports_logprobs is False:
        return (
            f"model '{model.model_id}' does not return prompt logprobs (capabilities.supports_logprobs is false), "
            f"so it cannot score {output_type} tasks; pick a generate_until benchmark or a completions endpoint "
            "with echo + logprobs (e.g. vLLM)"
        )
    if model.model_type == ModelType.OLLAMA and model.capabilities.supports_logprobs is not True:
        return (
            f"model '{model.model_id}' is an Ollama endpoint, whose OpenAI API returns no prompt logprobs, "
            f"so it cannot score {output_type} tasks; pick a generate_until benchmark or serve it with vLLM"
        )
    return None
