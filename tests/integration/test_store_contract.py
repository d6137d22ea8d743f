"""The Store contract (storage/base.py), run against every implementation: SQLite and DynamoDB (moto)."""

from __future__ import annotations

import base64
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from evalhub.errors import AlreadyExists, InvalidRequest, NotFound, StorageUnavailable, TransitionRejected
from evalhub.models import (
    BackendType,
    JobRecord,
    JobStatus,
    Model,
    RequestRecord,
    RequestStatus,
    sources_of,
)
from evalhub.services.rollup import rollup
from evalhub.storage import Store
from evalhub.storage.dynamodb import DynamoStore

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        from evalhub.storage.sqlite import SqliteStore

        sqlite = SqliteStore(tmp_path / "db.sqlite3")
        yield sqlite
        sqlite.close()
    else:
        yield request.getfixturevalue("dynamo_store")


# -- builders ---------------------------------------------------------------------------------------
def model(model_id: str, name: str = "A model") -> Model:
    return Model(
        model_id=model_id,
        model_name=name,
        base_url="http://localhost:8001/v1",
        created_at=T0,
        updated_at=T0,
    )


def request_with_jobs(
    request_id: str | None = None, *, jobs: int = 2, created_at: datetime = T0
) -> tuple[RequestRecord, list[JobRecord]]:
    rid = request_id or str(uuid.uuid4())
    req = RequestRecord(
        request_id=rid,
        experiment_name="exp",
        tags={"team": "eval"},
        body={"evaluations": []},
        body_hash="h",
        total_jobs=jobs,
        created_at=created_at,
        updated_at=created_at,
    )
    # Random job ids, so that an order by id would not pass for an order by index.
    return req, [
        JobRecord(
            job_id=uuid.uuid4().hex,
            request_id=rid,
            index=i,
            evaluation_name="eval",
            model_name="m",
            backend_name="lm",
            backend_type=BackendType.LM_EVAL,
            benchmark_name=f"bench-{i}",
            tasks=["arc_easy"],
            benchmark_config={"limit": 5},
            timeout_minutes=60,
            max_attempts=2,
            created_at=created_at,
            updated_at=created_at,
        )
        for i in range(jobs)
    ]


def created(store: Store, jobs: int = 2, created_at: datetime = T0) -> tuple[RequestRecord, list[JobRecord]]:
    req, job_list = request_with_jobs(jobs=jobs, created_at=created_at)
    store.create_request(req, job_list)
    return req, job_list


def move(store: Store, job: JobRecord, to: JobStatus, **changes: Any) -> JobRecord:
    return store.transition_job(
        job.request_id, job.job_id, expected=sources_of(to), to=to, changes=changes, rollup=rollup
    )


def all_pages(store: Store, **kwargs: Any) -> list[list[str]]:
    pages, token = [], None
    while True:
        page = store.list_requests(page_token=token, **kwargs)
        pages.append([r.request_id for r in page.items])
        token = page.next_token
        if token is None:
            return pages


# -- health -----------------------------------------------------------------------------------------
def test_ping_answers_when_the_store_is_up(store: Store) -> None:
    store.ping()


# -- models -----------------------------------------------------------------------------------------
def test_created_model_reads_back_equal(store: Store) -> None:
    # Given a new model
    m = model("llama-3")
    # When it is created
    store.create_model(m)
    # Then it reads back as it was, and unknown ids read as None
    assert store.get_model("llama-3") == m
    assert store.get_model("nope") is None


def test_creating_a_taken_model_id_is_rejected(store: Store) -> None:
    store.create_model(model("m1", "first"))
    with pytest.raises(AlreadyExists):
        store.create_model(model("m1", "second"))
    assert store.get_model("m1") == model("m1", "first")


def test_models_are_listed_by_id(store: Store) -> None:
    for model_id in ["b-model", "A-model", "c.model", "a-model"]:
        store.create_model(model(model_id))
    assert [m.model_id for m in store.list_models()] == ["A-model", "a-model", "b-model", "c.model"]


