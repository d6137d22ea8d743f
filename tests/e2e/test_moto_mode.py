"""The hub in AWS mode against a moto server, as the README's "run the stack against moto" steps do:
DynamoDB, SQS and S3 are moto's, runners are local processes (EVALHUB_LAUNCHER=process)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_lifecycle import nemo_evaluation
from tests.support.hub import Hub, free_port, running_hub, wait_for
from tests.support.nemo_server import NemoServer

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def moto_env() -> Iterator[dict[str, str]]:
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/moto-api/", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "moto_server did not start"
                time.sleep(0.2)
        out = subprocess.run(
            [
                sys.executable,
                str(ROOT / "scripts" / "moto_stack.py"),
                "--endpoint",
                f"http://127.0.0.1:{port}",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        env = dict(line.removeprefix("export ").split("=", 1) for line in out.splitlines())
        yield env
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture(scope="module")
def hub(moto_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    with running_hub(tmp_path_factory.mktemp("hub"), {**moto_env, "OPENAI_API_KEY": "sk-test"}) as h:
        yield h


def test_the_hub_runs_on_moto_services(hub: Hub, moto_env: dict[str, str]) -> None:
    with httpx.Client(base_url=hub.api, timeout=30) as api, NemoServer(job_seconds=1) as nemo:
        health = api.get("/health").json()
        assert health["mode"] == "aws" and health["components"]["storage"]["detail"] == "DynamoStore"
        model = {
            "model_id": "m",
            "model_name": "M",
            "model_type": "vllm",
            "base_url": "http://127.0.0.1:9/v1",
        }
        assert api.post("/models", json=model).status_code == 201
        body = nemo_evaluation(nemo.port)
        assert api.post("/evaluations", json=body).status_code == 202
        final = wait_for(api, str(body["request_id"]), timeout=120)
        assert final["status"] == "completed", final
        job = final["results"][0]  # type: ignore[index]
        assert job["artifacts"]["results"].startswith(f"s3://{moto_env['EVALHUB_RESULTS_BUCKET']}/results/")
        link = api.get(f"/evaluations/{body['request_id']}/jobs/{job['job_id']}/artifacts/results")
        assert link.status_code == 307 and link.headers["location"].startswith(moto_env["AWS_ENDPOINT_URL"])
        assert httpx.get(link.headers["location"]).json()["tasks"]  # NeMo Evaluator's results document
        assert [e["request_id"] for e in api.get("/evaluations").json()] == [body["request_id"]]
