"""The API notebook (shared/seed/000_*.txt), cell by cell, against the hub started as `make run` does.

Every call is made as the notebook makes it; each asserts the status code and the fields the notebook
reads. The notebook's evaluations name models nobody serves here (gpt-4o-mini, ...), which go to the
default endpoint (pointed at a closed local port), and built-in benchmarks whose datasets live on the
Hugging Face Hub (unreachable here): every evaluation must end `failed` with the reason, never hang."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import httpx
import pytest

from tests.support.hub import Hub, free_port, running_hub, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    env = {
        "EVAL_HUB_MODEL_LOCAL_TINY_URL": "http://127.0.0.1:9/v1",
        "EVAL_HUB_MODEL_LOCAL_TINY_NAME": "Local tiny model",
        "EVAL_HUB_MODEL_LOCAL_TINY_TYPE": "vllm",
        "EVALHUB_DEFAULT_MODEL_BASE_URL": f"http://127.0.0.1:{free_port()}/v1",
    }
    with running_hub(tmp_path_factory.mktemp("hub"), env) as h:
        yield h


def test_health(api: httpx.Client) -> None:
    r = api.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "healthy"
    assert isinstance(body["version"], str)
    assert body["uptime_seconds"] >= 0
    assert body["components"]["storage"]["status"] == "healthy"


def test_providers_and_benchmarks(api: httpx.Client) -> None:
    providers = api.get("/providers").json()
    assert providers["total_providers"] == len(providers["providers"]) >= 2
    for p in providers["providers"]:
        assert {"provider_name", "provider_id", "provider_type", "benchmark_count"} <= p.keys()

    provider = api.get("/providers/lm_evaluation_harness").json()
    assert provider["provider_name"] and provider["description"]
    assert len(provider["benchmarks"]) >= 150

    all_benchmarks = api.get("/benchmarks").json()
    assert all_benchmarks["total_count"] == len(all_benchmarks["benchmarks"])
    for b in all_benchmarks["benchmarks"][:5]:
        assert {"name", "benchmark_id", "category", "provider_id"} <= b.keys()

    math = api.get("/benchmarks", params={"category": "math"}).json()
    assert "gsm8k" in {b["benchmark_id"] for b in math["benchmarks"]}
    assert all(b["category"] == "math" and b["description"] for b in math["benchmarks"])

    listed = api.get("/providers/lm_evaluation_harness/benchmarks")
    assert listed.status_code == 200
    assert isinstance(listed.json(), list) and all("category" in b for b in listed.json())

    collections = api.get("/collections").json()
    assert collections["total_collections"] >= 4
    for c in collections["collections"]:
        assert c["name"] and c["collection_id"] and c["description"]
        assert all({"provider_id", "benchmark_id"} <= ref.keys() for ref in c["benchmarks"])


def test_model_registry_cells(api: httpx.Client) -> None:
    # List all / only active / a model that does not exist.
    models = api.get("/models").json()
    assert [m["model_id"] for m in models["runtime_models"]] == ["local-tiny"]
    assert models["total_models"] == len(models["models"]) + len(models["runtime_models"])
    assert api.get("/models", params={"include_inactive": False}).status_code == 200
    missing = api.get("/models/gpt-4-turbo")
    assert missing.status_code == 404 and "gpt-4-turbo" in missing.json()["detail"]

    groq = {
        "model_id": "groq-llama-3.1-70b",
        "model_name": "Llama 3.1 70B via Groq",
        "description": "Meta's Llama 3.1 70B model accessed through Groq API",
        "model_type": "openai-compatible",
        "base_url": "https://api.groq.com/openai/v1",
        "api_key_required": True,
        "model_path": "llama-3.1-70b-versatile",
        "capabilities": {
            "max_tokens": 8192,
            "supports_streaming": True,
            "supports_function_calling": True,
            "context_window": 131072,
        },
        "config": {"temperature": 0.7, "max_tokens": 2048, "timeout": 60, "retry_attempts": 3},
        "status": "active",
        "tags": ["groq", "llama", "openai-compatible", "fast"],
    }
    r = api.post("/models", json=groq)
    assert r.status_code == 201, r.text
    assert r.json()["model_id"] == "groq-llama-3.1-70b" and r.json()["created_at"]
    assert api.post("/models", json=groq).status_code == 409

    vllm = {
        "model_id": "local-llama-2-7b",
        "model_name": "Local Llama 2 7B",
        "description": "Llama 2 7B running on local vLLM server",
        "model_type": "vllm",
        "base_url": "http://localhost:8000",
        "api_key_required": False,
        "model_path": "/models/llama-2-7b",
        "capabilities": {"max_tokens": 4096, "supports_streaming": True, "context_window": 4096},
        "config": {"temperature": 0.0, "max_tokens": 512, "timeout": 120, "retry_attempts": 2},
        "status": "active",
        "tags": ["vllm", "local", "llama-2"],
    }
    assert api.post("/models", json=vllm).status_code == 201

    got = api.get("/models/groq-llama-3.1-70b").json()
    assert got["capabilities"]["context_window"] == 131072 and got["tags"][0] == "groq"

    update = {
        "model_name": "Llama 3.1 70B (Groq) - Updated",
        "description": "Updated description for Llama 3.1 70B via Groq",
        "status": "active",
        "tags": ["groq", "llama", "openai-compatible", "fast", "updated"],
    }
    r = api.put("/models/groq-llama-3.1-70b", json=update)
    assert r.status_code == 200
    assert r.json()["model_name"] == "Llama 3.1 70B (Groq) - Updated" and "updated" in r.json()["tags"]
    assert r.json()["base_url"] == "https://api.groq.com/openai/v1"  # untouched fields stay
    assert api.put("/models/nope", json=update).status_code == 404

    r = api.delete("/models/groq-llama-3.1-70b")
    assert r.status_code == 200 and "deleted" in r.json()["message"]
    assert api.delete("/models/groq-llama-3.1-70b").status_code == 404
    r = api.delete("/models/local-tiny")
    assert r.status_code == 400 and "runtime" in r.json()["detail"]

    r = api.post("/models/reload")
    assert r.status_code == 200 and r.json()["message"]
    assert len(api.get("/models").json()["runtime_models"]) == 1


SINGLE = {
    "model_name": "gpt-4o-mini",
    "model_configuration": {"temperature": 0.0, "max_tokens": 512},
    "timeout_minutes": 30,
    "retry_attempts": 1,
    "limit": 100,
    "num_fewshot": 0,
    "experiment_name": "Single Benchmark - ARC Easy",
    "tags": {
        "example_type": "single_benchmark",
        "provider": "lm_evaluation_harness",
        "benchmark": "arc_easy",
    },
}


def risk_request(model: str = "gpt-4o-mini", risk: str = "low", **extra: object) -> dict[str, object]:
    return {
        "request_id": str(uuid4()),
        "experiment_name": "Simple Risk-Based Evaluation",
        "evaluations": [
            {
                "name": "GPT-4 Mini Low Risk Evaluation",
                "description": "Basic evaluation using low risk benchmarks",
                "model_name": model,
                "model_configuration": {"temperature": 0.0, "max_tokens": 512},
                "risk_category": risk,
                "timeout_minutes": 30,
                "retry_attempts": 1,
                **extra,
            }
        ],
        "tags": {"example_type": "risk_category", "complexity": "simple"},
    }


EXPLICIT = {
    "experiment_name": "Explicit Backend Configuration",
    "evaluations": [
        {
            "name": "LM-Eval Harness Evaluation",
            "description": "Evaluation with explicit lm-evaluation-harness configuration",
            "model_name": "gpt-4o-mini",
            "model_configuration": {"temperature": 0.1, "max_tokens": 256, "top_p": 0.95},
            "backends": [
                {
                    "name": "lm-eval-backend",
                    "type": "lm-evaluation-harness",
                    "config": {"batch_size": 1, "device": "cpu"},
                    "benchmarks": [
                        {
                            "name": "arc_easy",
                            "tasks": ["arc_easy"],
                            "config": {"num_fewshot": 5, "limit": 50},
                        },
                        {
                            "name": "hellaswag",
                            "tasks": ["hellaswag"],
                            "config": {"num_fewshot": 10, "limit": 100},
                        },
                    ],
                }
            ],
            "timeout_minutes": 45,
            "retry_attempts": 2,
        }
    ],
    "tags": {"example_type": "explicit_backend", "complexity": "intermediate"},
}


def nemo_request(nemo_port: int) -> dict[str, object]:
    return {
        "request_id": str(uuid4()),
        "experiment_name": "NeMo Evaluator Single Container",
        "evaluations": [
            {
                "name": "GPT-4 via NeMo Evaluator",
                "description": "Remote evaluation using NeMo Evaluator container",
                "model_name": "gpt-4-turbo",
                "model_configuration": {"temperature": 0.0, "max_tokens": 512, "top_p": 0.95},
                "backends": [
                    {
                        "name": "remote-nemo-evaluator",
                        "type": "nemo-evaluator",
                        "config": {
                            "endpoint": "localhost",
                            "port": nemo_port,
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
                        },
                        "benchmarks": [
                            {
                                "name": "mmlu_pro_sample",
                                "tasks": ["mmlu_pro"],
                                "config": {"limit": 25, "num_fewshot": 5},
                            }
                        ],
                    }
                ],
                "timeout_minutes": 60,
                "retry_attempts": 1,
            }
        ],
        "tags": {
            "example_type": "nemo_evaluator_single",
            "complexity": "advanced",
            "backend": "remote_container",
        },
    }


def test_evaluation_cells(api: httpx.Client) -> None:
    created: list[str] = []

    # Single benchmark (simplified API).
    r = api.post("/evaluations/benchmarks/lm_evaluation_harness/arc_easy", json=SINGLE)
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] in ("pending", "running") and body["experiment_url"]
    assert body["total_evaluations"] == 1
    created.append(body["request_id"])

    # Risk category: low = hellaswag + arc_easy.
    req = risk_request()
    r = api.post("/evaluations", json=req)
    assert r.status_code == 202, r.text
    assert r.json()["request_id"] == req["request_id"]
    assert {res["benchmark_name"] for res in r.json()["results"]} == {"hellaswag", "arc_easy"}
    created.append(req["request_id"])
    # The same body again returns the stored request; another body with that id is a conflict.
    again = api.post("/evaluations", json=req)
    assert again.status_code == 202 and again.json()["request_id"] == req["request_id"]
    assert api.post("/evaluations", json={**req, "experiment_name": "other"}).status_code == 409

    # Explicit lm-evaluation-harness backend: one job per benchmark.
    r = api.post("/evaluations", json={"request_id": str(uuid4()), **EXPLICIT})
    assert r.status_code == 202, r.text
    assert r.json()["total_evaluations"] == 2
    created.append(r.json()["request_id"])

    # NeMo Evaluator backend (nobody listens on its port here).
    r = api.post("/evaluations", json=nemo_request(free_port()))
    assert r.status_code == 202, r.text
    created.append(r.json()["request_id"])

    # Batch: two models x two risk levels.
    for model in ["gpt-4o-mini", "gpt-3.5-turbo"]:
        for risk in ["low", "medium"]:
            batch = risk_request(model, risk)
            batch["evaluations"][0].pop("retry_attempts")  # type: ignore[index]
            r = api.post("/evaluations", json=batch)
            assert r.status_code == 202, r.text
            assert r.json()["total_evaluations"] == (2 if risk == "low" else 4)
            created.append(r.json()["request_id"])

    # Configuration validation.
    for config, ok in [
        ({"timeout_minutes": 120, "retry_attempts": 5}, True),
        ({"timeout_minutes": 0, "retry_attempts": 1}, False),
        ({"timeout_minutes": 30, "retry_attempts": -1}, False),
    ]:
        test_request = {
            "request_id": str(uuid4()),
            "experiment_name": "config test",
            "evaluations": [
                {"name": "Config test", "model_name": "gpt-4o-mini", "risk_category": "low", **config}
            ],
        }
        r = api.post("/evaluations", json=test_request)
        if ok:
            assert r.status_code == 202, r.text
            created.append(r.json()["request_id"])
        else:
            assert r.status_code == 422 and r.json()["detail"]
            assert api.get(f"/evaluations/{test_request['request_id']}").status_code == 404

    # Status of one, then the list (newest first), then system metrics.
    status = api.get(f"/evaluations/{created[1]}").json()
    assert {
        "status",
        "progress_percentage",
        "total_evaluations",
        "completed_evaluations",
        "failed_evaluations",
    } <= (status.keys())
    listed = api.get("/evaluations")
    assert listed.status_code == 200
    ids = [e["request_id"] for e in listed.json()]
    assert set(created) <= set(ids)
    assert all(
        {"request_id", "status", "progress_percentage", "created_at"} <= e.keys() for e in listed.json()
    )
    page = api.get("/evaluations", params={"limit": 3})
    assert len(page.json()) == 3 and page.headers["X-Next-Page-Token"]
    nxt = api.get("/evaluations", params={"limit": 3, "page_token": page.headers["X-Next-Page-Token"]})
    assert not {e["request_id"] for e in page.json()} & {e["request_id"] for e in nxt.json()}

    metrics = api.get("/metrics/system").json()
    assert metrics["total_requests"] >= len(created)
    assert {"active_evaluations", "running_tasks", "status_breakdown"} <= metrics.keys()
    assert metrics["memory_usage"]["active_evaluations_mb"] >= 0

    # Cancel one that has not ended; cancelling it again is a conflict.
    victim = created[-1]
    r = api.delete(f"/evaluations/{victim}")
    assert r.status_code == 200 and r.json()["message"]
    assert api.get(f"/evaluations/{victim}").json()["status"] == "cancelled"
    assert api.delete(f"/evaluations/{victim}").status_code == 409

    # None hangs: every evaluation ends, and these (no reachable model) end failed with the reason.
    for request_id in created[:-1]:
        final = wait_for(api, request_id, timeout=300)
        assert final["status"] == "failed", final
        for result in final["results"]:  # type: ignore[union-attr]
            assert result["status"] == "failed" and result["error_message"], result
            if result["backend_type"] == "lm-evaluation-harness":  # the runner found the hub unreachable
                assert "Hugging Face Hub is unreachable" in result["error_message"], result


def test_error_cells(api: httpx.Client) -> None:
    invalid = {
        "request_id": "invalid-uuid-format",
        "evaluations": [{"name": "", "model_name": "", "backends": []}],
    }
    r = api.post("/evaluations", json=invalid)
    assert r.status_code == 422
    assert r.json()["detail"]

    r = api.get(f"/evaluations/{uuid4()}")
    assert r.status_code == 404 and "not found" in r.json()["detail"]
    assert api.delete(f"/evaluations/{uuid4()}").status_code == 404
    assert api.post("/evaluations/benchmarks/nope/arc_easy", json=SINGLE).status_code == 404
    assert api.post("/evaluations/benchmarks/lm_evaluation_harness/nope", json=SINGLE).status_code == 404


def test_openapi_and_docs(hub: Hub) -> None:
    assert httpx.get(f"{hub.base_url}/openapi.json").json()["info"]["title"] == "Eval Hub"
    assert httpx.get(f"{hub.base_url}/docs").status_code == 200


def test_restart_keeps_models_and_evaluations(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"EVALHUB_MAX_CONCURRENT_JOBS": "1"}
    with running_hub(home, env) as hub, httpx.Client(base_url=hub.api, timeout=30) as api:
        model = {
            "model_id": "keep-me",
            "model_name": "Keep me",
            "model_type": "vllm",
            "base_url": "http://127.0.0.1:9/v1",
        }
        assert api.post("/models", json=model).status_code == 201
        req = risk_request("keep-me")
        assert api.post("/evaluations", json=req).status_code == 202
    with running_hub(home, env) as hub, httpx.Client(base_url=hub.api, timeout=30) as api:
        assert api.get("/models/keep-me").json()["model_name"] == "Keep me"
        stored = api.get(f"/evaluations/{req['request_id']}")
        assert stored.status_code == 200 and stored.json()["total_evaluations"] == 2
        assert wait_for(api, str(req["request_id"]), timeout=180)["status"] == "failed"