def test_replace_overwrites_an_existing_model(store: Store) -> None:
    store.create_model(model("m1", "old"))
    store.replace_model(model("m1", "new"))
    got = store.get_model("m1")
    assert got is not None and got.model_name == "new"


def test_replacing_a_missing_model_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.replace_model(model("ghost"))
    assert store.get_model("ghost") is None


def test_delete_removes_a_model_and_a_second_delete_is_not_found(store: Store) -> None:
    store.create_model(model("m1"))
    store.delete_model("m1")
    assert store.get_model("m1") is None
    assert store.list_models() == []
    with pytest.raises(NotFound):
        store.delete_model("m1")


# -- requests ---------------------------------------------------------------------------------------
def test_request_and_jobs_are_stored_together(store: Store) -> None:
    # Given a request with three jobs
    req, jobs = request_with_jobs(jobs=3)
    # When it is created
    store.create_request(req, jobs)
    # Then the request and its jobs (by index) read back as written
    assert store.get_request(req.request_id) == req
    assert store.list_jobs(req.request_id) == jobs
    assert store.get_job(req.request_id, jobs[1].job_id) == jobs[1]


def test_unknown_request_and_job_read_as_nothing(store: Store) -> None:
    req, jobs = created(store)
    assert store.get_request("missing") is None
    assert store.list_jobs("missing") == []
    assert store.get_job(req.request_id, "missing") is None
    assert store.get_job("missing", jobs[0].job_id) is None


def test_reusing_a_request_id_is_rejected_and_changes_nothing(store: Store) -> None:
    # Given a stored request
    req, jobs = created(store)
    # When another request with the same id (and other jobs) is created
    again, other_jobs = request_with_jobs(req.request_id, jobs=4)
    with pytest.raises(AlreadyExists):
        store.create_request(again.model_copy(update={"experiment_name": "other"}), other_jobs)
    # Then the first one is untouched
    assert store.get_request(req.request_id) == req
    assert store.list_jobs(req.request_id) == jobs
    assert store.get_job(req.request_id, other_jobs[0].job_id) is None


def test_a_request_with_150_jobs_is_stored_whole(store: Store) -> None:
    # Given a request with more jobs than one DynamoDB transaction holds
    req, jobs = request_with_jobs(jobs=150)
    # When it is created
    store.create_request(req, jobs)
    # Then all of it is visible, listed and movable
    assert store.get_request(req.request_id) == req
    assert store.list_jobs(req.request_id) == jobs
    assert [r.request_id for r in store.list_requests().items] == [req.request_id]
    assert len(store.list_jobs_in([JobStatus.PENDING])) == 150
    assert move(store, jobs[149], JobStatus.QUEUED).status == JobStatus.QUEUED
    # And reusing its id is still rejected without harm
    again, other_jobs = request_with_jobs(req.request_id, jobs=150)
    with pytest.raises(AlreadyExists):
        store.create_request(again, other_jobs)
    assert len(store.list_jobs(req.request_id)) == 150
    assert store.get_job(req.request_id, other_jobs[0].job_id) is None


def test_requests_are_listed_newest_first(store: Store) -> None:
    # Given requests created at different times, two of them at the same instant
    older, _ = request_with_jobs("r-older", created_at=T0)
    tie_a, _ = request_with_jobs("r-tie-a", created_at=T0 + timedelta(seconds=5))
    tie_b, _ = request_with_jobs("r-tie-b", created_at=T0 + timedelta(seconds=5))
    newest, _ = request_with_jobs("r-newest", created_at=T0 + timedelta(minutes=1, microseconds=1))
    for req in (tie_a, newest, older, tie_b):
        store.create_request(req, [])
    # Then they come newest first, ties by request_id (descending, like the created_at)
    assert [r.request_id for r in store.list_requests().items] == [
        "r-newest",
        "r-tie-b",
        "r-tie-a",
        "r-older",
    ]


