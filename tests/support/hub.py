"""Start the hub the way ``make run`` does: the ``evalhub serve`` console script in a subprocess, on a
free port, with its state in a temporary EVALHUB_HOME."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Hub:
    base_url: str
    home: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def api(self) -> str:
        return f"{self.base_url}/api/v1"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def runner_pid(self, request_id: str, job_id: str = "job-0000") -> int | None:
        """The pid of the job's current runner, as the hub recorded it (its launch handle)."""
        from evalhub.storage.sqlite import SqliteStore

        store = SqliteStore(self.home / "evalhub.sqlite3")
        try:
            job = store.get_job(request_id, job_id)
        finally:
            store.close()
        return int(job.launch_handle) if job is not None and job.launch_handle else None


@contextmanager
def running_hub(home: Path, env: Mapping[str, str] | None = None, port: int | None = None) -> Iterator[Hub]:
    port = port or free_port()
    script = Path(sys.executable).with_name("evalhub")
    log_path = home / f"hub-{port}.log"
    home.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, "EVALHUB_HOME": str(home), "LOG_LEVEL": "INFO", **(env or {})}
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [str(script), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    hub = Hub(f"http://127.0.0.1:{port}", home, proc, log_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"hub exited with {proc.returncode}:\n{hub.log()}")
            try:
                if httpx.get(f"{hub.api}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"hub did not answer within 60 s:\n{hub.log()}")
            time.sleep(0.1)
        yield hub
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for(client: httpx.Client, request_id: str, timeout: float = 120) -> dict[str, object]:
    """Poll an evaluation until it reaches a terminal status, as the notebook's monitor loop does."""
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, object] = client.get(f"/evaluations/{request_id}").json()
        if body["status"] in ("completed", "failed", "cancelled"):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"evaluation {request_id} still {body['status']} after {timeout} s: {body}")
        time.sleep(0.2)
