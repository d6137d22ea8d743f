"""Bad input gets a clear 4xx with a `detail`, and nothing already stored is lost (API in-process)."""

from __future__ import annotations

from uuid import uuid4

from fastapi.testclient import TestClient

from evalhub.context import Context

VLLM = {
    "model_id": "my-vllm",
    "model_name": "Mine",
    "model_type": "vllm",
    "base_url": "http://127.0.0.1:9/v1",
}


def lm_eval_request(tasks: list[str], model: str = "gpt-4o-mini", **benchmark: object) -> dict[str, object]:
    return {
        "evaluations": [
            {
                "name": "e",
                "model_name": model,
                "backends": [
                    {
                        "name": "b",
                        "type": "lm-evaluation-harness",
                        "benchmarks": [{"name": "x", "tasks": tasks, **benchmark}],
                    }
                ],
            }
        ]
    }


def test_a_failed_update_leaves_the_model_as_it_was(client: TestClient) -> None:
    assert client.post("/models", json=VLLM).status_code == 201
    r = client.put("/models/my-vllm", json={"base_url": None})
    assert r.status_code == 422 and "base_url" in str(r.json()["detail"])
    r = client.put("/models/my-vllm", json={"base_url": "ftp://x"})
    assert r.status_code == 422
    r = client.put("/models/my-vllm", json={"status": "retired"})
    assert r.status_code == 422
    assert client.get("/models/my-vllm").json()["base_url"] == "http://127.0.0.1:9/v1"
    assert client.post("/models", json={**VLLM, "model_name": "Other"}).status_code == 409
    assert client.get("/models/my-vllm").json()["model_name"] == "Mine"


def test_inactive_models_can_be_hidden(client: TestClient) -> None:
    client.post("/models", json={**VLLM, "model_id": "old", "status": "inactive"})
    client.post("/models", json=VLLM)
    assert [m["model_id"] for m in client.get("/models").json()["models"]] == ["my-vllm", "old"]
    active = client.get("/models", params={"include_inactive": "false"}).json()
    assert [m["model_id"] for m in active["models"]] == ["my-vllm"] and active["total_models"] == 1


def test_malformed_bodies_are_422(client: TestClient) -> None:
    r = client.post("/evaluations", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert client.post("/evaluations", json=[]).status_code == 422
    assert client.post("/models", json={"model_id": "x"}).status_code == 422
    assert client.post("/evaluations", json={"evaluations": [], "surprise": 1}).status_code == 422


def test_unknown_tasks_collections_and_categories_say_what_to_fix(client: TestClient) -> None:
    r = client.post("/evaluations", json=lm_eval_request(["arc_easyy"]))
    assert r.status_code == 422 and "unknown lm-evaluation-harness task 'arc_easyy'" in r.json()["detail"]
    body = {"evaluations": [{"name": "e", "model_name": "m", "collection_id": "nope"}]}
    r = client.post("/evaluations", json=body)
    assert r.status_code == 422 and "nope" in r.json()["detail"]
    r = client.get("/benchmarks", params={"category": "astrology"})
    assert r.status_code == 422 and "math" in r.json()["detail"]
    assert client.get("/providers/nope").status_code == 404
    assert client.get("/collections/nope").status_code == 404


def test_a_task_the_model_cannot_score_is_refused_at_submission(client: TestClient) -> None:
    client.post("/models", json={**VLLM, "model_id": "llama-ollama", "model_type": "ollama"})
    r = client.post("/evaluations", json=lm_eval_request(["arc_easy"], model="llama-ollama"))
    assert r.status_code == 422 and "logprobs" in r.json()["detail"]
    assert (
        client.post("/evaluations", json=lm_eval_request(["gsm8k"], model="llama-ollama")).status_code == 202
    )


def test_custom_tasks_skip_the_catalog(client: TestClient) -> None:
    custom = {"custom_task": {"include_path": "/data/my_tasks"}}
    assert client.post("/evaluations", json=lm_eval_request(["my_own_task"], **custom)).status_code == 202
    bad = {"custom_task": {}}
    assert client.post("/evaluations", json=lm_eval_request(["my_own_task"], **bad)).status_code == 422


def test_collections_expand_into_jobs(client: TestClient, ctx: Context) -> None:
    collection = ctx.catalog.collections()[0]
    lm_eval_members = [b for b in collection.benchmarks if b.provider_id == "lm_evaluation_harness"]
    body = {"evaluations": [{"name": "e", "model_name": "m", "collection_id": collection.collection_id}]}
    r = client.post("/evaluations", json=body)
    assert r.status_code == 202, r.text
    assert [x["benchmark_name"] for x in r.json()["results"]] == [b.benchmark_id for b in lm_eval_members]


def test_risk_categories_carry_their_limits(client: TestClient, ctx: Context) -> None:
    body = {
        "request_id": str(uuid4()),
        "evaluations": [{"name": "e", "model_name": "m", "risk_category": "medium"}],
    }
    assert client.post("/evaluations", json=body).status_code == 202
    jobs = ctx.store.list_jobs(body["request_id"])  # type: ignore[arg-type]
    assert [j.tasks for j in jobs] == [["hellaswag"], ["arc_easy"], ["arc_challenge"], ["winogrande"]]
    assert {(j.benchmark_config["limit"], j.benchmark_config["num_fewshot"]) for j in jobs} == {(500, 5)}


def test_too_many_jobs_are_refused_and_nothing_is_stored(client: TestClient, ctx: Context) -> None:
    ctx.settings.max_jobs_per_request = 3
    body = {
        "request_id": str(uuid4()),
        "evaluations": [{"name": "e", "model_name": "m", "risk_category": "medium"}],
    }
    r = client.post("/evaluations", json=body)
    assert r.status_code == 422 and "more than 3 jobs" in r.json()["detail"]
    assert client.get(f"/evaluations/{body['request_id']}").status_code == 404


def test_listing_rejects_bad_filters_and_tokens(client: TestClient) -> None:
    assert client.get("/evaluations", params={"status": "sleeping"}).status_code == 422
    assert client.get("/evaluations", params={"limit": 0}).status_code == 422
    r = client.get("/evaluations", params={"page_token": "garbage!"})
    assert r.status_code == 422 and "page_token" in r.json()["detail"]


def test_cancel_cancels_every_job_once(client: TestClient, ctx: Context) -> None:
    body = {"evaluations": [{"name": "e", "model_name": "m", "risk_category": "low"}]}
    request_id = client.post("/evaluations", json=body).json()["request_id"]
    r = client.delete(f"/evaluations/{request_id}")
    assert r.status_code == 200 and r.json()["cancelled_jobs"] == 2
    status = client.get(f"/evaluations/{request_id}").json()
    assert status["status"] == "cancelled" and {x["status"] for x in status["results"]} == {"cancelled"}
    r = client.delete(f"/evaluations/{request_id}")
    assert r.status_code == 409 and "already ended" in r.json()["detail"]


def test_oversized_bodies_are_413(client: TestClient) -> None:
    r = client.post("/models", content=b"x" * (2 * 1024 * 1024), headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["detail"]


def test_health_reports_storage(client: TestClient) -> None:
    body = client.get("/health").json()
    assert body["status"] == "healthy" and body["components"]["storage"]["status"] == "healthy"
