"""NeMo Evaluator backend: drives an NVIDIA NeMo Evaluator service over its documented v1 REST API.

The API as NVIDIA documents it (NeMo microservices "Evaluator", v1; v2 is a preview with a ``spec``
envelope and is not used here):

- ``POST /v1/evaluation/targets`` creates a target, unique per ``namespace``/``name``. A model target
  is ``{"type": "model", "name", "namespace", "model": {"api_endpoint": {"url", "model_id",
  "api_key", "format"}}}``; ``url`` is the full ``.../chat/completions`` or ``.../completions`` URL,
  ``format`` one of ``nim``/``openai``/``lama_stack``. Target types: model, cached_outputs, retriever,
  rag, rows, dataset. The service stores ``api_key`` as a secret for the target's lifetime.
  https://docs.nvidia.com/nemo/microservices/latest/evaluate/evaluation-targets/create-target.html
  https://docs.nvidia.com/nemo/microservices/25.9.0/evaluate/evaluation-targets/target-schema.html
- ``POST /v1/evaluation/configs`` creates a config: ``type`` (required, min length 1: ``gsm8k``,
  ``mmlu``, ``mmlu_pro``, ``gpqa``, ``custom``, ...), ``tasks`` (task name -> ``{"type": ...}``),
  ``params`` with ``parallelism``, ``request_timeout``, ``max_retries``, ``limit_samples``,
  ``max_tokens``, ``temperature``, ``top_p``, ``stop`` and ``extra`` (harness-specific, e.g.
  ``num_fewshot``, ``batch_size``, ``tokenizer``, ``apply_chat_template``).
  https://docs.nvidia.com/nemo/microservices/25.11.0/evaluate/evaluation-configs/schema.html
  https://docs.nvidia.com/nemo/microservices/25.6.0/evaluate/evaluation-configs/create-config.html
  https://docs.nvidia.com/nemo/microservices/latest/evaluate/evaluation-types/lm-harness.html
- ``POST /v1/evaluation/jobs`` with ``{"namespace", "target", "config"}`` where target and config are
  ``"<namespace>/<name>"`` references (or inline objects); optional ``description``,
  ``custom_fields``, ``project``. The answer carries ``id`` and ``status`` ("created").
  https://docs.nvidia.com/nemo/microservices/latest/evaluate/evaluation-jobs/create-job.html
- ``GET /v1/evaluation/jobs/{id}/status`` answers ``{status, message, task_status, progress,
  samples_processed}``; ``progress`` is a percentage (0-100), null unless ``limit_samples`` is set.
  Statuses: created, pending, running, completed, cancelled, failed (documented in capitals, sent in
  lower case; llama-stack's NVIDIA provider also lists "cancelling").
  https://docs.nvidia.com/nemo/microservices/25.8.0/evaluate/evaluation-jobs/get-job-status.html
  github.com/meta-llama/llama-stack llama_stack/providers/remote/eval/nvidia/eval.py
- ``GET /v1/evaluation/jobs/{id}/results`` answers ``{id, job, tasks, groups, ...}`` with
  ``tasks.<task>.metrics.<metric>.scores.<score>.value`` (groups alike); ``download-results`` gives
  the full artifacts as a ZIP. ``POST /v1/evaluation/jobs/{id}/cancel`` cancels (SDK
  ``evaluation.jobs.cancel``). ``GET /health`` answers healthy.
  https://docs.nvidia.com/nemo/microservices/latest/evaluate/evaluation-results.html
  https://docs.nvidia.com/nemo/microservices/latest/pysdk/reference/nemo_microservices/nemo_microservices.resources.evaluation.jobs.html
- The open-source ``nemo-evaluator`` package uses the same result model (``EvaluationResult`` ->
  ``TaskResult.metrics`` -> ``MetricResult.scores`` -> ``Score.value``/``stats``) and the same
  ``ConfigParams`` (NVIDIA-NeMo/Evaluator, packages/nemo-evaluator/src/nemo_evaluator/api/api_dataclasses.py);
  e.g. its gsm8k reports ``metrics["exact_match__strict-match"].scores["exact_match__strict-match"]``.

What this backend sends, from the job's ``NemoBackendConfig``:

- service ``http://<endpoint>:<port>`` (``endpoint`` used as is when it has a scheme), ``verify_ssl``;
- namespace ``framework_name`` (else ``evalhub``); target and config named ``evalhub-<request>-<job>``
  (reused when the name exists, e.g. on a retried attempt), with the ids in ``custom_fields``;
- target ``url`` = ``model_endpoint``, else the model's base URL + ``/chat/completions`` or
  ``/completions`` (``endpoint_type``); ``model_id`` = the model's name; ``api_key`` from the
  environment variable ``api_key_env``, else the model's key; ``format`` = ``openai``;
- config ``type`` = ``config_type`` from the backend config, else the first task; ``tasks`` = every
  task of the benchmark; ``params.limit_samples`` = the benchmark's ``limit``, else
  ``limit_samples``; ``temperature``/``top_p`` from the backend config, else the evaluation's
  ``model_configuration``; ``max_tokens`` from ``model_configuration``; ``request_timeout`` =
  ``timeout_seconds``; ``parallelism``, ``max_retries``; ``extra`` = the benchmark's other parameters
  (``num_fewshot``, ...).

The whole remote job must end within ``timeout_seconds``; past it the job is cancelled.

Metric names: each score of each kept entry becomes one metric. Entries are the results' ``tasks``
(and ``groups`` not already among them), narrowed to the job's own tasks when any of them appears.
A metric with one score is named ``<metric>``; with several, the score named like the metric keeps
``<metric>`` and the others are ``<metric>/<score>``. With more than one entry every name is
prefixed ``<task>/``. E.g. ``{"accuracy": 0.61}`` for mmlu_pro alone;
``{"gsm8k/exact_match/strict-match": ..., "gsm8k/exact_match/flexible-extract": ...,
"hendrycks_math/exact_match": ...}`` for two tasks.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

from evalhub.models import JobRecord
from evalhub.models.evaluation import NemoBackendConfig

from .base import BackendError, BackendResult, ProgressSink, ResolvedModel

API = "/v1/evaluation"
DEFAULT_NAMESPACE = "evalhub"
SECRET_KEYS = frozenset({"api_key", "hf_token"})
FAILED = frozenset({"failed", "error"})
CANCELLED = frozenset({"cancelled", "cancelling"})
MAX_POLL_FAILURES = 5  # consecutive failed status polls tolerated before giving up


class NemoBackend:
    """Runs one job's tasks as one NeMo Evaluator job and maps its metrics."""

    def __init__(
        self,
        *,
        env: Mapping[str, str] | None = None,
        min_poll: float = 0.2,
        max_poll: float = 5.0,
        connect_timeout: float = 3.0,
        read_timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._env = os.environ if env is None else env
        self._min_poll, self._max_poll = min_poll, max_poll
        self._timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self._sleep = sleep

    def run(self, job: JobRecord, model: ResolvedModel, report: ProgressSink, workdir: Path) -> BackendResult:
        cfg = NemoBackendConfig.model_validate(job.backend_config)
        base = service_url(cfg)
        namespace = cfg.framework_name or DEFAULT_NAMESPACE
        name = entity_name(job)
        target_body = build_target(job, model, cfg, namespace, name, self._api_key(cfg, model))
        config_body = build_config(job, model, cfg, namespace, name)
        with httpx.Client(base_url=base, verify=cfg.verify_ssl, timeout=self._timeout) as http:
            api = _Api(http, base)
            target = api.create("targets", target_body)
            _check_same_model(target, target_body, base)
            config = api.create("configs", config_body)
            created = api.post(f"{API}/jobs", build_job(job, namespace, name))
            job_id = str(created.get("id") or "")
            if not job_id:
                raise BackendError(f"NeMo Evaluator at {base} created a job without an id: {created}")
            try:
                final = self._wait(api, job_id, cfg.timeout_seconds, report)
                results = api.get(f"{API}/jobs/{job_id}/results")
            except _JobEnded:
                raise
            except BaseException:
                # Timed out, interrupted or cancelled here: don't leave the remote job running for nobody.
                api.cancel(job_id)
                raise
        metrics = flatten_metrics(results, job.tasks)
        if not metrics:
            raise BackendError(
                f"NeMo Evaluator job {job_id} completed but its results hold no numeric metrics "
                f"for tasks {job.tasks}; see the results document"
            )
        report(1.0)
        documents = {"results": results, "job": final | {"id": job_id}, "config": config, "target": target}
        return BackendResult(metrics=metrics, documents=redact(documents))

    def _api_key(self, cfg: NemoBackendConfig, model: ResolvedModel) -> str | None:
        if cfg.api_key_env:
            key = self._env.get(cfg.api_key_env)
            if key:
                return key
            if not model.api_key:
                raise BackendError(
                    f"environment variable {cfg.api_key_env} (backend config api_key_env) is not set "
                    "in the runner; set it or give the model an API key",
                    permanent=True,
                )
        return model.api_key

    def _wait(self, api: _Api, job_id: str, timeout: float, report: ProgressSink) -> dict[str, Any]:
        """Polls until the job ends; returns the job as the service last described it."""
        deadline = time.monotonic() + timeout
        delay, failures, best = self._min_poll, 0, 0.0
        while True:
            try:
                status = api.get(f"{API}/jobs/{job_id}/status")
                failures = 0
            except _Transient as exc:
                failures += 1
                if failures >= MAX_POLL_FAILURES:
                    raise BackendError(f"lost contact while polling job {job_id}: {exc}") from exc
                status = {}
            state = str(status.get("status") or "").lower()
            if status and not state:  # some versions keep the status on the job only
                state = str(api.get(f"{API}/jobs/{job_id}").get("status") or "").lower()
            progress = _fraction(status.get("progress"))
            if progress is not None and progress > best:
                best = progress
                report(best)
            if state == "completed":
                return api.get(f"{API}/jobs/{job_id}")
            if state in FAILED or state in CANCELLED:
                verb = "failed" if state in FAILED else "was cancelled on the service"
                message = status.get("message") or _job_message(api, job_id) or "no message from the service"
                raise _JobEnded(f"NeMo Evaluator job {job_id} {verb}: {message}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise BackendError(
                    f"NeMo Evaluator job {job_id} did not finish within {timeout:g} s (backend config "
                    f"timeout_seconds; last status {state or 'unknown'}); it was cancelled"
                )
            self._sleep(min(delay, left))
            delay = min(delay * 1.5, self._max_poll)


class _JobEnded(BackendError):
    """The remote job ended without results (failed or cancelled there): nothing to cancel."""


class _Transient(BackendError):
    """A GET that may succeed if tried again (connection trouble, timeout, 5xx)."""


class _Api:
    """Thin JSON calls that turn the service's failures into actionable ``BackendError``s."""

    def __init__(self, http: httpx.Client, base: str) -> None:
        self._http, self._base = http, base

    def get(self, path: str) -> dict[str, Any]:
        return self._call("GET", path, None)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", path, body)

    def create(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        """Creates a target/config; an existing one of the same namespace/name is reused."""
        try:
            return self.post(f"{API}/{kind}", body)
        except _Conflict:
            return self.get(f"{API}/{kind}/{body['namespace']}/{body['name']}")

    def cancel(self, job_id: str) -> None:
        with contextlib.suppress(httpx.HTTPError):
            self._http.post(f"{API}/jobs/{job_id}/cancel", json={}, timeout=5.0)

    def _call(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        # A failed GET (a poll, a read) may be retried; a failed POST is reported at once.
        error = _Transient if method == "GET" else BackendError
        try:
            response = self._http.request(method, path, json=body)
        except httpx.ConnectError as exc:
            raise BackendError(
                f"NeMo Evaluator at {self._base} is unreachable: {_reason(exc)}; check the backend "
                "config's endpoint and port and that the service is running"
            ) from exc
        except httpx.TimeoutException as exc:
            raise error(f"NeMo Evaluator at {self._base} did not answer {method} {path} in time") from exc
        except httpx.TransportError as exc:
            raise error(f"NeMo Evaluator at {self._base} failed on {method} {path}: {_reason(exc)}") from exc
        if response.status_code == 409 and method == "POST":
            raise _Conflict(_detail(response))
        if response.status_code >= 400:
            message = (
                f"NeMo Evaluator at {self._base} {'failed on' if response.status_code >= 500 else 'rejected'} "
                f"{method} {path} (HTTP {response.status_code}): {_detail(response)}"
            )
            if response.status_code >= 500:
                raise error(message)
            # The service refusing a well-formed request (bad config, unknown task) will refuse it again.
            raise BackendError(message, permanent=response.status_code not in (408, 429))
        try:
            data = response.json()
        except ValueError as exc:
            raise BackendError(
                f"NeMo Evaluator at {self._base} answered {method} {path} with non-JSON"
            ) from exc
        if not isinstance(data, dict):
            raise BackendError(
                f"NeMo Evaluator at {self._base} answered {method} {path} with {type(data).__name__}"
            )
        return data


class _Conflict(Exception):
    pass


def service_url(cfg: NemoBackendConfig) -> str:
    endpoint: str = cfg.endpoint.strip().rstrip("/")
    if "://" in endpoint:
        return endpoint
    return f"http://{endpoint}:{cfg.port}"


def entity_name(job: JobRecord) -> str:
    """A name NeMo accepts (``^[\\w\\-\\+.@:]*$``, <= 255) that traces back to the request and job."""
    ids = job.job_id if job.request_id in job.job_id else f"{job.request_id}-{job.job_id}"
    return re.sub(r"[^\w\-+.@:]", "-", f"evalhub-{ids}")[:255]


def model_url(cfg: NemoBackendConfig, model: ResolvedModel) -> str:
    explicit: str | None = cfg.model_endpoint
    if explicit:
        return explicit
    if not model.base_url:
        raise BackendError(
            f"NeMo Evaluator calls the model over HTTP, but model {model.name!r} has no base_url; "
            "set the backend config's model_endpoint or use an OpenAI-compatible model",
            permanent=True,
        )
    path = "chat/completions" if cfg.endpoint_type == "chat" else "completions"
    return f"{model.base_url.rstrip('/')}/{path}"


def _ids(job: JobRecord) -> dict[str, str]:
    return {
        "evalhub_request_id": job.request_id,
        "evalhub_job_id": job.job_id,
        "evalhub_benchmark": job.benchmark_name,
    }


def build_target(
    job: JobRecord,
    model: ResolvedModel,
    cfg: NemoBackendConfig,
    namespace: str,
    name: str,
    api_key: str | None,
) -> dict[str, Any]:
    endpoint: dict[str, Any] = {"url": model_url(cfg, model), "model_id": model.name, "format": "openai"}
    if api_key:
        endpoint["api_key"] = api_key
    return {
        "type": "model",
        "name": name,
        "namespace": namespace,
        "description": f"Eval Hub model {model.name} for job {job.job_id}",
        "custom_fields": _ids(job),
        "model": {"api_endpoint": endpoint},
    }


def build_config(
    job: JobRecord, model: ResolvedModel, cfg: NemoBackendConfig, namespace: str, name: str
) -> dict[str, Any]:
    bench = dict(job.benchmark_config)
    gen = {**model.generation_defaults, **_not_none(job.model_configuration)}
    extra = {k: v for k, v in bench.items() if k != "limit" and v is not None}
    params = _not_none(
        {
            "limit_samples": bench.get("limit") or cfg.limit_samples,
            "parallelism": cfg.parallelism,
            "temperature": _first(cfg.temperature, gen.get("temperature")),
            "top_p": _first(cfg.top_p, gen.get("top_p")),
            "max_tokens": gen.get("max_tokens"),
            "request_timeout": max(1, math.ceil(cfg.timeout_seconds)),
            "max_retries": cfg.max_retries,
        }
    )
    if extra:
        params["extra"] = extra
    config_type = (cfg.model_extra or {}).get("config_type") or job.tasks[0]
    return {
        "type": str(config_type),
        "name": name,
        "namespace": namespace,
        "description": f"Eval Hub benchmark {job.benchmark_name} for job {job.job_id}",
        "custom_fields": _ids(job),
        "tasks": {task: {"type": task} for task in job.tasks},
        "params": params,
    }


def build_job(job: JobRecord, namespace: str, name: str) -> dict[str, Any]:
    return {
        "namespace": namespace,
        "target": f"{namespace}/{name}",
        "config": f"{namespace}/{name}",
        "description": f"Eval Hub request {job.request_id} job {job.job_id} ({job.benchmark_name})",
        "custom_fields": _ids(job),
    }


def flatten_metrics(results: Mapping[str, Any], tasks: list[str]) -> dict[str, float]:
    """NeMo results -> flat metrics, by the rule in the module docstring."""
    entries: dict[str, Any] = dict(results.get("tasks") or {})
    for group, data in (results.get("groups") or {}).items():
        entries.setdefault(group, data)
    own = {name: data for name, data in entries.items() if name in tasks}
    entries = own or entries
    prefix = len(entries) > 1
    metrics: dict[str, float] = {}
    for entry, data in entries.items():
        for metric, result in ((data or {}).get("metrics") or {}).items():
            scores = (result or {}).get("scores") or {}
            for score, body in scores.items():
                value = _number((body or {}).get("value") if isinstance(body, dict) else body)
                if value is None:
                    continue
                key = metric if len(scores) == 1 or score == metric else f"{metric}/{score}"
                metrics[f"{entry}/{key}" if prefix else key] = value
    return metrics


def redact(value: Any) -> Any:
    """A copy with secrets (api_key, hf_token) replaced, wherever they sit."""
    if isinstance(value, dict):
        return {k: "<redacted>" if k in SECRET_KEYS and v else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def _check_same_model(target: Mapping[str, Any], wanted: Mapping[str, Any], base: str) -> None:
    """A reused target must point at the same model; a name clash must never evaluate another model."""
    model = target.get("model")
    have = (model.get("api_endpoint") or {}) if isinstance(model, dict) else {}
    want = wanted["model"]["api_endpoint"]
    if have and (have.get("url"), have.get("model_id")) != (want["url"], want["model_id"]):
        raise BackendError(
            f"NeMo Evaluator at {base} already has target {wanted['namespace']}/{wanted['name']} for "
            f"{have.get('model_id')} at {have.get('url')}; delete it or use another framework_name"
        )


def _job_message(api: _Api, job_id: str) -> str | None:
    try:
        details = api.get(f"{API}/jobs/{job_id}").get("status_details") or {}
    except BackendError:
        return None
    message = details.get("message") if isinstance(details, dict) else None
    return str(message) if message else None


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, list):  # FastAPI validation errors: "loc.path: msg"
        return "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', []) if p != 'body')}: {e.get('msg')}"
            if isinstance(e, dict)
            else str(e)
            for e in detail
        )
    return str(detail)


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return re.sub(r"^\[Errno -?\d+\]\s*", "", text).lower()


def _fraction(progress: Any) -> float | None:
    value = _number(progress)
    return None if value is None else min(max(value / 100.0, 0.0), 1.0)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def _not_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}
