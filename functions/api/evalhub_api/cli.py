"""``evalhub serve``: the hub in local mode (API + dispatcher worker) on one port."""

from __future__ import annotations

import argparse
import logging
import os

from evalhub.settings import Settings


def serve(host: str, port: int) -> None:
    import uvicorn

    from evalhub.context import build_context
    from evalhub_dispatcher.worker import LocalWorker

    from .app import create_app

    if "EVALHUB_PUBLIC_URL" not in os.environ:
        os.environ["EVALHUB_PUBLIC_URL"] = (
            f"http://{'localhost' if host in ('0.0.0.0', '127.0.0.1') else host}:{port}"
        )
    settings = Settings()
    ctx = build_context(settings)
    app = create_app(ctx)
    worker = None
    # A worker dispatches here when runners are local processes: always in local mode, and in AWS
    # mode against moto or real services with EVALHUB_LAUNCHER=process. Otherwise the dispatcher
    # Lambda does it and this process only serves the API.
    if settings.launcher == "process":
        worker = LocalWorker(ctx)
        app.state.worker = worker
        worker.start()
    where = settings.home if settings.mode == "local" else f"table {settings.table_name}"
    logging.getLogger("evalhub").info("%s mode, state in %s", settings.mode, where)
    try:
        uvicorn.run(app, host=host, port=port, log_level=os.environ.get("LOG_LEVEL", "info").lower())
    finally:
        if worker is not None:
            worker.stop()
        ctx.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="evalhub", description="Eval Hub")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="serve the hub (API + local worker)")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.command == "serve":
        serve(args.host, args.port)


if __name__ == "__main__":
    main()