def test_requests_are_paged_with_opaque_tokens(store: Store) -> None:
    # Given five requests
    ids = [created(store, jobs=0, created_at=T0 + timedelta(seconds=i))[0].request_id for i in range(5)]
    newest_first = ids[::-1]
    # Then pages of two cover them all in order, and only the last page has no token
    assert all_pages(store, limit=2) == [newest_first[:2], newest_first[2:4], newest_first[4:]]
    # And a page that ends exactly at the end hands out no token
    assert all_pages(store, limit=5) == [newest_first]
    assert all_pages(store, limit=50) == [newest_first]


def test_requests_are_filtered_by_status_across_pages(store: Store) -> None:
    # Given nine requests, every third one running
    running = []
    for i in range(9):
        req, jobs = created(store, jobs=1, created_at=T0 + timedelta(seconds=i))
        if i % 3 == 0:
            move(store, jobs[0], JobStatus.QUEUED)
            move(store, jobs[0], JobStatus.DISPATCHED)
            running.append(req.request_id)
    # When running ones are listed in pages of two
    pages = all_pages(store, status=RequestStatus.RUNNING, limit=2)
    # Then exactly those come back, newest first, in full pages but the last
    assert pages == [running[::-1][:2], running[::-1][2:]]
    assert all(
        r.status == RequestStatus.RUNNING for r in store.list_requests(status=RequestStatus.RUNNING).items
    )
    assert store.list_requests(status=RequestStatus.FAILED).items == []
    assert len(store.list_requests(status=RequestStatus.PENDING, limit=100).items) == 6


@pytest.mark.parametrize(
    "token",
    [
        "garbage!",
        "bm90IGpzb24",  # base64 of "not json"
        base64.urlsafe_b64encode(b'{"pk": 1}').decode(),
        base64.urlsafe_b64encode(b"[1, 2, 3, 4, 5]").decode(),
        base64.urlsafe_b64encode(b'["MODEL#x", "META", "MODELS", "x"]').decode(),
    ],
)
def test_a_page_token_the_store_did_not_hand_out_is_invalid(store: Store, token: str) -> None:
    created(store)
    with pytest.raises(InvalidRequest):
        store.list_requests(page_token=token)


def test_requests_are_counted_by_status(store: Store) -> None:
    for _ in range(3):
        created(store)
    _, jobs = created(store, jobs=1)
    move(store, jobs[0], JobStatus.CANCELLED)
    counts = store.count_requests()
    assert {status: n for status, n in counts.items() if n} == {
        RequestStatus.PENDING: 3,
        RequestStatus.CANCELLED: 1,
    }


# -- jobs -------------------------------------------------------------------------------------------
def test_a_job_walks_the_legal_path_and_the_request_rolls_up(store: Store) -> None:
    # Given a request with two pending jobs
    req, (first, second) = created(store)
    # When the first goes queued -> dispatched -> running -> completed
    queued = move(store, first, JobStatus.QUEUED)
    assert store.get_request(req.request_id).status == RequestStatus.PENDING  # type: ignore[union-attr]
    dispatched = move(store, queued, JobStatus.DISPATCHED, attempts=1, launch_handle="pid-42")
    assert dispatched.attempts == 1 and dispatched.launch_handle == "pid-42"
    running = move(store, dispatched, JobStatus.RUNNING, started_at=T0)
    assert store.get_request(req.request_id).status == RequestStatus.RUNNING  # type: ignore[union-attr]
    done = move(store, running, JobStatus.COMPLETED, metrics={"acc": 0.5}, progress=1.0)
    # Then each step bumped the job's version and updated_at, and returned what was stored
    assert [queued.version, dispatched.version, running.version, done.version] == [1, 2, 3, 4]
    assert done.updated_at > first.updated_at
    assert store.get_job(req.request_id, first.job_id) == done
    assert done.metrics == {"acc": 0.5} and done.started_at == T0
    # And the request stays running until the other job ends too
    stored = store.get_request(req.request_id)
    assert stored is not None and stored.status == RequestStatus.RUNNING and stored.version == 4
    move(store, second, JobStatus.CANCELLED)
    stored = store.get_request(req.request_id)
    assert stored is not None and stored.status == RequestStatus.COMPLETED and stored.version == 5
    assert stored.updated_at > req.updated_at


