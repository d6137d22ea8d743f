"""AWS for integration tests: one moto server per session, fresh resources per test.

The server is a ``ThreadedMotoServer`` on a free port and ``AWS_ENDPOINT_URL`` points at it, so every
boto3 client the code under test creates talks to it unchanged (no client injection needed).
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto.dynamodb.responses import DynamoHandler
from moto.server import ThreadedMotoServer

from evalhub.storage.dynamodb import DynamoStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

REGION = "us-east-1"
MAX_RECEIVES = 3
FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
}


def _serialised(call_action: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """moto's DynamoDB is not safe across threads: a transaction snapshots whole tables and restores
    them when it is cancelled, wiping writes that landed in between. Real DynamoDB isolates
    transactions, so the fake handles one DynamoDB call at a time to behave the same way."""
    lock = threading.Lock()

    def call(self: Any) -> Any:
        with lock:
            return call_action(self)

    return call


@pytest.fixture(scope="session")
def aws_endpoint() -> Iterator[str]:
    """The moto server's URL; while it runs, the environment sends every boto3 client to it."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access-log line per AWS call
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("AWS_PROFILE", raising=False)
        for name, value in {**FAKE_ENV, "AWS_ENDPOINT_URL": endpoint}.items():
            mp.setenv(name, value)
        mp.setattr(DynamoHandler, "call_action", _serialised(DynamoHandler.call_action))
        yield endpoint
    server.stop()


@pytest.fixture
def dynamo_store(aws_endpoint: str) -> Iterator[DynamoStore]:
    """A DynamoStore on a fresh table with the production schema."""
    store = DynamoStore.create_table(f"evalhub-{uuid.uuid4().hex[:12]}")
    yield store
    store.client.delete_table(TableName=store.table_name)
    store.close()


@pytest.fixture
def sqs(aws_endpoint: str) -> SQSClient:
    return boto3.client("sqs")


@dataclass(frozen=True)
class SqsQueues:
    url: str
    dlq_url: str
    max_receives: int
    """Receives after which the next one moves the message to the dead-letter queue instead."""


@pytest.fixture
def sqs_queues(sqs: SQSClient) -> Iterator[SqsQueues]:
    """A fresh job queue (visibility timeout 1 s) with its dead-letter queue and redrive policy."""
    name = f"evalhub-jobs-{uuid.uuid4().hex[:12]}"
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVES)})
    created = sqs.create_queue(
        QueueName=name, Attributes={"VisibilityTimeout": "1", "RedrivePolicy": redrive}
    )
    queues = SqsQueues(created["QueueUrl"], dlq_url, MAX_RECEIVES)
    yield queues
    for url in (queues.url, queues.dlq_url):
        sqs.delete_queue(QueueUrl=url)


@pytest.fixture
def s3_bucket(aws_endpoint: str) -> str:
    name = f"evalhub-results-{uuid.uuid4().hex[:12]}"
    s3: S3Client = boto3.client("s3")
    s3.create_bucket(Bucket=name)
    return name
