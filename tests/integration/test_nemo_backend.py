"""The NeMo Evaluator backend against a stand-in that implements NVIDIA's documented v1 API."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from evalhub.models import JobRecord, ModelType
from evalhub.models.common import BackendType
from evalhub_runner.backends.base import BackendError, ResolvedModel
from evalhub_runner.backends.nemo import NemoBackend, entity_name, flatten_metrics
from tests.support.nemo_server import NemoServer

SECRET = "sk-test-secret-from-env"
REQUEST_ID = "5b0e3c1e-6a2f-4c55-9a51-0d3f6f8e2b7a"


def notebook_config(port: int, **overrides: Any) -> dict[str, Any]:
    """The seed notebook's single-container NeMo backend config, pointed at the stand-in."""
    return {
        "endpoint": "127.0.0.1",
        "port": port,
        "model_endpoint": "https://api.openai.com/v1/chat/completions",
        "endpoint_type": "chat",
        "api_key_env": "OPENAI_API_KEY",
        "timeout_seconds": 1800,
        "max_retries": 2,
        "verify_ssl": False,
        "framework_name": "eval-hub-example",
        "parallelism": 1,
        "limit_samples": 25,
        "temperature": 0.0,
        "top_p": 0.95,
    } | overrides


def make_job(
    backend_config: dict[str, Any],
    tasks: list[str] | None = None,
    benchmark: str = "mmlu_pro_sample",
    bench_config: dict[str, Any] | None = None,
    job_id: str = "job-0",
) -> JobRecord:
    now = datetime.now(UTC)
    return JobRecord(
        job_id=job_id,
        request_id=REQUEST_ID,
        index=0,
        evaluation_name="GPT-4 via NeMo Evaluator",
        model_name="gpt-4-turbo",
        model_configuration={"temperature": 0.0, "max_tokens": 512, "top_p": 0.95},
        backend_name="remote-nemo-evaluator",
        backend_type=BackendType.NEMO,
        backend_config=backend_config,
        benchmark_name=benchmark,
        tasks=tasks or ["mmlu_pro"],
        benchmark_config={"limit": 25, "num_fewshot": 5} if bench_config is None else bench_config,
        timeout_minutes=60,
        max_attempts=2,
        created_at=now,
        updated_at=now,
    )


MODEL = ResolvedModel(
    name="gpt-4-turbo",
    model_type=ModelType.OPENAI,
    base_url="https://api.openai.com/v1",
    api_key="sk-registry-key",
)


class Progress:
    def __init__(self) -> None:
        self.values: list[float] = []

    def __call__(self, fraction: float) -> None:
        self.values.append(fraction)


@pytest.fixture
def nemo() -> Iterator[NemoServer]:
    with NemoServer(job_seconds=0.8) as server:
        yield server


@pytest.fixture
def backend() -> NemoBackend:
    return NemoBackend(env={"OPENAI_API_KEY": SECRET})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_notebook_job_runs_to_completion(nemo: NemoServer, backend: NemoBackend, tmp_path: Path) -> None:
    # Given the notebook's NeMo backend config and its mmlu_pro_sample benchmark
    job = make_job(notebook_config(nemo.port))
    progress = Progress()

    # When the backend runs it
    result = backend.run(job, MODEL, progress, tmp_path)

    # Then the service got a model target for the configured endpoint, with the key from the env var
    (target,) = nemo.bodies("POST", "/v1/evaluation/targets")
    assert target["type"] == "model"
    assert target["namespace"] == "eval-hub-example"
    assert job.job_id in target["name"] and REQUEST_ID in target["name"]
    assert target["model"]["api_endpoint"] == {
        "url": "https://api.openai.com/v1/chat/completions",
        "model_id": "gpt-4-turbo",
        "api_key": SECRET,
        "format": "openai",
    }
    # And a config carrying the benchmark's and the backend's parameters
    (config,) = nemo.bodies("POST", "/v1/evaluation/configs")
    assert config["type"] == "mmlu_pro"
    assert config["tasks"] == {"mmlu_pro": {"type": "mmlu_pro"}}
    assert config["params"] == {
        "limit_samples": 25,
        "parallelism": 1,
        "temperature": 0.0,
        "top_p": 0.95,
        "max_tokens": 512,
        "request_timeout": 1800,
        "max_retries": 2,
        "extra": {"num_fewshot": 5},
    }
    # And a job that references both and can be traced back to the request
    (created,) = nemo.bodies("POST", "/v1/evaluation/jobs")
    assert created["namespace"] == "eval-hub-example"
    assert created["target"] == f"eval-hub-example/{target['name']}"
    assert created["config"] == f"eval-hub-example/{config['name']}"
    assert created["custom_fields"]["evalhub_request_id"] == REQUEST_ID
    assert created["custom_fields"]["evalhub_job_id"] == job.job_id

    # And the one task's metric is mapped without a prefix, from NVIDIA's result shape
    raw = result.documents["results"]["tasks"]["mmlu_pro"]["metrics"]["accuracy"]["scores"]["accuracy"][
        "value"
    ]
    assert result.metrics == {"accuracy": raw}
    # And the documents keep everything but the API key
    assert set(result.documents) == {"results", "job", "config", "target"}
    assert result.documents["job"]["status"] == "completed"
    assert SECRET not in json.dumps(result.documents)
    # And progress rose from the service's percentage to 1.0
    assert progress.values == sorted(progress.values)
    assert any(0.0 < v < 1.0 for v in progress.values)
    assert progress.values[-1] == 1.0


