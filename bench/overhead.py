"""Orchestration overhead: one job (both test tasks) through the hub (`evalhub serve`, runner
subprocess, SQLite) against the same `lm_eval.simple_evaluate` calls run directly, same endpoint."""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

import httpx

from tests.support.direct import TASKS, direct
from tests.support.hub import running_hub
from tests.support.model_server import ModelServer

LATENCY = 0.1  # seconds per model request: a slow endpoint, so the evaluation lasts ~10-20 s
RUNS = 2


def run_direct(server: ModelServer) -> float:
    common = "num_concurrent=1,max_retries=3,timeout=300,seed=1234,batch_size=1"
    t = time.perf_counter()
    direct(
        "local-completions",
        f"model={server.model},base_url={server.base_url}/completions,tokenizer_backend=remote,{common}",
        ["evalhub_mc"],
        chat=False,
    )
    direct(
        "local-chat-completions",
        f"model={server.model},base_url={server.base_url}/chat/completions,{common}",
        ["evalhub_gen"],
        chat=True,
    )
    return time.perf_counter() - t


def run_hub(server: ModelServer, api: httpx.Client) -> tuple[float, float]:
    """Seconds from POST to `completed`, and from POST to the runner's start (the fixed cost)."""
    body = {
        "request_id": str(uuid.uuid4()),
        "evaluations": [
            {
                "name": "bench",
                "model_name": "tiny",
                "backends": [
                    {
                        "name": "lm",
                        "type": "lm-evaluation-harness",
                        "config": {"parallelism": 1},
                        "benchmarks": [
                            {
                                "name": "both",
                                "tasks": ["evalhub_mc", "evalhub_gen"],
                                "custom_task": {"include_path": str(TASKS)},
                            }
                        ],
                    }
                ],
            }
        ],
    }
    t = time.perf_counter()
    api.post("/evaluations", json=body).raise_for_status()
    started = None
    while True:
        status = api.get(f"/evaluations/{body['request_id']}").json()
        if started is None and status["results"][0]["progress_percentage"] > 0:
            started = time.perf_counter() - t
        if status["status"] in ("completed", "failed", "cancelled"):
            assert status["status"] == "completed", status
            return time.perf_counter() - t, started or 0.0
        time.sleep(0.05)


def run() -> None:
    with ModelServer(latency=LATENCY) as server, tempfile.TemporaryDirectory() as home:
        env = {"EVALHUB_HEARTBEAT_INTERVAL_SECONDS": "0.2"}
        with running_hub(Path(home), env) as hub, httpx.Client(base_url=hub.api, timeout=30) as api:
            model = {"model_id": "tiny", "model_name": "t", "model_type": "vllm", "base_url": server.base_url}
            api.post("/models", json={**model, "model_path": server.model}).raise_for_status()
            run_direct(server)  # warm-up: lm-eval imported, task files cached
            for n in range(RUNS):
                d = run_direct(server)
                h, first = run_hub(server, api)
                print(
                    f"run {n + 1}: direct simple_evaluate {d:6.2f} s | through the hub {h:6.2f} s "
                    f"| overhead {h - d:+5.2f} s ({(h / d - 1) * 100:+.1f}%), of which until first progress {first:.2f} s"
                )
    print(f"(endpoint latency {LATENCY * 1000:.0f} ms/request, parallelism 1, 100 requests per run)")
