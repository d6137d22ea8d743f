"""Local mode's dispatcher: a thread in the hub's process that consumes the local queue with the same
dispatch code as the AWS Lambda, launches runners as subprocesses and reaps the ones that die."""

from __future__ import annotations

import logging
import threading
import time

from evalhub.context import Context
from evalhub.launch.process import ProcessLauncher
from evalhub.services.dispatch import Outcome, dispatch, reap, recover

log = logging.getLogger(__name__)

REAP_EVERY_SECONDS = 1.0
DEFER_SECONDS = 1.0


class LocalWorker(threading.Thread):
    def __init__(self, ctx: Context) -> None:
        super().__init__(daemon=True, name="evalhub-worker")
        self.ctx = ctx
        self._stop_event = threading.Event()
        self.last_loop = time.time()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop_event.set()
        self.join(timeout)

    @property
    def healthy(self) -> bool:
        return self.is_alive() and time.time() - self.last_loop < 30

    def run(self) -> None:
        if isinstance(self.ctx.launcher, ProcessLauncher) and self.ctx.settings.warm_runner:
            self.ctx.launcher.start_spare()  # so that even the first job starts warm
        requeued = recover(self.ctx)
        if requeued:
            log.info("re-sent %d queued job(s) after start-up", requeued)
        next_reap = 0.0
        while not self._stop_event.is_set():
            self.last_loop = time.time()
            try:
                if time.monotonic() >= next_reap:
                    reap(self.ctx)
                    next_reap = time.monotonic() + REAP_EVERY_SECONDS
                self.step()
            except Exception:  # keep the loop alive; the next turn retries
                log.exception("worker loop error")
                self._stop_event.wait(1.0)

    def step(self) -> int:
        """Take what the queue offers and dispatch it; returns how many runners were launched."""
        # A waiting receive returns as soon as the API (same process) sends: no polling delay.
        deliveries = self.ctx.queue.receive(
            max_messages=10, wait_seconds=self.ctx.settings.worker_poll_seconds
        )
        if not deliveries:
            return 0
        launched = 0
        for delivery in deliveries:
            outcome = dispatch(self.ctx, delivery.message)
            if outcome == Outcome.DEFERRED:
                self.ctx.queue.release(delivery, delay_seconds=DEFER_SECONDS)
            else:
                self.ctx.queue.ack(delivery)
                launched += outcome == Outcome.LAUNCHED
        if launched == 0:
            self._stop_event.wait(self.ctx.settings.worker_poll_seconds)
        return launched
