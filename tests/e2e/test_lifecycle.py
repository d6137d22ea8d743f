"""Job lifecycle in local mode, over HTTP against `evalhub serve`: cancellation, a runner killed
mid-run, timeouts and silent runners. A NeMo Evaluator stand-in makes the jobs last as long as
wanted, so these tests do not depend on lm-eval's speed."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import httpx
import psutil
import pytest

from tests.support.hub import Hub, running_hub, wait_for
from tests.support.nemo_server import NemoServer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    env = {
        "OPENAI_API_KEY": "sk-test",
        "EVALHUB_HEARTBEAT_TIMEOUT_SECONDS": "6",
        "EVALHUB_MAX_CONCURRENT_JOBS": "4",
    }
    with running_hub(tmp_path_factory.mktemp("hub"), env) as h:
        yield h


def nemo_evaluation(port: int, retry_attempts: int = 0, timeout_minutes: float = 30) -> dict[str, object]:
    return {
        "request_id": str(uuid4()),
        "experiment_name": "lifecycle",
        "evaluations": [
            {
                "name": "nemo",
                "model_name": "gpt-4-turbo",
                "backends": [
                    {
                        "name": "nemo",
                        "type": "nemo-evaluator",
                        "config": {"endpoint": "127.0.0.1", "port": port, "api_key_env": "OPENAI_API_KEY"},
                        "benchmarks": [{"name": "gsm8k", "tasks": ["gsm8k"], "config": {"limit": 10}}],
                    }
                ],
                "timeout_minutes": timeout_minutes,
                "retry_attempts": retry_attempts,
            }
        ],
    }


def running_pid(api: httpx.Client, hub: Hub, request_id: str, attempts: int = 1) -> int:
    """Wait until the job's runner is running (attempt ``attempts``) and return its pid."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        result = api.get(f"/evaluations/{request_id}").json()["results"][0]
        pid = hub.runner_pid(request_id)
        if (
            result["status"] == "running"
            and result["attempts"] == attempts
            and pid
            and psutil.pid_exists(pid)
        ):
            assert "evalhub_runner" in " ".join(psutil.Process(pid).cmdline())
            return pid
        time.sleep(0.1)
    raise AssertionError(
        f"no running runner for {request_id}: {api.get(f'/evaluations/{request_id}').json()}"
    )


def test_a_nemo_evaluation_completes_with_progress(api: httpx.Client) -> None:
    with NemoServer(job_seconds=3) as nemo:
        request_id = api.post("/evaluations", json=nemo_evaluation(nemo.port)).json()["request_id"]
        seen = set()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            body = api.get(f"/evaluations/{request_id}").json()
            seen.add(body["progress_percentage"])
            if body["status"] in ("completed", "failed", "cancelled"):
                break
            time.sleep(0.1)
    assert body["status"] == "completed", body
    assert body["progress_percentage"] == 100.0 and any(0 < p < 100 for p in seen), seen
    result = body["results"][0]
    assert result["metrics"] and result["artifacts"]["summary"].startswith("file://")
    assert Path(result["artifacts"]["results"].removeprefix("file://")).is_file()


def test_cancelling_a_running_evaluation_stops_its_runner(api: httpx.Client, hub: Hub) -> None:
    with NemoServer(job_seconds=120) as nemo:
        request_id = api.post("/evaluations", json=nemo_evaluation(nemo.port)).json()["request_id"]
        pid = running_pid(api, hub, request_id)
        r = api.delete(f"/evaluations/{request_id}")
        assert r.status_code == 200 and r.json()["cancelled_jobs"] == 1
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        time.sleep(1.5)  # the worker's reaper runs meanwhile: the job stays cancelled
        body = api.get(f"/evaluations/{request_id}").json()
        assert body["status"] == "cancelled" and body["results"][0]["status"] == "cancelled"


def test_a_runner_killed_mid_run_is_retried_and_completes(api: httpx.Client, hub: Hub) -> None:
    with NemoServer(job_seconds=4) as nemo:
        request_id = api.post("/evaluations", json=nemo_evaluation(nemo.port, retry_attempts=1)).json()[
            "request_id"
        ]
        os.kill(running_pid(api, hub, request_id), signal.SIGKILL)
        final = wait_for(api, request_id, timeout=90)
    result = final["results"][0]  # type: ignore[index]
    assert final["status"] == "completed", final
    assert result["attempts"] == 2 and result["metrics"]


