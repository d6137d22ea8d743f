"""The AWS deployment end to end on moto: API events through the Mangum handler -> DynamoDB + SQS ->
the dispatcher handler fed the SQS event -> ECS RunTask recorded in moto -> the runner executed as a
subprocess for that job (as its container would) against the test model server -> results in S3 and
DynamoDB -> the status through the API handler, with the same metrics as local mode."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from evalhub.context import build_context
from evalhub.models import JobStatus
from evalhub.services import evaluations
from evalhub.services.dispatch import Outcome, dispatch
from evalhub.settings import Settings, get_settings
from evalhub.storage.dynamodb import DynamoStore
from evalhub_runner.runner import run_job
from tests.integration.conftest import FAKE_ENV, EcsSetup, SqsQueues
from tests.support.model_server import ModelServer

pytestmark = pytest.mark.slow

TASKS = Path(__file__).resolve().parents[1] / "support" / "tasks"


class LambdaContext:
    function_name = "evalhub-test"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:evalhub-test"
    aws_request_id = "test-request"


def http_api_event(method: str, path: str, body: Any = None, query: str = "") -> dict[str, Any]:
    """An API Gateway HTTP API (payload v2) event."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"host": "abc123.execute-api.us-east-1.amazonaws.com", "content-type": "application/json"},
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "stage": "$default",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "1.2.3.4",
                "userAgent": "t",
            },
        },
    }


def rest_api_event(method: str, path: str, body: Any = None) -> dict[str, Any]:
    """An API Gateway REST API (payload v1) event."""
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": {"Host": "abc123.execute-api.us-east-1.amazonaws.com", "Content-Type": "application/json"},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "stage": "prod",
            "httpMethod": method,
            "path": path,
        },
    }


