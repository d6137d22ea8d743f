"""A stand-in for NVIDIA's NeMo Evaluator microservice (v1 API), on the standard library only.

It implements the subset of the documented API that ``evalhub_runner.backends.nemo`` uses, with the
same required fields the documentation lists (a missing or ill-typed one answers 422 with a
FastAPI-style ``detail`` list), names unique per namespace (409 on reuse), and jobs whose status
moves ``created -> running -> completed`` (or ``failed``) over ``job_seconds``. Results follow
NVIDIA's shape ``tasks.<task>.metrics.<metric>.scores.<score>.value`` and are derived from a hash of
the config's tasks, the model and the sample limit, so they are deterministic.

Endpoints: ``GET /health``; ``POST /v1/evaluation/targets``, ``GET /v1/evaluation/targets/{ns}/{name}``;
``POST /v1/evaluation/configs``, ``GET /v1/evaluation/configs/{ns}/{name}``; ``POST /v1/evaluation/jobs``,
``GET /v1/evaluation/jobs/{id}``, ``GET .../{id}/status``, ``GET .../{id}/results``, ``POST .../{id}/cancel``.

Run it by hand with ``python -m tests.support.nemo_server --port 3825``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from typing import Any

from tests.support.jsonhttp import JsonHandler

NAME_PATTERN = re.compile(r"^[\w\-\+.@:]*$")
TARGET_TYPES = ("model", "cached_outputs", "retriever", "rag", "rows", "dataset")
# EvaluationConfig.params as documented: field -> accepted JSON types.
PARAM_TYPES: dict[str, tuple[type, ...]] = {
    "parallelism": (int,),
    "request_timeout": (int,),
    "max_retries": (int,),
    "limit_samples": (int,),
    "max_tokens": (int,),
    "temperature": (int, float),
    "top_p": (int, float),
    "stop": (str, list),
    "extra": (dict,),
}
ENDED = ("completed", "failed", "cancelled")


class HttpError(Exception):
    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(str(detail))
        self.status = status
        self.detail = detail


def _now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat()


def _new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(8)}"


def _error(loc: list[str | int], msg: str, kind: str = "missing") -> dict[str, Any]:
    return {"loc": ["body", *loc], "msg": msg, "type": kind}


def _need(
    body: dict[str, Any], key: str, kinds: tuple[type, ...], loc: list[str | int]
) -> list[dict[str, Any]]:
    if key not in body or body[key] is None:
        return [_error([*loc, key], "Field required")]
    value = body[key]
    if not isinstance(value, kinds) or isinstance(value, bool):
        return [_error([*loc, key], f"Input should be of type {kinds[0].__name__}", "type_error")]
    if isinstance(value, str) and not value:
        return [_error([*loc, key], "String should have at least 1 character", "string_too_short")]
    return []


def _check_entity(body: dict[str, Any], loc: list[str | int]) -> list[dict[str, Any]]:
    """name/namespace rules shared by targets and configs."""
    errors: list[dict[str, Any]] = []
    for key in ("name", "namespace"):
        value = body.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or len(value) > 255 or not NAME_PATTERN.match(value):
            errors.append(
                _error([*loc, key], r"String should match pattern '^[\w\-\+.@:]*$'", "string_pattern")
            )
    return errors


def validate_target(body: Any, loc: list[str | int] | None = None) -> list[dict[str, Any]]:
    loc = loc or []
    if not isinstance(body, dict):
        return [_error(loc, "Input should be a valid dictionary", "dict_type")]
    errors = _check_entity(body, loc) + _need(body, "type", (str,), loc)
    if errors:
        return errors
    if body["type"] not in TARGET_TYPES:
        return [_error([*loc, "type"], f"Input should be one of {', '.join(TARGET_TYPES)}", "enum")]
    if body["type"] != "model":
        return []
    errors = _need(body, "model", (dict, str), loc)
    model = body.get("model")
    if errors or isinstance(model, str):
        return errors
    assert isinstance(model, dict)
    errors = _need(model, "api_endpoint", (dict,), [*loc, "model"])
    if errors:
        return errors
    endpoint = model["api_endpoint"]
    at = [*loc, "model", "api_endpoint"]
    errors = _need(endpoint, "url", (str,), at) + _need(endpoint, "model_id", (str,), at)
    if "format" in endpoint and endpoint["format"] not in ("nim", "openai", "lama_stack"):
        errors.append(_error([*at, "format"], "Input should be 'nim', 'openai' or 'lama_stack'", "enum"))
    return errors


def validate_config(body: Any, loc: list[str | int] | None = None) -> list[dict[str, Any]]:
    loc = loc or []
    if not isinstance(body, dict):
        return [_error(loc, "Input should be a valid dictionary", "dict_type")]
    errors = _check_entity(body, loc) + _need(body, "type", (str,), loc)
    params = body.get("params")
    if params is not None:
        if not isinstance(params, dict):
            errors.append(_error([*loc, "params"], "Input should be a valid dictionary", "dict_type"))
        else:
            for key, value in params.items():
                kinds = PARAM_TYPES.get(key)
                if value is not None and kinds and (not isinstance(value, kinds) or isinstance(value, bool)):
                    errors.append(
                        _error([*loc, "params", key], f"Input should be {kinds[0].__name__}", "type_error")
                    )
    tasks = body.get("tasks")
    if tasks is not None:
        if not isinstance(tasks, dict):
            errors.append(_error([*loc, "tasks"], "Input should be a valid dictionary", "dict_type"))
        else:
            for name, task in tasks.items():
                if not isinstance(task, dict):
                    errors.append(
                        _error([*loc, "tasks", name], "Input should be a valid dictionary", "dict_type")
                    )
                else:
                    errors += _need(task, "type", (str,), [*loc, "tasks", name])
    return errors


def _score(*parts: object) -> float:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return round(int.from_bytes(digest[:8], "big") / 2**64, 4)


def metrics_for(task: str) -> dict[str, list[str]]:
    """Metric -> score names a task reports (lm-eval style: filters of a generative task are scores)."""
    if "gsm8k" in task:
        return {"exact_match": ["strict-match", "flexible-extract"]}
    if "math" in task:
        return {"exact_match": ["exact_match"]}
    return {"accuracy": ["accuracy"]}


def make_results(job: dict[str, Any]) -> dict[str, Any]:
    config, target = job["config"], job["target"]
    params = config.get("params") or {}
    limit = params.get("limit_samples")
    model_id = ((target.get("model") or {}).get("api_endpoint") or {}).get("model_id", "")
    names = list(config.get("tasks") or {}) or [config["type"]]
    count = limit or 100
    tasks = {
        task: {
            "metrics": {
                metric: {
                    "scores": {
                        score: {
                            "value": (v := _score(task, metric, score, model_id, limit)),
                            "stats": {"count": count, "mean": v},
                        }
                        for score in scores
                    }
                }
                for metric, scores in metrics_for(task).items()
            }
        }
        for task in names
    }
    now = _now()
    return {
        "created_at": now,
        "updated_at": now,
        "id": _new_id("evaluation_result"),
        "job": job["id"],
        "namespace": job["namespace"],
        "tasks": tasks,
        "groups": {},
    }


@dataclass
class Recorded:
    method: str
    path: str
    body: Any


@dataclass
class _State:
    job_seconds: float
    fail_message: str | None
    targets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    configs: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    started: dict[str, float] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(JsonHandler):
    server: _Server

    def handle_json(self, method: str) -> None:
        raw = self.read_body()
        path = self.path.split("?", 1)[0].rstrip("/")
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            self.send_json(422, {"detail": [_error([], "JSON decode error", "json_invalid")]})
            return
        state = self.server.state
        with state.lock:
            state.requests.append(Recorded(method, path, body))
        try:
            status, payload = self.server.route(method, path, body)
        except HttpError as exc:
            status, payload = exc.status, {"detail": exc.detail}
        self.send_json(status, payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: _State

    def route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        if method == "GET" and parts == ["health"]:
            return 200, {"status": "healthy"}
        if parts[:2] != ["v1", "evaluation"] or len(parts) < 3:
            raise HttpError(404, "Not Found")
        kind, rest = parts[2], parts[3:]
        if kind in ("targets", "configs"):
            store = self.state.targets if kind == "targets" else self.state.configs
            if method == "POST" and not rest:
                check = validate_target if kind == "targets" else validate_config
                return 200, self._create(store, kind[:-1], body, check)
            if method == "GET" and len(rest) == 2:
                return 200, self._find(store, kind[:-1], f"{rest[0]}/{rest[1]}")
        if kind == "jobs":
            if method == "POST" and not rest:
                return 200, self._create_job(body)
            if rest:
                job = self._job(rest[0])
                if method == "GET" and len(rest) == 1:
                    return 200, self._public(job)
                if method == "GET" and rest[1:] == ["status"]:
                    details = job["status_details"]
                    return 200, {"id": job["id"], "status": job["status"], **details}
                if method == "GET" and rest[1:] == ["results"]:
                    if job["status"] != "completed":
                        raise HttpError(409, f"Job {job['id']} has no results: its status is {job['status']}")
                    return 200, job["_results"]
                if method == "POST" and rest[1:] == ["cancel"]:
                    with self.state.lock:
                        if job["status"] not in ENDED:
                            job["status"] = "cancelled"
                            job["status_details"]["message"] = "Job cancelled by user"
                    return 200, self._public(job)
        raise HttpError(404, "Not Found")

    def _create(self, store: dict[tuple[str, str], Any], kind: str, body: Any, check: Any) -> dict[str, Any]:
        errors = check(body)
        if errors:
            raise HttpError(422, errors)
        entity_id = _new_id(f"eval-{kind}")
        namespace = body.get("namespace") or "default"
        name = body.get("name") or entity_id
        now = _now()
        entity = {
            **body,
            "id": entity_id,
            "name": name,
            "namespace": namespace,
            "created_at": now,
            "updated_at": now,
        }
        with self.state.lock:
            if (namespace, name) in store:
                raise HttpError(409, f"Evaluation {kind} '{namespace}/{name}' already exists")
            store[(namespace, name)] = entity
        return entity

    def _find(self, store: dict[tuple[str, str], Any], kind: str, ref: str) -> dict[str, Any]:
        namespace, _, name = ref.rpartition("/")
        with self.state.lock:
            entity = store.get((namespace or "default", name))
        if entity is None:
            raise HttpError(404, f"Evaluation {kind} '{ref}' not found")
        return dict(entity)

    def _resolve(self, kind: str, value: Any) -> dict[str, Any]:
        store = self.state.targets if kind == "target" else self.state.configs
        if isinstance(value, str):
            try:
                return self._find(store, kind, value)
            except HttpError:
                raise HttpError(
                    422, [_error([kind], f"Evaluation {kind} '{value}' not found", "value_error")]
                ) from None
        check = validate_target if kind == "target" else validate_config
        errors = check(value, [kind])
        if errors:
            raise HttpError(422, errors)
        return dict(value)

    def _create_job(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise HttpError(422, [_error([], "Input should be a valid dictionary", "dict_type")])
        errors = _need(body, "target", (str, dict), []) + _need(body, "config", (str, dict), [])
        if errors:
            raise HttpError(422, errors)
        target, config = self._resolve("target", body["target"]), self._resolve("config", body["config"])
        now = _now()
        job: dict[str, Any] = {
            "id": _new_id("eval"),
            "namespace": body.get("namespace") or "default",
            "description": body.get("description"),
            "target": target,
            "config": config,
            "result": None,
            "output_files_url": None,
            "status_details": {"message": None, "task_status": {}, "progress": None, "samples_processed": 0},
            "status": "created",
            "project": body.get("project"),
            "custom_fields": body.get("custom_fields") or {},
            "created_at": now,
            "updated_at": now,
        }
        with self.state.lock:
            self.state.jobs[job["id"]] = job
            self.state.started[job["id"]] = time.monotonic()
        return self._public(job)

    def _job(self, job_id: str) -> dict[str, Any]:
        """The stored job, advanced to now (callers mutate it only under the lock)."""
        with self.state.lock:
            job = self.state.jobs.get(job_id)
            if job is None:
                raise HttpError(404, f"Evaluation job '{job_id}' not found")
            self._advance(job)
            return job

    def _advance(self, job: dict[str, Any]) -> None:
        """Moves the job along the clock: created (first 10%), running, then completed or failed."""
        if job["status"] in ENDED:
            return
        span = self.state.job_seconds
        done = min(1.0, (time.monotonic() - self.state.started[job["id"]]) / span) if span > 0 else 1.0
        limit = (job["config"].get("params") or {}).get("limit_samples")
        tasks = list(job["config"].get("tasks") or {}) or [job["config"]["type"]]
        details = job["status_details"]
        details["samples_processed"] = int(done * (limit or 100))
        # Documented: progress is a percentage, and null unless limit_samples is set.
        details["progress"] = round(done * 100, 1) if limit else None
        job["updated_at"] = _now()
        if done >= 1.0 and self.state.fail_message:
            job["status"] = "failed"
            details["message"] = self.state.fail_message
            details["task_status"] = dict.fromkeys(tasks, "failed")
        elif done >= 1.0:
            job["status"] = "completed"
            details["message"] = "Job completed successfully"
            details["task_status"] = dict.fromkeys(tasks, "completed")
            job["_results"] = make_results(job)
            job["result"] = job["_results"]["id"]
        elif done >= 0.1:
            job["status"] = "running"
            details["message"] = "Job is running"
            details["task_status"] = dict.fromkeys(tasks, "running")

    @staticmethod
    def _public(job: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in job.items() if not k.startswith("_")}


class NemoServer:
    """``with NemoServer(job_seconds=0.5) as nemo:`` serves on ``nemo.endpoint``:``nemo.port``."""

    def __init__(
        self,
        port: int = 0,
        job_seconds: float = 0.5,
        fail_message: str | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self._server = _Server((host, port), _Handler)
        self._server.state = _State(job_seconds=job_seconds, fail_message=fail_message)
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        """The host, as a NeMo backend config's ``endpoint`` names it."""
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}:{self.port}"

    @property
    def requests(self) -> list[Recorded]:
        with self._server.state.lock:
            return list(self._server.state.requests)

    def bodies(self, method: str, path: str) -> list[Any]:
        """Bodies received for one method and path, e.g. ``bodies("POST", "/v1/evaluation/targets")``."""
        return [r.body for r in self.requests if r.method == method and r.path == path.rstrip("/")]

    def start(self) -> NemoServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> NemoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description="NeMo Evaluator stand-in (v1 API subset) for tests and demos"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3825)
    parser.add_argument("--job-seconds", type=float, default=5.0, help="how long each job runs")
    parser.add_argument("--fail", metavar="MESSAGE", help="make every job fail with this status message")
    args = parser.parse_args()
    server = NemoServer(port=args.port, job_seconds=args.job_seconds, fail_message=args.fail, host=args.host)
    print(f"NeMo Evaluator stand-in on {server.url}", flush=True)
    try:
        server._server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server._server.server_close()


if __name__ == "__main__":
    main()
