"""A real lm-eval run through the hub, as a user does it: `evalhub serve`, a model registered over
HTTP (the OpenAI-compatible test server, vLLM-style), two local-dataset tasks submitted, progress
watched, and the scores compared with a direct `lm_eval.simple_evaluate` run of the same tasks
against the same server, with the exact model arguments the hub recorded."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest

from tests.support.direct import TASKS, direct
from tests.support.hub import Hub, free_port, running_hub, wait_for
from tests.support.model_server import ModelServer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server() -> Iterator[ModelServer]:
    rows = [json.loads(line) for line in (TASKS / "evalhub_gen.jsonl").read_text().splitlines()]
    answers = {
        r["question"]: f"The answer is {r['answer'] if i % 3 else 'wrong'}." for i, r in enumerate(rows[:14])
    }
    with ModelServer(latency=0.05, answers=answers) as srv:
        yield srv


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    env = {"HF_HUB_OFFLINE": "1", "EVALHUB_HEARTBEAT_INTERVAL_SECONDS": "0.2"}
    with running_hub(tmp_path_factory.mktemp("hub"), env) as h:
        yield h


@pytest.fixture(scope="module")
def api(hub: Hub, server: ModelServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=hub.api, timeout=30) as c:
        model = {
            "model_id": "tiny",
            "model_name": "Tiny test model",
            "model_type": "vllm",
            "base_url": server.base_url,
            "model_path": server.model,
        }
        assert c.post("/models", json=model).status_code == 201
        yield c


def request(tasks: list[str], model: str = "tiny", parallelism: int = 2) -> dict[str, Any]:
    return {
        "request_id": str(uuid4()),
        "experiment_name": "own endpoint, own data",
        "evaluations": [
            {
                "name": "tiny on local tasks",
                "model_name": model,
                "backends": [
                    {
                        "name": "lm-eval",
                        "type": "lm-evaluation-harness",
                        "config": {"parallelism": parallelism},
                        "benchmarks": [
                            {"name": task, "tasks": [task], "custom_task": {"include_path": str(TASKS)}}
                            for task in tasks
                        ],
                    }
                ],
                "timeout_minutes": 10,
            }
        ],
    }


def test_scores_equal_a_direct_lm_eval_run_and_progress_rises(api: httpx.Client) -> None:
    # Given both test tasks submitted for the registered model
    body = request(["evalhub_mc", "evalhub_gen"], parallelism=1)
    assert api.post("/evaluations", json=body).status_code == 202

    # When we watch it until it ends
    seen: list[float] = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        status = api.get(f"/evaluations/{body['request_id']}").json()
        seen.append(status["progress_percentage"])
        if status["status"] in ("completed", "failed", "cancelled"):
            break
        time.sleep(0.1)

    # Then it completed, and progress rose from 0 to 100 through values in between, never falling
    assert status["status"] == "completed", [r["error_message"] for r in status["results"]]
    assert seen[0] < 50 and seen[-1] == 100.0
    assert len({p for p in seen if 0 < p < 100}) >= 3, seen
    assert seen == sorted(seen)

    # And each job's metrics are exactly those of lm-eval run directly with the recorded arguments
    for job in status["results"]:
        recorded = json.loads(Path(job["artifacts"]["results"].removeprefix("file://")).read_text())
        (run,) = recorded["evalhub"]["runs"]
        chat = run["model"] == "local-chat-completions"
        expected = direct(run["model"], run["model_args"], job["tasks"], chat=chat)
        rows = expected["results"][job["tasks"][0]]
        metrics = {k.removesuffix(",none"): v for k, v in rows.items() if "," in k and "_stderr" not in k}
        assert job["metrics"] == metrics
        assert all(0 < v < 1 for v in metrics.values())  # informative: some right, some wrong
        samples = Path(job["artifacts"][f"samples/{job['tasks'][0]}"].removeprefix("file://"))
        assert len(samples.read_text().splitlines()) == 20
    assert status["aggregated_metrics"]

    # And the results are readable through the API
    job = status["results"][0]
    url = f"/evaluations/{body['request_id']}/jobs/{job['job_id']}/artifacts"
    assert api.get(f"{url}/results").json()["results"][job["tasks"][0]]
    assert len(api.get(f"{url}/samples/{job['tasks'][0]}").text.splitlines()) == 20
    missing = api.get(f"{url}/nope")
    assert missing.status_code == 404 and "summary" in missing.json()["detail"]


def test_a_model_whose_endpoint_refuses_connections_fails_with_that_reason(api: httpx.Client) -> None:
    model = {
        "model_id": "down",
        "model_name": "Down",
        "model_type": "vllm",
        "base_url": f"http://127.0.0.1:{free_port()}/v1",
    }
    assert api.post("/models", json=model).status_code == 201
    body = request(["evalhub_mc"], model="down")
    assert api.post("/evaluations", json=body).status_code == 202
    final = wait_for(api, str(body["request_id"]), timeout=120)
    assert final["status"] == "failed"
    message = final["results"][0]["error_message"]  # type: ignore[index]
    assert "connection refused" in message.lower(), message


def test_cancelling_a_running_lm_eval_job_leaves_no_runner(
    api: httpx.Client, hub: Hub, server: ModelServer
) -> None:
    import psutil

    server.latency = 0.5  # slow enough to catch it running
    try:
        body = request(["evalhub_mc"], parallelism=1)
        assert api.post("/evaluations", json=body).status_code == 202
        deadline = time.monotonic() + 120
        while api.get(f"/evaluations/{body['request_id']}").json()["results"][0]["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        pid = hub.runner_pid(str(body["request_id"]))
        assert pid is not None and psutil.pid_exists(pid)
        assert api.delete(f"/evaluations/{body['request_id']}").status_code == 200
        status = api.get(f"/evaluations/{body['request_id']}").json()
        assert status["status"] == "cancelled"
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    finally:
        server.latency = 0.05


def test_a_permanent_error_is_not_retried(api: httpx.Client, server: ModelServer) -> None:
    # Given a model the endpoint does not serve (it answers 404), and attempts to spare
    model = {"model_id": "typo", "model_name": "Typo", "model_type": "vllm", "base_url": server.base_url}
    assert api.post("/models", json={**model, "model_path": "no-such-model"}).status_code == 201
    body = request(["evalhub_gen"], model="typo")
    body["evaluations"][0]["retry_attempts"] = 2  # type: ignore[index]
    assert api.post("/evaluations", json=body).status_code == 202
    # Then it fails after one attempt: asking the same endpoint again would get the same 404
    final = wait_for(api, str(body["request_id"]), timeout=120)
    result = final["results"][0]  # type: ignore[index]
    assert final["status"] == "failed" and result["attempts"] == 1
    assert "404" in result["error_message"] and "no-such-model" in result["error_message"]