def test_a_killed_runner_without_retries_fails_with_the_reason(api: httpx.Client, hub: Hub) -> None:
    with NemoServer(job_seconds=60) as nemo:
        request_id = api.post("/evaluations", json=nemo_evaluation(nemo.port)).json()["request_id"]
        os.kill(running_pid(api, hub, request_id), signal.SIGKILL)
        final = wait_for(api, request_id, timeout=60)
    assert final["status"] == "failed"
    assert "SIGKILL" in final["results"][0]["error_message"]  # type: ignore[index]


def test_a_job_past_its_timeout_fails(api: httpx.Client, hub: Hub) -> None:
    with NemoServer(job_seconds=120) as nemo:
        body = nemo_evaluation(nemo.port, retry_attempts=2, timeout_minutes=0.05)  # 3 s
        request_id = api.post("/evaluations", json=body).json()["request_id"]
        pid = running_pid(api, hub, request_id)
        final = wait_for(api, request_id, timeout=60)
    result = final["results"][0]  # type: ignore[index]
    assert final["status"] == "failed" and "timed out" in result["error_message"]
    assert result["attempts"] == 1  # a timeout is final: retrying would only time out again
    time.sleep(0.5)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_a_silent_runner_is_retried(api: httpx.Client, hub: Hub) -> None:
    with NemoServer(job_seconds=5) as nemo:
        request_id = api.post("/evaluations", json=nemo_evaluation(nemo.port, retry_attempts=1)).json()[
            "request_id"
        ]
        pid = running_pid(api, hub, request_id)
        os.kill(pid, signal.SIGSTOP)  # alive but silent: no heartbeats
        try:
            final = wait_for(api, request_id, timeout=90)
        finally:
            if psutil.pid_exists(pid):
                os.kill(pid, signal.SIGKILL)
    result = final["results"][0]  # type: ignore[index]
    assert final["status"] == "completed" and result["attempts"] == 2, final


def test_an_unreachable_nemo_service_fails_the_job_with_that_reason(api: httpx.Client) -> None:
    with NemoServer() as nemo:
        port = nemo.port  # closed once the block ends
    request_id = api.post("/evaluations", json=nemo_evaluation(port)).json()["request_id"]
    final = wait_for(api, request_id, timeout=60)
    assert final["status"] == "failed"
    assert "unreachable" in final["results"][0]["error_message"]  # type: ignore[index]


def test_queued_jobs_run_after_a_restart(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with NemoServer(job_seconds=1) as nemo:
        env = {"OPENAI_API_KEY": "sk-test", "EVALHUB_MAX_CONCURRENT_JOBS": "1"}
        with running_hub(home, env) as hub, httpx.Client(base_url=hub.api, timeout=30) as api:
            ids = [
                api.post("/evaluations", json=nemo_evaluation(nemo.port)).json()["request_id"]
                for _ in range(3)
            ]
        # The hub stopped with jobs queued (one at a time runs); a new one picks them up.
        with running_hub(home, env) as hub, httpx.Client(base_url=hub.api, timeout=30) as api:
            assert [wait_for(api, i, timeout=120)["status"] for i in ids] == ["completed"] * 3


def spares(home: Path) -> list[psutil.Process]:
    """Warm spare runners of the hub whose state is in ``home``."""
    found = []
    for proc in psutil.process_iter(["cmdline", "environ"]):
        cmdline, env = proc.info["cmdline"] or [], proc.info["environ"] or {}
        if (
            "--warm" in cmdline
            and env.get("EVALHUB_HOME") == str(home)
            and proc.status() != psutil.STATUS_ZOMBIE
        ):
            found.append(proc)
    return found


def test_jobs_start_on_a_warm_runner_and_no_spare_outlives_the_hub(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with NemoServer(job_seconds=3) as nemo:
        with (
            running_hub(home, {"OPENAI_API_KEY": "sk-test"}) as hub,
            httpx.Client(base_url=hub.api, timeout=30) as api,
        ):
            deadline = time.monotonic() + 30
            while not spares(home):  # one spare is started with the hub, lm-eval imported ahead
                assert time.monotonic() < deadline, "no spare runner"
                time.sleep(0.1)
            request_id = api.post("/evaluations", json=nemo_evaluation(nemo.port)).json()["request_id"]
            pid = running_pid(api, hub, request_id)
            assert "--warm" in psutil.Process(pid).cmdline()  # the job went to the spare...
            assert [p for p in spares(home) if p.pid != pid]  # ...and a new spare waits for the next
            assert wait_for(api, request_id, timeout=60)["status"] == "completed"
        time.sleep(0.5)
        assert spares(home) == []