@dataclass
class Stack:
    settings: Settings
    env: dict[str, str]
    queues: SqsQueues
    bucket: str
    ecs: EcsSetup
    last: dict[str, Any] | None = None

    def api(self, method: str, path: str, body: Any = None, rest: bool = False) -> tuple[int, Any]:
        from evalhub_api.handler import handler

        event = rest_api_event(method, path, body) if rest else http_api_event(method, path, body)
        result = handler(event, LambdaContext())
        self.last = result
        raw = result["body"]
        if result.get("isBase64Encoded"):
            raw = base64.b64decode(raw).decode()
        return int(result["statusCode"]), json.loads(raw) if raw else None

    def sqs_event(self, max_messages: int = 10) -> dict[str, Any]:
        """Take messages off the jobs queue and shape them as the Lambda SQS event source does."""
        sqs = boto3.client("sqs")
        got = sqs.receive_message(
            QueueUrl=self.queues.url,
            MaxNumberOfMessages=max_messages,
            AttributeNames=["All"],
            WaitTimeSeconds=1,
        )
        return {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m["Attributes"],
                    "messageAttributes": {},
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:jobs",
                    "awsRegion": "us-east-1",
                }
                for m in got.get("Messages", [])
            ]
        }

    def dispatch(self, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Feed an SQS event (by default, what the queue has) to the dispatcher Lambda, then delete the
        records it did not report as failed, as the Lambda SQS event source mapping does."""
        from evalhub_dispatcher.handlers import dispatch

        event = self.sqs_event() if event is None else event
        response = dispatch(event, LambdaContext())
        failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        sqs = boto3.client("sqs")
        for record in event["Records"]:
            if record["messageId"] not in failed:
                sqs.delete_message(QueueUrl=self.queues.url, ReceiptHandle=record["receiptHandle"])
        return response

    def tasks(self) -> list[dict[str, Any]]:
        """The cluster's tasks that have not stopped."""
        client = boto3.client("ecs")
        arns = client.list_tasks(cluster=self.ecs.cluster)["taskArns"]
        found = client.describe_tasks(cluster=self.ecs.cluster, tasks=arns)["tasks"] if arns else []
        return [t for t in found if t["lastStatus"] != "STOPPED"]

    def run_container(self, task: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        """What the ECS task's container does: `python -m evalhub_runner` with the overrides' ids."""
        overrides = {e["name"]: e["value"] for e in task["overrides"]["containerOverrides"][0]["environment"]}
        return subprocess.run(
            [sys.executable, "-m", "evalhub_runner"],
            env={**os.environ, **self.env, **overrides},
            capture_output=True,
            text=True,
            timeout=300,
        )


@pytest.fixture
def stack(
    dynamo_store: DynamoStore,
    sqs_queues: SqsQueues,
    s3_bucket: str,
    ecs: EcsSetup,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Stack]:
    env = {
        "EVALHUB_MODE": "aws",
        "EVALHUB_TABLE_NAME": dynamo_store.table_name,
        "EVALHUB_QUEUE_URL": sqs_queues.url,
        "EVALHUB_RESULTS_BUCKET": s3_bucket,
        "EVALHUB_LAUNCHER": "ecs",
        "EVALHUB_ECS_CLUSTER": ecs.cluster,
        "EVALHUB_ECS_CPU_TASK_DEFINITION": ecs.cpu_task_definition,
        "EVALHUB_ECS_GPU_TASK_DEFINITION": ecs.gpu_task_definition,
        "EVALHUB_ECS_GPU_CAPACITY_PROVIDER": ecs.gpu_capacity_provider,
        "EVALHUB_SUBNETS": ",".join(ecs.network.subnets),
        "EVALHUB_SECURITY_GROUPS": ",".join(ecs.network.security_groups),
        "EVALHUB_HEARTBEAT_INTERVAL_SECONDS": "0.5",
        "POWERTOOLS_METRICS_NAMESPACE": "EvalHub",
        "POWERTOOLS_SERVICE_NAME": "evalhub",
        "POWERTOOLS_TRACE_DISABLED": "1",
        **FAKE_ENV,
        "AWS_ENDPOINT_URL": os.environ["AWS_ENDPOINT_URL"],
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in [n for n in os.environ if n.startswith("EVAL_HUB_MODEL_")]:
        monkeypatch.delenv(name)

    import evalhub_api.handler as api_handler
    import evalhub_dispatcher.handlers as dispatcher

    def fresh() -> None:  # each Lambda starts cold for each test
        get_settings.cache_clear()
        monkeypatch.setattr(api_handler, "_entry", None)
        monkeypatch.setattr(dispatcher, "_ctx", None)

    fresh()
    for task in Stack(get_settings(), env, sqs_queues, s3_bucket, ecs).tasks():
        boto3.client("ecs").stop_task(cluster=ecs.cluster, task=task["taskArn"])
    yield Stack(get_settings(), env, sqs_queues, s3_bucket, ecs)
    fresh()


@pytest.fixture
def model_server() -> Iterator[ModelServer]:
    with ModelServer() as server:
        yield server


def evaluation(tasks: list[str], retry_attempts: int = 0) -> dict[str, Any]:
    return {
        "request_id": str(uuid.uuid4()),
        "experiment_name": "aws flow",
        "evaluations": [
            {
                "name": "tiny",
                "model_name": "tiny-vllm",
                "backends": [
                    {
                        "name": "lm-eval",
                        "type": "lm-evaluation-harness",
                        "config": {"parallelism": 4},
                        "benchmarks": [
                            {"name": task, "tasks": [task], "custom_task": {"include_path": str(TASKS)}}
                            for task in tasks
                        ],
                    }
                ],
                "retry_attempts": retry_attempts,
            }
        ],
    }


def register_model(stack: Stack, server: ModelServer) -> None:
    model = {
        "model_id": "tiny-vllm",
        "model_name": "Tiny",
        "model_type": "vllm",
        "base_url": server.base_url,
        "model_path": server.model,
    }
    status, body = stack.api("POST", "/api/v1/models", model)
    assert status == 201, body


def local_metrics(tmp_path: Path, server: ModelServer, body: dict[str, Any]) -> list[dict[str, float]]:
    """The same request in local mode (SQLite, files), its jobs run in this process."""
    ctx = build_context(Settings(mode="local", home=tmp_path / "local"))
    try:
        from evalhub.models import EvaluationRequestCreate, ModelCreate

        ctx.models.register(
            ModelCreate(
                model_id="tiny-vllm",
                model_name="Tiny",
                model_type="vllm",
                base_url=server.base_url,
                model_path=server.model,
            )
        )
        response = evaluations.submit(
            ctx, EvaluationRequestCreate.model_validate({**body, "request_id": None})
        )
        for job in ctx.store.list_jobs(response.request_id):
            ctx.store.transition_job(
                job.request_id,
                job.job_id,
                expected=[JobStatus.QUEUED],
                to=JobStatus.DISPATCHED,
                changes={"attempts": 1},
                rollup=lambda jobs: evaluations.rollup(jobs),
            )
            assert run_job(ctx, job.request_id, job.job_id) == JobStatus.COMPLETED
        return [j.metrics for j in ctx.store.list_jobs(response.request_id)]
    finally:
        ctx.close()


def test_an_evaluation_runs_through_the_whole_aws_stack(
    stack: Stack, model_server: ModelServer, tmp_path: Path
) -> None:
    # Given a registered model, When an evaluation is submitted through API Gateway
    register_model(stack, model_server)
    body = evaluation(["evalhub_mc", "evalhub_gen"])
    status, accepted = stack.api("POST", "/api/v1/evaluations", body)
    assert status == 202, accepted
    assert (
        accepted["experiment_url"]
        == f"https://abc123.execute-api.us-east-1.amazonaws.com/api/v1/evaluations/{body['request_id']}"
    )

    # Then the dispatcher, fed the SQS event, launches one ECS task per job with only ids in it

    event = stack.sqs_event()
    assert len(event["Records"]) == 2
    assert stack.dispatch(event) == {"batchItemFailures": []}
    tasks = stack.tasks()
    assert len(tasks) == 2 and {t["launchType"] for t in tasks} == {"FARGATE"}
    # A duplicate delivery of the same messages launches nothing more
    assert stack.dispatch(event) == {"batchItemFailures": []}
    assert len(stack.tasks()) == 2

    # When each task's container runs the runner
    for task in tasks:
        done = stack.run_container(task)
        assert done.returncode == 0, done.stdout + done.stderr

    # Then the API reports the evaluation completed, with results in S3 and DynamoDB
    status, result = stack.api("GET", f"/api/v1/evaluations/{body['request_id']}")
    assert status == 200 and result["status"] == "completed", [r["error_message"] for r in result["results"]]
    s3 = boto3.client("s3")
    for job in result["results"]:
        assert job["status"] == "completed" and job["attempts"] == 1
        uri = job["artifacts"]["results"]
        assert uri.startswith(f"s3://{stack.bucket}/results/{body['request_id']}/{job['job_id']}/")
        key = uri.removeprefix(f"s3://{stack.bucket}/")
        assert "model_args" in s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read().decode()
    # And the API hands out presigned links to them
    job = result["results"][0]
    status, _ = stack.api(
        "GET", f"/api/v1/evaluations/{body['request_id']}/jobs/{job['job_id']}/artifacts/summary"
    )
    assert status == 307 and stack.last is not None
    link = stack.last["headers"]["location"]
    assert link.startswith(os.environ["AWS_ENDPOINT_URL"]) and "Signature" in link
    assert json.loads(urllib.request.urlopen(link).read())["job_id"] == job["job_id"]
    # And the metrics are exactly those of the same evaluation in local mode
    assert [job["metrics"] for job in result["results"]] == local_metrics(tmp_path, model_server, body)
    # And the REST API (v1) event shape answers the same
    status, same = stack.api("GET", f"/api/v1/evaluations/{body['request_id']}", rest=True)
    assert status == 200 and same["results"] == result["results"]


def test_an_ecs_task_stopped_mid_run_is_retried(stack: Stack, model_server: ModelServer) -> None:
    from evalhub_dispatcher.handlers import state_change

    register_model(stack, model_server)
    body = evaluation(["evalhub_mc"], retry_attempts=1)
    assert stack.api("POST", "/api/v1/evaluations", body)[0] == 202
    assert stack.dispatch() == {"batchItemFailures": []}
    (task,) = stack.tasks()
    ctx = build_context()
    (job,) = ctx.store.list_jobs(body["request_id"])
    # Given the runner had started (it marks its job running)...
    ctx.store.transition_job(
        job.request_id,
        job.job_id,
        expected=[JobStatus.DISPATCHED],
        to=JobStatus.RUNNING,
        changes={},
        rollup=evaluations.rollup,
    )
    # ...When ECS stops the task (a Spot reclaim, an OOM kill) and EventBridge delivers the event
    ecs = boto3.client("ecs")
    ecs.stop_task(cluster=stack.ecs.cluster, task=task["taskArn"], reason="Host EC2 instance terminated")
    stopped = ecs.describe_tasks(cluster=stack.ecs.cluster, tasks=[task["taskArn"]])["tasks"][0]
    detail = json.loads(json.dumps(stopped, default=str))
    detail["containers"] = [{**c, "exitCode": 137} for c in detail["containers"]]
    event = {"detail-type": "ECS Task State Change", "source": "aws.ecs", "detail": detail}
    assert state_change(event, LambdaContext()) == {"action": "retried"}

    # Then the job is queued again with the reason, and its second attempt completes
    retried = ctx.store.get_job(job.request_id, job.job_id)
    assert retried is not None and retried.status == JobStatus.QUEUED
    assert "Host EC2 instance terminated" in (retried.error_message or "")
    assert "exit code 137" in (retried.error_message or "")
    assert state_change(event, LambdaContext()) == {"action": "ignored"}  # a repeated event changes nothing
    assert stack.dispatch() == {"batchItemFailures": []}
    (new_task,) = stack.tasks()
    assert stack.run_container(new_task).returncode == 0
    status, result = stack.api("GET", f"/api/v1/evaluations/{body['request_id']}")
    assert status == 200 and result["status"] == "completed" and result["results"][0]["attempts"] == 2


def test_an_s3_upload_of_a_request_creates_an_evaluation(stack: Stack) -> None:
    from evalhub_dispatcher.handlers import submit_from_s3

    body = {
        "request_id": str(uuid.uuid4()),
        "evaluations": [{"name": "nightly", "model_name": "gpt-4o-mini", "risk_category": "low"}],
    }
    s3 = boto3.client("s3")
    s3.put_object(Bucket=stack.bucket, Key="requests/nightly.json", Body=json.dumps(body).encode())
    event = {
        "detail-type": "Object Created",
        "source": "aws.s3",
        "detail": {"bucket": {"name": stack.bucket}, "object": {"key": "requests/nightly.json"}},
    }
    assert submit_from_s3(event, LambdaContext()) == {
        "key": "requests/nightly.json",
        "accepted": True,
        "request_id": body["request_id"],
    }
    status, stored = stack.api("GET", f"/api/v1/evaluations/{body['request_id']}")
    assert status == 200 and stored["total_evaluations"] == 2

    # A bad upload is rejected with the reason written beside it, nothing stored
    s3.put_object(Bucket=stack.bucket, Key="requests/bad.json", Body=b'{"evaluations": []}')
    event["detail"]["object"]["key"] = "requests/bad.json"  # type: ignore[index]
    outcome = submit_from_s3(event, LambdaContext())
    assert outcome["accepted"] is False and "evaluations" in outcome["detail"]
    error = s3.get_object(Bucket=stack.bucket, Key="request-errors/requests/bad.json.error.json")
    assert "evaluations" in json.loads(error["Body"].read())["detail"]


def test_the_concurrency_cap_defers_without_launching(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:

    monkeypatch.setenv("EVALHUB_MAX_CONCURRENT_JOBS", "1")
    get_settings.cache_clear()
    body = {"evaluations": [{"name": "e", "model_name": "gpt-4o-mini", "risk_category": "low"}]}
    assert stack.api("POST", "/api/v1/evaluations", body)[0] == 202
    event = stack.sqs_event()
    response = stack.dispatch(event)
    # One job launches, the other is reported failed so that SQS redelivers it later
    assert len(response["batchItemFailures"]) == 1 and len(stack.tasks()) == 1
    ctx = build_context()
    assert dispatch(
        ctx,
        __import__("evalhub.queue", fromlist=["JobMessage"]).JobMessage.model_validate_json(
            event["Records"][1]["body"]
        ),
    ) in (Outcome.DEFERRED, Outcome.SKIPPED)


def test_cancel_through_the_api_stops_the_ecs_task(
    stack: Stack, model_server: ModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import evalhub_api.handler as api_handler

    register_model(stack, model_server)
    body = evaluation(["evalhub_mc"])
    assert stack.api("POST", "/api/v1/evaluations", body)[0] == 202
    assert stack.dispatch() == {"batchItemFailures": []}
    (task,) = stack.tasks()

    # Given the API function as deployed: it knows no cluster (template.yaml gives it no launch settings)
    for name in [
        n for n in os.environ if n.startswith(("EVALHUB_ECS_", "EVALHUB_SUBNETS", "EVALHUB_SECURITY"))
    ]:
        monkeypatch.delenv(name)
    get_settings.cache_clear()
    monkeypatch.setattr(api_handler, "_entry", None)
    # When the user cancels
    status, answer = stack.api("DELETE", f"/api/v1/evaluations/{body['request_id']}")
    assert status == 200 and answer["cancelled_jobs"] == 1
    # Then the dispatcher, which knows the cluster, gets the stop on the queue and stops the task
    for name, value in stack.env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    event = stack.sqs_event()
    assert [json.loads(r["body"])["stop"] for r in event["Records"]] == [f"ecs:{task['taskArn']}"]
    assert stack.dispatch(event) == {"batchItemFailures": []}
    assert stack.tasks() == []
    status, final = stack.api("GET", f"/api/v1/evaluations/{body['request_id']}")
    assert final["status"] == "cancelled"


def test_a_scheduled_request_creates_a_fresh_evaluation_each_run(stack: Stack) -> None:
    from evalhub_dispatcher.handlers import submit_scheduled

    # Given a stored request (with a request_id, which each run must not reuse)
    body = {
        "request_id": str(uuid.uuid4()),
        "experiment_name": "nightly",
        "evaluations": [{"name": "nightly", "model_name": "gpt-4o-mini", "risk_category": "low"}],
    }
    boto3.client("s3").put_object(
        Bucket=stack.bucket, Key="scheduled/nightly.json", Body=json.dumps(body).encode()
    )
    # When the schedule fires twice
    runs = [submit_scheduled({"request_key": "scheduled/nightly.json"}, LambdaContext()) for _ in range(2)]
    # Then two evaluations exist, neither with the stored id
    assert all(run["accepted"] for run in runs)
    ids = {run["request_id"] for run in runs}
    assert len(ids) == 2 and body["request_id"] not in ids
    for request_id in ids:
        status, stored = stack.api("GET", f"/api/v1/evaluations/{request_id}")
        assert status == 200 and stored["experiment_name"] == "nightly"


def test_the_reaper_fails_a_job_past_its_timeout_and_stops_its_task(
    stack: Stack, model_server: ModelServer
) -> None:
    import time

    from evalhub_dispatcher.handlers import reap

    register_model(stack, model_server)
    body = evaluation(["evalhub_mc"], retry_attempts=2)
    body["evaluations"][0]["timeout_minutes"] = 0.01  # 0.6 s
    assert stack.api("POST", "/api/v1/evaluations", body)[0] == 202
    assert stack.dispatch() == {"batchItemFailures": []}
    assert len(stack.tasks()) == 1
    time.sleep(1)
    assert reap({}, LambdaContext()) == {"reaped": 1}
    status, final = stack.api("GET", f"/api/v1/evaluations/{body['request_id']}")
    assert (
        status == 200 and final["status"] == "failed" and "timed out" in final["results"][0]["error_message"]
    )
    assert stack.tasks() == []
    assert reap({}, LambdaContext()) == {"reaped": 0}
