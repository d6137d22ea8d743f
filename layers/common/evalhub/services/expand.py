"""Expansion of an evaluation request into jobs: one per (evaluation, backend, benchmark), with risk
categories and collections turned into lm-evaluation-harness benchmarks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..catalog import Catalog
from ..errors import InvalidRequest, NotFound
from ..models import (
    BackendSpec,
    BackendType,
    BenchmarkRef,
    EvaluationRequestCreate,
    EvaluationSpec,
    JobRecord,
    JobStatus,
    LmEvalBackendConfig,
    Model,
)
from .scoring import unscorable_by

LM_EVAL_PROVIDER = "lm_evaluation_harness"
NEMO_PROVIDER = "nemo_evaluator"
PROVIDER_OF_BACKEND = {BackendType.LM_EVAL: LM_EVAL_PROVIDER, BackendType.NEMO: NEMO_PROVIDER}
DEFAULT_LM_EVAL_BACKEND = "lm-evaluation-harness"

FindModel = Callable[[str], Model | None]


def job_id_for(index: int) -> str:
    return f"job-{index:04d}"


def expand(
    body: EvaluationRequestCreate,
    request_id: str,
    catalog: Catalog,
    find_model: FindModel,
    now: datetime,
    max_jobs: int,
) -> list[JobRecord]:
    """Every job of the request, validated against the catalog; ``InvalidRequest`` names what to fix."""
    jobs: list[JobRecord] = []
    for n, evaluation in enumerate(body.evaluations):
        model = find_model(evaluation.model_name)
        for backend in _backends_of(evaluation, catalog, where=f"evaluations[{n}]"):
            for benchmark in backend.benchmarks:
                provider_id = benchmark.provider_id or PROVIDER_OF_BACKEND[backend.type]
                where = f"evaluations[{n}] backend '{backend.name}' benchmark '{benchmark.name}'"
                if backend.type == BackendType.LM_EVAL and benchmark.custom_task is None:
                    _check_lm_eval_tasks(catalog, provider_id, benchmark.tasks, model, where)
                if len(jobs) >= max_jobs:
                    raise InvalidRequest(f"the request expands into more than {max_jobs} jobs; split it up")
                jobs.append(
                    JobRecord(
                        job_id=job_id_for(len(jobs)),
                        request_id=request_id,
                        index=len(jobs),
                        evaluation_name=evaluation.name,
                        model_name=evaluation.model_name,
                        model_configuration=evaluation.model_configuration.model_dump(
                            mode="json", exclude_none=True
                        ),
                        backend_name=backend.name,
                        backend_type=backend.type,
                        backend_config=backend.config,
                        provider_id=provider_id,
                        benchmark_name=benchmark.name,
                        tasks=benchmark.tasks,
                        benchmark_config=benchmark.config.model_dump(mode="json", exclude_none=True),
                        custom_task=benchmark.custom_task.model_dump(exclude_none=True)
                        if benchmark.custom_task
                        else None,
                        timeout_minutes=evaluation.timeout_minutes,
                        max_attempts=1 + evaluation.retry_attempts,
                        status=JobStatus.QUEUED,
                        created_at=now,
                        updated_at=now,
                    )
                )
    return jobs


def _backends_of(evaluation: EvaluationSpec, catalog: Catalog, where: str) -> list[BackendSpec]:
    """Explicit backends, plus the ones a risk category or collection stands for."""
    backends = list(evaluation.backends)
    refs: list[tuple[BenchmarkRef, dict[str, Any]]] = []
    if evaluation.risk_category is not None:
        risk = catalog.risk_category(evaluation.risk_category)
        params = {"limit": risk.limit, "num_fewshot": risk.num_fewshot}
        refs += [(ref, params) for ref in risk.benchmarks]
    if evaluation.collection_id is not None:
        try:
            collection = catalog.collection(evaluation.collection_id)
        except NotFound as e:  # a bad reference inside a body is a body error, not a missing URL
            raise InvalidRequest(f"{where}: {e.detail}") from e
        refs += [(ref, {}) for ref in collection.benchmarks]
    by_provider: dict[str, list[dict[str, Any]]] = {}
    for ref, params in refs:
        bench = catalog.benchmark(ref.provider_id, ref.benchmark_id)
        config = {k: v for k, v in params.items() if v is not None}
        by_provider.setdefault(ref.provider_id, []).append(
            {
                "name": bench.benchmark_id,
                "tasks": [bench.benchmark_id],
                "provider_id": ref.provider_id,
                "config": config,
            }
        )
    for provider_id, benchmarks in by_provider.items():
        if provider_id == LM_EVAL_PROVIDER:
            template = next((b for b in evaluation.backends if b.type == BackendType.LM_EVAL), None)
            name = template.name if template else DEFAULT_LM_EVAL_BACKEND
            config = template.config if template else LmEvalBackendConfig().model_dump(mode="json")
            backends.append(
                BackendSpec(name=name, type=BackendType.LM_EVAL, config=config, benchmarks=benchmarks)
            )
        elif provider_id == NEMO_PROVIDER:
            template = next((b for b in evaluation.backends if b.type == BackendType.NEMO), None)
            if template is None:
                raise InvalidRequest(
                    f"{where}: collection benchmarks of provider '{NEMO_PROVIDER}' need a nemo-evaluator backend "
                    "(endpoint, port) in 'backends' to run on"
                )
            backends.append(
                BackendSpec(
                    name=template.name, type=BackendType.NEMO, config=template.config, benchmarks=benchmarks
                )
            )
        else:  # pragma: no cover - the catalog only has these providers
            raise InvalidRequest(f"{where}: provider '{provider_id}' cannot run benchmarks")
    return backends


def _check_lm_eval_tasks(
    catalog: Catalog, provider_id: str, tasks: list[str], model: Model | None, where: str
) -> None:
    if provider_id != LM_EVAL_PROVIDER:
        raise InvalidRequest(
            f"{where}: provider '{provider_id}' does not run on an lm-evaluation-harness backend"
        )
    for task in tasks:
        bench = catalog.find(provider_id, task)
        if bench is None:
            raise InvalidRequest(
                f"{where}: unknown lm-evaluation-harness task '{task}'; see GET /api/v1/providers/"
                f"{LM_EVAL_PROVIDER}/benchmarks, or give a 'custom_task' with your own task YAML"
            )
        reason = unscorable_by(bench.output_type, model)
        if reason:
            raise InvalidRequest(f"{where}: task '{task}' cannot be scored: {reason}")
