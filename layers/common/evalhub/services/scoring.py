"""Which benchmarks a model's endpoint can score, when that is knowable before running anything.
The API refuses such a submission (422); the runner checks again before it calls the model."""

from __future__ import annotations

from ..models import Model, ModelType

# lm-eval output types scored from the prompt's token logprobs (completions with echo + logprobs),
# which chat-only endpoints cannot give.
LOGPROB_OUTPUT_TYPES = frozenset({"multiple_choice", "loglikelihood", "loglikelihood_rolling"})


def unscorable_reason(
    output_type: str | None, model_type: ModelType, supports_logprobs: bool | None
) -> str | None:
    """Why a benchmark of ``output_type`` cannot be scored by such a model, or None if it can (or
    we cannot tell)."""
    if output_type not in LOGPROB_OUTPUT_TYPES or model_type == ModelType.HUGGINGFACE:
        return None
    what = f"'{output_type}' benchmarks are scored from prompt logprobs (completions with echo=True)"
    if supports_logprobs is False:
        return (
            f"{what}, and this model is registered without logprobs support (capabilities.supports_logprobs)."
        )
    if model_type == ModelType.OLLAMA and supports_logprobs is not True:
        return f"{what}, which Ollama's OpenAI-compatible API does not return. Use a generation benchmark."
    if model_type == ModelType.OPENAI and supports_logprobs is not True:
        return f"{what}, which OpenAI's API does not return. Use a generation benchmark."
    return None


def unscorable_by(output_type: str | None, model: Model | None) -> str | None:
    """The same for a registered or runtime model; None for a name that is neither (the default
    endpoint is configurable, so what it can score is not knowable here)."""
    if model is None:
        return None
    reason = unscorable_reason(output_type, model.model_type, model.capabilities.supports_logprobs)
    return f"model '{model.model_id}': {reason}" if reason else None