def test_several_tasks_are_prefixed(nemo: NemoServer, backend: NemoBackend, tmp_path: Path) -> None:
    # Given a benchmark of two tasks (gsm8k reports two filters of exact_match, hendrycks_math one)
    cfg = notebook_config(nemo.port, framework_name="eval-hub-math", limit_samples=None)
    job = make_job(cfg, ["gsm8k", "hendrycks_math"], "math", {"limit": 50, "num_fewshot": 4})

    # When the backend runs it
    result = backend.run(job, MODEL, Progress(), tmp_path)

    # Then both tasks went into one config, and every metric name carries its task
    (config,) = nemo.bodies("POST", "/v1/evaluation/configs")
    assert config["tasks"] == {"gsm8k": {"type": "gsm8k"}, "hendrycks_math": {"type": "hendrycks_math"}}
    assert config["params"]["limit_samples"] == 50
    assert config["params"]["extra"] == {"num_fewshot": 4}
    assert set(result.metrics) == {
        "gsm8k/exact_match/strict-match",
        "gsm8k/exact_match/flexible-extract",
        "hendrycks_math/exact_match",
    }
    assert all(0.0 <= v <= 1.0 for v in result.metrics.values())


def test_key_falls_back_to_the_model_and_url_to_its_base(nemo: NemoServer, tmp_path: Path) -> None:
    # Given no model_endpoint, a completions endpoint type and no key in the environment
    cfg = notebook_config(nemo.port, model_endpoint=None, endpoint_type="completions")

    # When the backend runs
    NemoBackend(env={}).run(make_job(cfg), MODEL, Progress(), tmp_path)

    # Then the target uses the model's base URL and its own key
    (target,) = nemo.bodies("POST", "/v1/evaluation/targets")
    endpoint = target["model"]["api_endpoint"]
    assert endpoint["url"] == "https://api.openai.com/v1/completions"
    assert endpoint["api_key"] == "sk-registry-key"


def test_a_retried_job_reuses_its_target_and_config(
    nemo: NemoServer, backend: NemoBackend, tmp_path: Path
) -> None:
    # Given a job that already ran once on this service
    job = make_job(notebook_config(nemo.port))
    first = backend.run(job, MODEL, Progress(), tmp_path)

    # When the same job runs again (a retry)
    second = backend.run(job, MODEL, Progress(), tmp_path)

    # Then the existing target and config are reused (409 on create) and the results agree
    assert len(nemo.bodies("POST", "/v1/evaluation/jobs")) == 2
    assert first.metrics == second.metrics
    assert SECRET not in json.dumps(second.documents)


def test_a_target_of_another_model_is_never_reused(
    nemo: NemoServer, backend: NemoBackend, tmp_path: Path
) -> None:
    # Given the job's target name is already taken by a target for another model
    job = make_job(notebook_config(nemo.port))
    httpx.post(
        f"{nemo.url}/v1/evaluation/targets",
        json={
            "type": "model",
            "name": entity_name(job),
            "namespace": "eval-hub-example",
            "model": {"api_endpoint": {"url": "http://elsewhere/v1/completions", "model_id": "other"}},
        },
    ).raise_for_status()

    # When the job runs, Then it refuses rather than evaluating the other model
    with pytest.raises(BackendError, match="already has target eval-hub-example/"):
        backend.run(job, MODEL, Progress(), tmp_path)
    assert not nemo.bodies("POST", "/v1/evaluation/jobs")


