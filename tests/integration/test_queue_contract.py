"""The JobQueue contract (queue/base.py), run against the SQLite queue and SQS (moto)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from evalhub.errors import InvalidRequest
from evalhub.queue import Delivery, JobMessage, JobQueue
from evalhub.queue.local import LocalQueue
from evalhub.queue.sqs import SqsQueue, parse_sqs_record

if TYPE_CHECKING:
    from tests.integration.conftest import SqsQueues


@dataclass
class Subject:
    queue: JobQueue
    visibility: float
    """The queue's visibility timeout in seconds (SQS counts whole seconds)."""


@pytest.fixture(params=["local", "sqs"])
def subject(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Subject]:
    if request.param == "local":
        local = LocalQueue(tmp_path / "db.sqlite3", visibility_timeout=0.3)
        yield Subject(local, 0.3)
        local.close()
    else:
        queues: SqsQueues = request.getfixturevalue("sqs_queues")
        yield Subject(SqsQueue(queues.url, visibility_timeout=1), 1)


def messages(n: int, request_id: str = "r1") -> list[JobMessage]:
    return [JobMessage(request_id=request_id, job_id=f"job-{i}") for i in range(n)]


def receive_until(queue: JobQueue, n: int, timeout: float = 5) -> list[Delivery]:
    """Receive until ``n`` deliveries arrived (or ``timeout`` passed)."""
    got: list[Delivery] = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        got += queue.receive(max_messages=10)
    return got


def test_every_sent_message_is_received_once_and_acked_away(subject: Subject) -> None:
    q = subject.queue
    # Given 25 messages sent (more than one SQS batch)
    q.send(messages(25))
    assert q.depth() == 25
    # When they are received
    got = receive_until(q, 25)
    # Then each came exactly once, first delivery, and nothing more is visible
    assert sorted(d.message.job_id for d in got) == sorted(m.job_id for m in messages(25))
    assert {d.receive_count for d in got} == {1}
    assert q.receive(max_messages=10) == []
    # And in-flight messages still count, until they are acked
    assert q.depth() == 25
    for d in got:
        q.ack(d)
    assert q.depth() == 0


def test_sending_nothing_is_fine(subject: Subject) -> None:
    subject.queue.send([])
    assert subject.queue.depth() == 0


def test_an_unacked_message_comes_back_after_the_visibility_timeout(subject: Subject) -> None:
    q = subject.queue
    # Given a message received and not acked
    q.send(messages(1))
    (first,) = receive_until(q, 1)
    # Then it stays hidden while its visibility timeout runs
    assert q.receive() == []
    # And comes back once it passed, as a second delivery with a new receipt
    time.sleep(subject.visibility + 0.2)
    (second,) = receive_until(q, 1)
    assert second.message == first.message
    assert second.receive_count == 2
    assert second.receipt != first.receipt
    q.ack(second)
    assert q.depth() == 0


def test_a_released_message_returns_after_its_delay(subject: Subject) -> None:
    q = subject.queue
    q.send(messages(1))
    (first,) = receive_until(q, 1)
    # When it is released with no delay, it is visible at once
    q.release(first)
    (second,) = receive_until(q, 1, timeout=2)
    assert second.receive_count == 2
    # When it is released with a delay, it stays away for that delay, then returns
    q.release(second, delay_seconds=1)
    assert q.receive() == []
    assert q.depth() == 1
    time.sleep(1.2)
    (third,) = receive_until(q, 1)
    assert third.message == first.message and third.receive_count == 3


def test_local_receive_waits_for_a_message_sent_meanwhile(tmp_path: Path) -> None:
    # Given a receive waiting on an empty queue
    q = LocalQueue(tmp_path / "db.sqlite3")
    threading.Timer(0.2, q.send, args=(messages(1),)).start()
    # When another thread sends, the receive returns it well before its wait ends
    start = time.monotonic()
    got = q.receive(wait_seconds=5)
    assert [d.message.job_id for d in got] == ["job-0"]
    assert time.monotonic() - start < 2
    q.close()


def test_local_receivers_in_several_threads_share_the_messages_without_overlap(tmp_path: Path) -> None:
    # Given 40 messages and four threads receiving from one queue
    q = LocalQueue(tmp_path / "db.sqlite3")
    q.send(messages(40))
    got: list[Delivery] = []

    def drain() -> None:
        while batch := q.receive(max_messages=3):
            got.extend(batch)

    threads = [threading.Thread(target=drain) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Then every message went to exactly one of them
    assert sorted(d.message.job_id for d in got) == sorted(m.job_id for m in messages(40))
    q.close()


def test_local_queue_survives_reopening(tmp_path: Path) -> None:
    # Given messages sent, one taken in flight, and the queue closed
    q = LocalQueue(tmp_path / "db.sqlite3", visibility_timeout=0.1)
    q.send(messages(3))
    q.receive(max_messages=1)
    q.close()
    # When the file is opened again, everything is still there
    again = LocalQueue(tmp_path / "db.sqlite3", visibility_timeout=0.1)
    assert again.depth() == 3
    time.sleep(0.15)
    assert sorted(d.receive_count for d in again.receive()) == [1, 1, 2]
    again.close()


def test_sqs_moves_a_message_to_the_dead_letter_queue_after_max_receives(sqs_queues: SqsQueues) -> None:
    # Given a queue with a redrive policy
    q, dlq = SqsQueue(sqs_queues.url, visibility_timeout=1), SqsQueue(sqs_queues.dlq_url)
    q.send(messages(1))
    # When the message is received and released as often as the policy allows, without an ack
    for _ in range(sqs_queues.max_receives):
        (d,) = receive_until(q, 1)
        q.release(d)
    # Then the next receive finds nothing, and the message waits in the dead-letter queue
    assert q.receive() == []
    (dead,) = receive_until(dlq, 1)
    assert dead.message == messages(1)[0]
    assert q.depth() == 0


def test_a_lambda_sqs_record_parses_into_a_delivery() -> None:
    record = {
        "messageId": "m-1",
        "receiptHandle": "rh-1",
        "body": '{"request_id": "r1", "job_id": "j1"}',
        "attributes": {"ApproximateReceiveCount": "3"},
    }
    assert parse_sqs_record(record) == Delivery(
        message=JobMessage(request_id="r1", job_id="j1"), receipt="rh-1", receive_count=3
    )
    with pytest.raises(InvalidRequest):
        parse_sqs_record({**record, "body": "not json"})
