"""``python -m evalhub_runner``: run the job named by EVALHUB_REQUEST_ID and EVALHUB_JOB_ID (or
``--request-id`` / ``--job-id``). Exit code 0 whenever the outcome was recorded in the store.

``--warm`` starts a spare runner for the local launcher: it imports lm-eval first, then waits for
one line on stdin, ``{"request_id": ..., "job_id": ..., "log": <path>}``, sends its output to that
log and runs that job. A job then starts in milliseconds instead of after ~1.5 s of imports."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from evalhub.context import build_context

from .runner import run_job


def warm_up() -> None:
    """Import what every lm-eval job needs (the hub check comes first: it must precede the imports)."""
    from .backends import lm_eval as backend

    backend.offline_unless_hub_reachable()
    import lm_eval.evaluator
    import lm_eval.tasks  # noqa: F401


def wait_for_job() -> tuple[str, str] | None:
    line = sys.stdin.readline()
    if not line:  # the hub went away before it had a job for us
        return None
    order = json.loads(line)
    fd = os.open(order["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    return str(order["request_id"]), str(order["job_id"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="evalhub_runner", description=__doc__)
    parser.add_argument("--request-id", default=os.environ.get("EVALHUB_REQUEST_ID"))
    parser.add_argument("--job-id", default=os.environ.get("EVALHUB_JOB_ID"))
    parser.add_argument("--warm", action="store_true", help="import first, then take a job from stdin")
    args = parser.parse_args(argv)
    if args.warm:
        warm_up()
        ids = wait_for_job()
        if ids is None:
            return 0
        args.request_id, args.job_id = ids
    if not args.request_id or not args.job_id:
        parser.error("give --request-id and --job-id (or EVALHUB_REQUEST_ID and EVALHUB_JOB_ID)")
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"),
        format=f"%(asctime)s %(levelname)s [{args.request_id}/{args.job_id}] %(name)s: %(message)s",
    )
    ctx = build_context()
    try:
        run_job(ctx, args.request_id, args.job_id)
    finally:
        ctx.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