def test_a_job_not_in_an_expected_state_is_rejected_and_nothing_changes(store: Store) -> None:
    # Given a completed job
    req, (job, _) = created(store)
    for to in (JobStatus.QUEUED, JobStatus.DISPATCHED, JobStatus.COMPLETED):
        job = move(store, job, to)
    before_job, before_req = store.get_job(req.request_id, job.job_id), store.get_request(req.request_id)
    # When it is asked to go back to queued, or to running from dispatched
    for to in (JobStatus.QUEUED, JobStatus.RUNNING):
        with pytest.raises(TransitionRejected):
            move(store, job, to)
    # Then neither the job nor its request changed
    assert store.get_job(req.request_id, job.job_id) == before_job
    assert store.get_request(req.request_id) == before_req


def test_a_move_outside_the_transition_table_is_rejected(store: Store) -> None:
    # Given a pending job, when a caller expects pending but asks for a move JOB_TRANSITIONS lacks
    req, (job, _) = created(store)
    with pytest.raises(TransitionRejected):
        store.transition_job(
            req.request_id, job.job_id, expected={JobStatus.PENDING}, to=JobStatus.RUNNING, rollup=rollup
        )
    # Then nothing changed
    assert store.get_job(req.request_id, job.job_id) == job
    assert store.get_request(req.request_id) == req


def test_moving_an_unknown_job_is_not_found(store: Store) -> None:
    req, _ = created(store)
    for rid, jid in ((req.request_id, "missing"), ("missing", "missing")):
        with pytest.raises(NotFound):
            store.transition_job(rid, jid, expected={JobStatus.PENDING}, to=JobStatus.QUEUED, rollup=rollup)


