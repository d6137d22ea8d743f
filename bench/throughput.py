"""Runner throughput against a slow endpoint: the lm-eval backend with parallelism 1 vs 8 (lm-eval's
num_concurrent), same job, same server, side by side."""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from evalhub.models import BackendType, JobRecord, ModelType
from evalhub_runner.backends.base import ResolvedModel
from evalhub_runner.backends.lm_eval import LmEvalBackend
from tests.support.direct import TASKS
from tests.support.model_server import ModelServer

LATENCY = 0.05


def job(parallelism: int) -> JobRecord:
    now = datetime.now(UTC)
    return JobRecord(
        job_id="job-0000",
        request_id="bench",
        index=0,
        evaluation_name="bench",
        model_name="tiny",
        backend_name="lm",
        backend_type=BackendType.LM_EVAL,
        backend_config={"parallelism": parallelism},
        benchmark_name="mc",
        tasks=["evalhub_mc"],
        custom_task={"include_path": str(TASKS)},
        timeout_minutes=10,
        max_attempts=1,
        created_at=now,
        updated_at=now,
    )


def run() -> None:
    with ModelServer(latency=LATENCY) as server:
        model = ResolvedModel(name=server.model, model_type=ModelType.VLLM, base_url=server.base_url)
        times = {}
        for parallelism in (1, 8, 1, 8):
            with tempfile.TemporaryDirectory() as work:
                server.max_in_flight = 0
                t = time.perf_counter()
                LmEvalBackend().run(job(parallelism), model, lambda _: None, Path(work))
                times[parallelism] = time.perf_counter() - t
                in_flight = server.max_in_flight
            # the second pass of each (warm imports) is the one kept
            print(
                f"parallelism {parallelism}: {times[parallelism]:6.2f} s, most requests in flight {in_flight}"
            )
    print(
        f"speed-up 8 vs 1: {times[1] / times[8]:.1f}x  (endpoint latency {LATENCY * 1000:.0f} ms/request, 80 requests)"
    )
