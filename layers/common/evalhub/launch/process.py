"""Local launcher: the runner as a subprocess of the hub (``python -m evalhub_runner``), one process
group per job so that stopping it also stops anything it started. With ``warm_runner`` one spare
runner is always started ahead, lm-eval already imported, and the next job is handed to it."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from ..models import JobRecord
from ..settings import Settings
from .base import LaunchFailed

STOP_GRACE_SECONDS = 5.0
log = logging.getLogger(__name__)


class ProcessLauncher:
    def __init__(self, settings: Settings, python: str = sys.executable) -> None:
        self.settings = settings
        self.python = python
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self._exited: dict[int, int] = {}
        """pid -> return code of runners that ended (the oldest are dropped first when it grows)."""
        self._spare: subprocess.Popen[bytes] | None = None
        """A warm runner waiting for its job (settings.warm_runner)."""
        self._lock = threading.Lock()

    def log_path(self, job: JobRecord) -> Path:
        return self.settings.home / "logs" / job.request_id / f"{job.job_id}.attempt-{job.attempts}.log"

    def _collect(self) -> None:
        """Wait for runners that ended (no zombies pile up), keeping their exit codes for messages."""
        with self._lock:
            for pid, proc in list(self._procs.items()):
                if proc.poll() is not None:
                    self._exited[pid] = proc.returncode
                    del self._procs[pid]
            while len(self._exited) > 10_000:
                self._exited.pop(next(iter(self._exited)))

    def _env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "EVALHUB_HOME": str(self.settings.home),
            "EVALHUB_MODE": self.settings.mode,
            "PYTHONUNBUFFERED": "1",
            **extra,
        }

    def _spawn(
        self, args: list[str], env: dict[str, str], log_path: Path, stdin: int
    ) -> subprocess.Popen[bytes]:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(log_path, "ab") as log:
                return subprocess.Popen(
                    [self.python, "-m", "evalhub_runner", *args],
                    env=env,
                    stdin=stdin,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        except OSError as e:
            raise LaunchFailed(f"cannot start {self.python} -m evalhub_runner: {e}") from e

    def start_spare(self) -> None:
        """A runner that imports lm-eval now and takes the next job from its stdin (see __main__)."""
        try:
            spare = self._spawn(
                ["--warm"], self._env(), self.settings.home / "logs" / "spare-runner.log", subprocess.PIPE
            )
        except LaunchFailed:
            log.exception("no spare runner; jobs start cold")
            return
        with self._lock:
            self._spare = spare

    def _hand_to_spare(self, job: JobRecord, log_path: Path) -> subprocess.Popen[bytes] | None:
        with self._lock:
            spare, self._spare = self._spare, None
        if spare is None or spare.poll() is not None or spare.stdin is None:
            return None
        order = {"request_id": job.request_id, "job_id": job.job_id, "log": str(log_path)}
        try:
            spare.stdin.write(json.dumps(order).encode() + b"\n")
            spare.stdin.close()
        except OSError:  # it died meanwhile: start this job cold
            spare.kill()
            return None
        return spare

    def launch(self, job: JobRecord) -> str:
        self._collect()
        log_path = self.log_path(job)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        proc = self._hand_to_spare(job, log_path) if self.settings.warm_runner else None
        if proc is None:
            env = self._env(EVALHUB_REQUEST_ID=job.request_id, EVALHUB_JOB_ID=job.job_id)
            proc = self._spawn([], env, log_path, subprocess.DEVNULL)
        with self._lock:
            self._procs[proc.pid] = proc
        if self.settings.warm_runner:
            self.start_spare()
        return str(proc.pid)

    def close(self) -> None:
        """Stop the spare runner (runners of jobs keep going: they report to the store themselves)."""
        with self._lock:
            spare, self._spare = self._spare, None
        if spare is not None and spare.poll() is None:
            spare.kill()
            spare.wait(5)

    def alive(self, handle: str) -> bool | None:
        pid = int(handle)
        with self._lock:
            proc = self._procs.get(pid)
            if proc is None and pid in self._exited:
                return False
        if proc is not None:
            return proc.poll() is None
        # Started by an earlier server process: look it up by pid, and make sure it is still a runner.
        try:
            p = psutil.Process(pid)
            return p.status() != psutil.STATUS_ZOMBIE and "evalhub_runner" in " ".join(p.cmdline())
        except psutil.Error:
            return False

    def describe_exit(self, handle: str) -> str:
        with self._lock:
            proc = self._procs.get(int(handle))
            code = proc.returncode if proc is not None else self._exited.get(int(handle))
        if code is None:
            return f"process {handle} is gone"
        if code < 0:
            return f"process {handle} was killed by {signal.Signals(-code).name}"
        return f"process {handle} exited with code {code}"

    def stop(self, handle: str, reason: str) -> None:
        pid = int(handle)
        if not self.alive(handle):
            return
        for sig, wait in ((signal.SIGTERM, STOP_GRACE_SECONDS), (signal.SIGKILL, 2.0)):
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and self.alive(handle):
                time.sleep(0.05)
            if not self.alive(handle):
                break
        with self._lock:
            proc = self._procs.get(pid)
        if proc is not None:
            proc.poll()