def test_of_racing_moves_of_one_job_exactly_one_wins(store: Store) -> None:
    # Given a pending job and eight threads that all try to queue it at once
    req, (job, _) = created(store)
    wins: list[JobRecord] = []
    losses: list[Exception] = []
    barrier = threading.Barrier(8)

    def race() -> None:
        barrier.wait()
        try:
            wins.append(move(store, job, JobStatus.QUEUED, launch_handle=threading.current_thread().name))
        except TransitionRejected as e:
            losses.append(e)

    threads = [threading.Thread(target=race) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Then one moved it, seven were rejected, and the stored job is the winner's
    assert (len(wins), len(losses)) == (1, 7)
    assert store.get_job(req.request_id, job.job_id) == wins[0]
    assert wins[0].version == 1


def test_racing_moves_of_sibling_jobs_all_land_and_the_request_agrees(store: Store) -> None:
    # Given six pending jobs of one request, each cancelled by its own thread at once
    req, jobs = created(store, jobs=6)
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def cancel(job: JobRecord) -> None:
        barrier.wait()
        try:
            move(store, job, JobStatus.CANCELLED)
        except BaseException as e:  # surfaced by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=cancel, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Then every move landed and the request counted each of them
    assert errors == []
    assert {j.status for j in store.list_jobs(req.request_id)} == {JobStatus.CANCELLED}
    stored = store.get_request(req.request_id)
    assert stored is not None and stored.status == RequestStatus.CANCELLED and stored.version == 6


def test_update_job_changes_fields_only_in_an_expected_state(store: Store) -> None:
    # Given a running job
    req, (job, _) = created(store)
    for to in (JobStatus.QUEUED, JobStatus.DISPATCHED, JobStatus.RUNNING):
        job = move(store, job, to)
    request_before = store.get_request(req.request_id)
    # When its progress and heartbeat are updated while it runs
    beat = T0 + timedelta(hours=1)
    updated = store.update_job(
        req.request_id,
        job.job_id,
        expected={JobStatus.RUNNING},
        changes={"progress": 0.5, "heartbeat_at": beat},
    )
    # Then the fields changed, the status did not, the version moved on and the request is untouched
    assert (updated.progress, updated.heartbeat_at, updated.status) == (0.5, beat, JobStatus.RUNNING)
    assert updated.version == job.version + 1
    assert store.get_job(req.request_id, job.job_id) == updated
    assert store.get_request(req.request_id) == request_before
    # And an update that expects another state is rejected without effect
    with pytest.raises(TransitionRejected):
        store.update_job(
            req.request_id, job.job_id, expected={JobStatus.DISPATCHED}, changes={"progress": 0.9}
        )
    assert store.get_job(req.request_id, job.job_id) == updated
    # And status is not something update_job changes
    with pytest.raises(ValueError):
        store.update_job(
            req.request_id, job.job_id, expected={JobStatus.RUNNING}, changes={"status": "failed"}
        )


def test_updating_an_unknown_job_is_not_found(store: Store) -> None:
    req, _ = created(store)
    with pytest.raises(NotFound):
        store.update_job(req.request_id, "missing", expected={JobStatus.PENDING}, changes={"progress": 0.1})


def test_jobs_are_found_by_status_across_requests(store: Store) -> None:
    # Given two requests whose jobs are in different states
    _, (a0, a1) = created(store)
    _, (b0, b1) = created(store, created_at=T0 + timedelta(seconds=1))
    move(store, a0, JobStatus.QUEUED)
    move(store, b1, JobStatus.QUEUED)
    move(store, move(store, b0, JobStatus.QUEUED), JobStatus.DISPATCHED)
    # Then each status query returns exactly its jobs

    def ids(statuses: list[JobStatus]) -> set[str]:
        return {j.job_id for j in store.list_jobs_in(statuses)}

    assert ids([JobStatus.QUEUED]) == {a0.job_id, b1.job_id}
    assert ids([JobStatus.QUEUED, JobStatus.DISPATCHED]) == {a0.job_id, b1.job_id, b0.job_id}
    assert ids([JobStatus.PENDING]) == {a1.job_id}
    assert ids([JobStatus.RUNNING]) == set()
    assert ids([]) == set()
    assert all(j.status == JobStatus.QUEUED for j in store.list_jobs_in([JobStatus.QUEUED]))


def test_returned_records_are_copies(store: Store) -> None:
    # Given a stored model, request and job
    store.create_model(model("m1", "original"))
    req, (job, _) = created(store)
    # When what the store returned is mutated
    got_model, got_req, got_job = (
        store.get_model("m1"),
        store.get_request(req.request_id),
        store.get_job(req.request_id, job.job_id),
    )
    assert got_model and got_req and got_job
    got_model.model_name = "mutated"
    got_req.tags["team"] = "mutated"
    got_job.tasks.append("mutated")
    store.list_jobs(req.request_id)[0].benchmark_config["limit"] = 999
    store.list_requests().items[0].body["evaluations"].append("mutated")
    moved = move(store, job, JobStatus.QUEUED)
    moved.metrics["acc"] = 1.0
    # Then nothing stored changed
    assert store.get_model("m1") == model("m1", "original")
    stored_req = store.get_request(req.request_id)
    assert stored_req is not None and stored_req.tags == req.tags and stored_req.body == req.body
    stored_job = store.get_job(req.request_id, job.job_id)
    assert stored_job is not None and stored_job.tasks == job.tasks and stored_job.metrics == {}
    assert stored_job.benchmark_config == {"limit": 5}


# -- DynamoDB only ----------------------------------------------------------------------------------
def test_dynamodb_table_has_the_schema_the_template_declares(dynamo_store: DynamoStore) -> None:
    table = dynamo_store.client.describe_table(TableName=dynamo_store.table_name)["Table"]
    assert [(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]] == [
        ("pk", "HASH"),
        ("sk", "RANGE"),
    ]
    (gsi,) = table["GlobalSecondaryIndexes"]
    assert gsi["IndexName"] == "gsi1" and gsi["Projection"]["ProjectionType"] == "ALL"
    assert [(k["AttributeName"], k["KeyType"]) for k in gsi["KeySchema"]] == [
        ("gsi1pk", "HASH"),
        ("gsi1sk", "RANGE"),
    ]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


def test_dynamodb_ping_reports_a_missing_table_as_unavailable(aws_endpoint: str) -> None:
    store = DynamoStore("no-such-table")
    with pytest.raises(StorageUnavailable):
        store.ping()
    with pytest.raises(StorageUnavailable):
        store.get_model("m1")
