"""SQS implementation of the JobQueue (AWS mode). The queue's redrive policy sends a message that keeps
failing to the dead-letter queue; the template sets it, this class only talks to the main queue."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from ..awsclient import LazyClient
from ..errors import InvalidRequest, StorageUnavailable
from .base import Delivery, JobMessage

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

log = logging.getLogger(__name__)

BATCH = 10
MAX_WAIT_SECONDS = 20
# A stale receipt: the message was deleted or delivered again since. Nothing left to do.
GONE = frozenset({"ReceiptHandleIsInvalid", "MessageNotInflight", "InvalidParameterValue"})
# Waiting, delayed (released with a delay) and in flight: everything not yet acked.
DEPTH: tuple[QueueAttributeNameType, ...] = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesDelayed",
    "ApproximateNumberOfMessagesNotVisible",
)


class SqsQueue:
    def __init__(
        self, queue_url: str, client: SQSClient | None = None, visibility_timeout: int | None = None
    ):
        self.queue_url = queue_url
        self.visibility_timeout = visibility_timeout
        self._client: LazyClient[SQSClient] = LazyClient("sqs", client)

    @property
    def client(self) -> SQSClient:
        return self._client()

    @contextmanager
    def _errors(self, ignore: frozenset[str] = frozenset()) -> Iterator[None]:
        try:
            yield
        except ClientError as e:
            code = str(e.response.get("Error", {}).get("Code", ""))
            if code in ignore:
                return
            raise StorageUnavailable(f"SQS queue {self.queue_url}: {code}") from e
        except BotoCoreError as e:
            raise StorageUnavailable(f"SQS queue {self.queue_url} is unreachable: {e}") from e

    def send(self, messages: list[JobMessage]) -> None:
        for start in range(0, len(messages), BATCH):
            entries: list[SendMessageBatchRequestEntryTypeDef] = [
                {"Id": str(i), "MessageBody": m.model_dump_json()}
                for i, m in enumerate(messages[start : start + BATCH])
            ]
            # Entries can fail one by one (throttling, a hiccup); retry those once, then give up loudly.
            for last_try in (False, True):
                with self._errors():
                    resp = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
                failed = {f["Id"]: f for f in resp.get("Failed", [])}
                if not failed:
                    break
                if last_try:
                    reasons = sorted({f"{f['Code']}: {f.get('Message', '')}" for f in failed.values()})
                    raise StorageUnavailable(f"SQS refused {len(failed)} message(s): {'; '.join(reasons)}")
                entries = [e for e in entries if e["Id"] in failed]

    def receive(self, max_messages: int = 10, wait_seconds: float = 0) -> list[Delivery]:
        extra: dict[str, Any] = {}
        if self.visibility_timeout is not None:
            extra["VisibilityTimeout"] = self.visibility_timeout
        with self._errors():
            resp = self.client.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(max(max_messages, 1), BATCH),
                WaitTimeSeconds=min(math.ceil(max(wait_seconds, 0)), MAX_WAIT_SECONDS),
                MessageSystemAttributeNames=["ApproximateReceiveCount"],
                **extra,
            )
        deliveries = []
        for msg in resp.get("Messages", []):
            try:
                message = JobMessage.model_validate_json(msg.get("Body", ""))
            except ValidationError:
                # Not ours to handle: left alone, it reaches the dead-letter queue after a few receives.
                log.warning("skipping SQS message %s: not a job message", msg.get("MessageId"))
                continue
            count = int(msg.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
            deliveries.append(Delivery(message=message, receipt=msg["ReceiptHandle"], receive_count=count))
        return deliveries

    def ack(self, delivery: Delivery) -> None:
        with self._errors(ignore=GONE):
            self.client.delete_message(QueueUrl=self.queue_url, ReceiptHandle=delivery.receipt)

    def release(self, delivery: Delivery, delay_seconds: float = 0) -> None:
        with self._errors(ignore=GONE):
            self.client.change_message_visibility(
                QueueUrl=self.queue_url,
                ReceiptHandle=delivery.receipt,
                VisibilityTimeout=min(math.ceil(max(delay_seconds, 0)), 43_200),
            )

    def depth(self) -> int:
        with self._errors():
            attrs = self.client.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=list(DEPTH))
        return sum(int(attrs.get("Attributes", {}).get(name, "0")) for name in DEPTH)

    def close(self) -> None:
        self._client.close()


def parse_sqs_record(record: Mapping[str, Any]) -> Delivery:
    """A Lambda SQS event record as a Delivery; ``InvalidRequest`` if its body is not a job message."""
    try:
        message = JobMessage.model_validate_json(record.get("body", ""))
    except ValidationError as e:
        raise InvalidRequest(f"SQS message {record.get('messageId')} is not a job message") from e
    count = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
    return Delivery(message=message, receipt=str(record["receiptHandle"]), receive_count=count)
