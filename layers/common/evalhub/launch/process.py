"""Local launcher: the runner as a subprocess of the hub (``python -m evalhub_runner``), one process
group per job so that stopping it also stops anything it started."""

from __future__ import annotations

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


class ProcessLauncher:
    def __init__(self, settings: Settings, python: str = sys.executable) -> None:
        self.settings = settings
        self.python = python
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self._exited: dict[int, int] = {}
        """pid -> return code of runners that ended (the oldest are dropped first when it grows)."""
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

    def launch(self, job: JobRecord) -> str:
        self._collect()
        log_path = self.log_path(job)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "EVALHUB_HOME": str(self.settings.home),
            "EVALHUB_MODE": self.settings.mode,
            "EVALHUB_REQUEST_ID": job.request_id,
            "EVALHUB_JOB_ID": job.job_id,
            "PYTHONUNBUFFERED": "1",
        }
        try:
            with open(log_path, "ab") as log:
                proc = subprocess.Popen(
                    [self.python, "-m", "evalhub_runner"],
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        except OSError as e:
            raise LaunchFailed(f"cannot start {self.python} -m evalhub_runner: {e}") from e
        with self._lock:
            self._procs[proc.pid] = proc
        return str(proc.pid)

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
