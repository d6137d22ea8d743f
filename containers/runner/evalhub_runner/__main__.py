"""``python -m evalhub_runner``: run the job named by EVALHUB_REQUEST_ID and EVALHUB_JOB_ID (or
``--request-id`` / ``--job-id``). Exit code 0 whenever the outcome was recorded in the store."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from evalhub.context import build_context

from .runner import run_job


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="evalhub_runner", description=__doc__)
    parser.add_argument("--request-id", default=os.environ.get("EVALHUB_REQUEST_ID"))
    parser.add_argument("--job-id", default=os.environ.get("EVALHUB_JOB_ID"))
    args = parser.parse_args(argv)
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
