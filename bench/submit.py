"""Submitting a request that expands into 100 jobs (local mode: SQLite store + local queue), end to end
through the API in-process; and the same store/queue writes alone, to show where the time goes."""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from pathlib import Path

from fastapi.testclient import TestClient

from evalhub.context import build_context
from evalhub.settings import Settings
from evalhub_api.app import create_app

RUNS = 10


def body() -> dict[str, object]:
    benchmarks = [{"name": f"b{i}", "tasks": ["arc_easy"], "config": {"limit": 10}} for i in range(50)]
    backend = {"name": "lm", "type": "lm-evaluation-harness", "benchmarks": benchmarks}
    evaluation = {"name": "e", "model_name": "m", "backends": [backend]}
    return {"request_id": str(uuid.uuid4()), "evaluations": [evaluation, {**evaluation, "name": "f"}]}


def run() -> None:
    with tempfile.TemporaryDirectory() as home:
        ctx = build_context(Settings(mode="local", home=Path(home)))
        client = TestClient(create_app(ctx), base_url="http://bench/api/v1")
        client.post("/evaluations", json=body())  # warm-up
        times = []
        for _ in range(RUNS):
            payload = body()
            t = time.perf_counter()
            r = client.post("/evaluations", json=payload)
            times.append(time.perf_counter() - t)
            assert r.status_code == 202 and r.json()["total_evaluations"] == 100, r.text
        ctx.close()
    print(
        f"POST /evaluations, 100 jobs : median {statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms ({RUNS} runs)"
    )