def test_unreachable_service_fails_fast(backend: NemoBackend, tmp_path: Path) -> None:
    # Given nothing listens on the configured port
    port = free_port()
    job = make_job(notebook_config(port))

    # When the backend runs
    started = time.monotonic()
    with pytest.raises(BackendError) as err:
        backend.run(job, MODEL, Progress(), tmp_path)

    # Then it says which service is unreachable, within seconds
    assert time.monotonic() - started < 5
    assert f"NeMo Evaluator at http://127.0.0.1:{port} is unreachable" in str(err.value)
    assert "refused" in str(err.value)


def test_service_rejection_shows_its_detail(nemo: NemoServer, backend: NemoBackend, tmp_path: Path) -> None:
    # Given a model without a name, which the service's schema refuses (model_id min length 1)
    nameless = ResolvedModel(name="", model_type=ModelType.OPENAI, base_url="https://api.openai.com/v1")

    # When the backend runs, Then the 422 and the field at fault reach the error message
    with pytest.raises(BackendError, match=r"HTTP 422.*model\.api_endpoint\.model_id"):
        backend.run(make_job(notebook_config(nemo.port)), nameless, Progress(), tmp_path)


def test_failed_job_reports_the_service_message(backend: NemoBackend, tmp_path: Path) -> None:
    # Given a service whose jobs fail
    message = "Evaluation failed: model endpoint returned 401 Unauthorized"
    with NemoServer(job_seconds=0.3, fail_message=message) as nemo:
        # When the backend runs, Then the error carries the service's status message
        with pytest.raises(BackendError, match="failed: Evaluation failed: model endpoint returned 401"):
            backend.run(make_job(notebook_config(nemo.port)), MODEL, Progress(), tmp_path)
        # And no cancel was sent for a job that had already ended
        assert not [r for r in nemo.requests if r.path.endswith("/cancel")]


def test_timeout_cancels_the_remote_job(backend: NemoBackend, tmp_path: Path) -> None:
    # Given a job slower than the backend's timeout
    with NemoServer(job_seconds=30) as nemo:
        job = make_job(notebook_config(nemo.port, timeout_seconds=0.5))

        # When the backend runs, Then it gives up with a timeout error
        with pytest.raises(BackendError, match=r"did not finish within 0.5 s"):
            backend.run(job, MODEL, Progress(), tmp_path)

        # And it cancelled the remote job, which the service now reports as cancelled
        (created,) = [r for r in nemo.requests if r.path.endswith("/cancel")]
        status = httpx.get(f"{nemo.url}{created.path.removesuffix('/cancel')}/status").json()
        assert status["status"] == "cancelled"


def test_server_validates_required_fields(nemo: NemoServer) -> None:
    # Given the stand-in, When bodies miss documented required fields, Then it answers 422 with the field
    with httpx.Client(base_url=nemo.url) as http:
        missing_type = http.post("/v1/evaluation/configs", json={"name": "c", "params": {"limit_samples": 5}})
        missing_url = http.post(
            "/v1/evaluation/targets", json={"type": "model", "model": {"api_endpoint": {}}}
        )
        missing_config = http.post("/v1/evaluation/jobs", json={"target": "default/t"})
    assert missing_type.status_code == 422
    assert missing_type.json()["detail"][0]["loc"] == ["body", "type"]
    assert missing_url.status_code == 422
    locs = [e["loc"][-1] for e in missing_url.json()["detail"]]
    assert locs == ["url", "model_id"]
    assert missing_config.status_code == 422


def test_metric_naming_rule() -> None:
    # Given NVIDIA-shaped results: a same-named score beside others, and a group not asked for
    results = {
        "tasks": {
            "t": {"metrics": {"acc": {"scores": {"acc": {"value": 0.5}, "acc_norm": {"value": 0.6}}}}},
        },
        "groups": {"g": {"metrics": {"acc": {"scores": {"acc": {"value": 0.1}}}}}},
    }

    # When flattened for a job of task "t", Then the group is dropped and the names follow the rule
    assert flatten_metrics(results, ["t"]) == {"acc": 0.5, "acc/acc_norm": 0.6}
    # And for a job naming neither, both entries are kept with prefixes
    assert flatten_metrics(results, ["other"]) == {"t/acc": 0.5, "t/acc/acc_norm": 0.6, "g/acc": 0.1}
