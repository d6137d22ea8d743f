"""template.yaml against the code and against EventBridge: every handler it names exists, and its
event rules match the events our handlers parse (checked by moto's EventBridge TestEventPattern)."""

from __future__ import annotations

import importlib
import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
CLUSTER_ARN = "arn:aws:ecs:us-east-1:123456789012:cluster/evalhub"
JOB_QUEUE_ARN = "arn:aws:batch:us-east-1:123456789012:job-queue/evalhub-gpu"
BUCKET = "evalhub-results"


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short-form tags (!Ref X, !GetAtt X.Y, ...) as {"Ref": ...}-style dicts."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        return {name: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {name: loader.construct_sequence(node, deep=True)}
    return {name: loader.construct_mapping(node, deep=True)}  # type: ignore[arg-type]


_CfnLoader.add_multi_constructor("!", _tag)
RESOLVED = {
    json.dumps({"Fn::GetAtt": "Cluster.Arn"}): CLUSTER_ARN,
    json.dumps({"Ref": "GpuJobQueue"}): JOB_QUEUE_ARN,
    json.dumps({"Ref": "ResultsBucket"}): BUCKET,
}


def resolve(value: Any) -> Any:
    if isinstance(value, dict):
        key = json.dumps(value)
        return RESOLVED[key] if key in RESOLVED else {k: resolve(v) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v) for v in value]
    return value


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)
    return loaded["Resources"]  # type: ignore[no-any-return]


def patterns(resources: dict[str, Any], function: str) -> dict[str, dict[str, Any]]:
    events = resources[function]["Properties"]["Events"]
    return {
        name: resolve(e["Properties"]["Pattern"])
        for name, e in events.items()
        if e["Type"] == "EventBridgeRule"
    }


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """Whether EventBridge routes ``event`` to a rule with ``pattern``: a rule on a fresh bus with an
    SQS target, the event put on the bus, and a look at the queue (moto has no TestEventPattern)."""
    name = f"rule-{uuid.uuid4().hex[:8]}"
    events, sqs = boto3.client("events"), boto3.client("sqs")
    events.create_event_bus(Name=name)
    queue = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=name, EventBusName=name, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=name, EventBusName=name, Targets=[{"Id": "q", "Arn": arn}])
    entry = {
        "Source": event["source"],
        "DetailType": event["detail-type"],
        "Detail": json.dumps(event["detail"]),
        "EventBusName": name,
    }
    assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0
    return bool(sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0).get("Messages"))


def test_every_function_handler_exists(resources: dict[str, Any]) -> None:
    functions = {n: r for n, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    assert len(functions) >= 6
    for name, resource in functions.items():
        module, _, attr = resource["Properties"]["Handler"].rpartition(".")
        assert callable(getattr(importlib.import_module(module), attr)), name


def test_state_change_rules_match_stopped_tasks_and_ended_batch_jobs(
    aws_endpoint: str, resources: dict[str, Any]
) -> None:
    rules = patterns(resources, "StateChangeFunction")
    (ecs_rule,) = [p for p in rules.values() if p["source"] == ["aws.ecs"]]
    (batch_rule,) = [p for p in rules.values() if p["source"] == ["aws.batch"]]

    def ecs_event(status: str, cluster: str = CLUSTER_ARN) -> dict[str, Any]:
        detail = {"lastStatus": status, "clusterArn": cluster, "taskArn": f"{CLUSTER_ARN}/t"}
        return {"source": "aws.ecs", "detail-type": "ECS Task State Change", "detail": detail}

    assert matches(ecs_rule, ecs_event("STOPPED"))
    assert not matches(ecs_rule, ecs_event("RUNNING"))
    assert not matches(
        ecs_rule, ecs_event("STOPPED", cluster="arn:aws:ecs:us-east-1:123456789012:cluster/other")
    )

    def batch_event(status: str) -> dict[str, Any]:
        detail = {"status": status, "jobQueue": JOB_QUEUE_ARN, "jobId": "j"}
        return {"source": "aws.batch", "detail-type": "Batch Job State Change", "detail": detail}

    assert matches(batch_rule, batch_event("FAILED")) and matches(batch_rule, batch_event("SUCCEEDED"))
    assert not matches(batch_rule, batch_event("RUNNING"))


def test_s3_rule_matches_request_uploads_only(aws_endpoint: str, resources: dict[str, Any]) -> None:
    (rule,) = patterns(resources, "SubmitFromS3Function").values()

    def upload(key: str) -> dict[str, Any]:
        detail = {"bucket": {"name": BUCKET}, "object": {"key": key}}
        return {"source": "aws.s3", "detail-type": "Object Created", "detail": detail}

    assert matches(rule, upload("requests/nightly.json"))
    assert not matches(rule, upload("results/r/j/results.json"))
