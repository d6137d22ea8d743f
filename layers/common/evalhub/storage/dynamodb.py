"""DynamoDB implementation of the Store (AWS mode): one table, records as JSON beside their key attributes.

Item layout (partition key ``pk``, sort key ``sk``, GSI ``gsi1`` on ``gsi1pk``/``gsi1sk``):

==================  ============  ====================  ==========================================
item                pk / sk       gsi1pk                gsi1sk
==================  ============  ====================  ==========================================
request             REQ#<id>      REQUESTS              <created_at UTC, fixed width>#<request_id>
                    / META
job                 REQ#<id>      JOBS#<status>         <created_at>#<request_id>#<index, 5 digits>
                    / JOB#<job>
model               MODEL#<id>    MODELS                <model_id>
                    / META
==================  ============  ====================  ==========================================

Every item also has ``data`` (the record as JSON), and requests and jobs ``status`` and ``version``,
which conditions and filters read. The GSI serves ``list_requests`` (newest first; a status filter
is a FilterExpression), ``list_models`` and ``list_jobs_in``; like any GSI it is eventually
consistent, so a list may trail a write by a moment. Point reads are strongly consistent.
A page token is the url-safe base64 of the GSI key of the page's last request (what DynamoDB calls
LastEvaluatedKey); the status filter reads past requests of other statuses to fill a page.

Writes:
- ``create_request`` is one TransactWriteItems of the request and its jobs while they fit in one
  (100 items). A larger request first claims its id with a hidden request item (no GSI keys, a
  ``creating`` flag: ``get_request``, ``list_requests`` and transitions treat it as absent), writes
  the jobs in further transactions of 100, and reveals the request last; an error part-way deletes
  what it wrote. Meanwhile its pending jobs already show in ``list_jobs_in`` (they cannot be moved),
  and a process killed part-way leaves the id claimed but invisible.
- ``transition_job`` reads the request, then its jobs, and writes the job and the re-rolled-up
  request in one transaction, each conditioned on the version it read. Losing on either version
  means someone else wrote first: it reads again and retries, and the fresh read decides whether
  the move is still allowed (``TransitionRejected`` when it is not).
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ..awsclient import LazyClient
from ..errors import AlreadyExists, InvalidRequest, NotFound, StorageUnavailable, TransitionRejected
from ..models import JOB_TRANSITIONS, JobRecord, JobStatus, Model, RequestRecord, RequestStatus, utcnow
from .base import Page, Rollup

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, TransactWriteItemTypeDef

Item = dict[str, Any]

GSI = "gsi1"
META = "META"
REQUESTS = "REQUESTS"
MODELS = "MODELS"
MAX_TRANSACTION_ITEMS = 100
MAX_WRITE_TRIES = 50
NEW = "attribute_not_exists(pk)"

# Codes that mean "the table cannot be used right now" rather than a bug in the call.
UNAVAILABLE = frozenset(
    {
        "ResourceNotFoundException",
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "AccessDeniedException",
        "UnrecognizedClientException",
        "ExpiredTokenException",
    }
)
# Cancellation reasons worth another read-and-retry (someone else wrote first).
RETRYABLE_REASONS = frozenset({"ConditionalCheckFailed", "TransactionConflict"})
# Immutable identity of a job; changes may not touch them.
JOB_KEYS = frozenset({"job_id", "request_id", "index", "version"})


class _Conflict(Exception):
    """A conditional write lost to a concurrent writer; read again and retry."""


class DynamoStore:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._client: LazyClient[DynamoDBClient] = LazyClient("dynamodb", client)

    @property
    def client(self) -> DynamoDBClient:
        return self._client()

    @classmethod
    def create_table(cls, table_name: str, client: DynamoDBClient | None = None) -> DynamoStore:
        """Create the table with the schema template.yaml declares (tests, local moto runs)."""
        store = cls(table_name, client)
        with store._errors():
            store.client.create_table(
                TableName=table_name,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[
                    {"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "gsi1pk", "gsi1sk")
                ],
                KeySchema=[
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                GlobalSecondaryIndexes=[
                    {
                        "IndexName": GSI,
                        "KeySchema": [
                            {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                            {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                ],
            )
            store.client.get_waiter("table_exists").wait(
                TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
            )
        return store

    def ping(self) -> None:
        with self._errors():
            status = self.client.describe_table(TableName=self.table_name)["Table"].get("TableStatus")
        if status not in ("ACTIVE", "UPDATING"):
            raise StorageUnavailable(f"DynamoDB table {self.table_name} is {status}")

    def close(self) -> None:
        self._client.close()

    # -- models -----------------------------------------------------------------------------------
    def create_model(self, model: Model) -> None:
        try:
            self._put(_model_item(model), NEW)
        except _Conflict as e:
            raise AlreadyExists(f"Model '{model.model_id}' already exists") from e

    def replace_model(self, model: Model) -> None:
        try:
            self._put(_model_item(model), "attribute_exists(pk)")
        except _Conflict as e:
            raise NotFound(f"Model '{model.model_id}' not found") from e

    def get_model(self, model_id: str) -> Model | None:
        item = self._get(f"MODEL#{model_id}", META)
        return Model.model_validate_json(item["data"]["S"]) if item else None

    def list_models(self) -> list[Model]:
        items = self._query(KeyConditionExpression="gsi1pk = :p", ExpressionAttributeValues=_vals(p=MODELS))
        return [Model.model_validate_json(item["data"]["S"]) for item in items]

    def delete_model(self, model_id: str) -> None:
        try:
            with self._errors():
                self.client.delete_item(
                    TableName=self.table_name,
                    Key=_key(f"MODEL#{model_id}", META),
                    ConditionExpression="attribute_exists(pk)",
                )
        except ClientError as e:
            if _code(e) != "ConditionalCheckFailedException":
                raise
            raise NotFound(f"Model '{model_id}' not found") from e

    # -- requests ---------------------------------------------------------------------------------
    def create_request(self, request: RequestRecord, jobs: list[JobRecord]) -> None:
        rid = request.request_id
        if any(job.request_id != rid for job in jobs):
            raise ValueError("every job must belong to the request it is created with")
        job_puts = [_put_op(self.table_name, _job_item(job)) for job in jobs]
        if len(jobs) < MAX_TRANSACTION_ITEMS:
            self._create_first(rid, [_put_op(self.table_name, _request_item(request), NEW), *job_puts])
            return
        # Too many for one transaction: claim the id with a hidden request, write the jobs, reveal it.
        ops = [_put_op(self.table_name, _request_item(request, hidden=True), NEW), *job_puts]
        ops.append(_put_op(self.table_name, _request_item(request), "attribute_exists(creating)"))
        chunks = [ops[i : i + MAX_TRANSACTION_ITEMS] for i in range(0, len(ops), MAX_TRANSACTION_ITEMS)]
        self._create_first(rid, chunks[0])
        try:
            for chunk in chunks[1:]:
                self._transact(chunk)
        except BaseException:
            self._undo_create(rid, [job.job_id for job in jobs])
            raise

    def _create_first(self, request_id: str, ops: list[TransactWriteItemTypeDef]) -> None:
        """The transaction that writes the request item; ``AlreadyExists`` if the id is taken."""
        for attempt in range(MAX_WRITE_TRIES):
            try:
                return self._transact(ops)
            except _Conflict as e:
                # Either the id is taken, or a concurrent transaction got in the way: look which.
                if self._get(f"REQ#{request_id}", META) is not None:
                    raise AlreadyExists(f"Evaluation request '{request_id}' already exists") from e
                _backoff(attempt)
        raise StorageUnavailable(f"Evaluation request '{request_id}' could not be stored; try again")

    def _undo_create(self, request_id: str, job_ids: list[str]) -> None:
        """Best effort: remove a half-created request (jobs, then the hidden claim)."""
        keys = [_key(f"REQ#{request_id}", f"JOB#{jid}") for jid in job_ids]
        try:
            for i in range(0, len(keys), 25):
                pending: list[Any] = [{"DeleteRequest": {"Key": key}} for key in keys[i : i + 25]]
                while pending:
                    resp = self.client.batch_write_item(RequestItems={self.table_name: pending})
                    pending = list(resp.get("UnprocessedItems", {}).get(self.table_name, []))
            self.client.delete_item(
                TableName=self.table_name,
                Key=_key(f"REQ#{request_id}", META),
                ConditionExpression="attribute_exists(creating)",
            )
        except (ClientError, BotoCoreError):
            pass  # the original error is the one worth raising

    def get_request(self, request_id: str) -> RequestRecord | None:
        item = self._get(f"REQ#{request_id}", META)
        if item is None or "creating" in item:
            return None
        return RequestRecord.model_validate_json(item["data"]["S"])

    def list_requests(
        self, *, status: RequestStatus | None = None, limit: int = 50, page_token: str | None = None
    ) -> Page:
        if limit < 1:
            raise InvalidRequest("limit must be at least 1")
        start = _decode_token(page_token) if page_token else None
        query: dict[str, Any] = {
            "KeyConditionExpression": "gsi1pk = :p",
            "ExpressionAttributeValues": _vals(p=REQUESTS),
            "ScanIndexForward": False,
        }
        if status is not None:
            query["FilterExpression"] = "#s = :s"
            query["ExpressionAttributeNames"] = {"#s": "status"}
            query["ExpressionAttributeValues"] |= _vals(s=status.value)
        # Read one more than asked for: a next token is handed out only if a next item exists.
        want = limit + 1
        found: list[Item] = []
        while len(found) < want:
            # A filtered query counts the items it reads, not those it returns; read in larger bites.
            bite = want - len(found) if status is None else max(want - len(found), 50)
            if start:
                query["ExclusiveStartKey"] = start
            with self._errors(invalid_is_bad_input=start is not None):
                resp = self.client.query(TableName=self.table_name, IndexName=GSI, Limit=bite, **query)
            found += resp.get("Items", [])[: want - len(found)]
            start = resp.get("LastEvaluatedKey")
            if not start:
                break
        items = [RequestRecord.model_validate_json(item["data"]["S"]) for item in found[:limit]]
        token = _encode_token(found[limit - 1]) if len(found) > limit else None
        return Page(items, token)

    def count_requests(self) -> dict[RequestStatus, int]:
        items = self._query(
            KeyConditionExpression="gsi1pk = :p",
            ExpressionAttributeValues=_vals(p=REQUESTS),
            ProjectionExpression="#s",
            ExpressionAttributeNames={"#s": "status"},
        )
        return dict(Counter(RequestStatus(item["status"]["S"]) for item in items))

    # -- jobs -------------------------------------------------------------------------------------
    def get_job(self, request_id: str, job_id: str) -> JobRecord | None:
        item = self._get(f"REQ#{request_id}", f"JOB#{job_id}")
        return JobRecord.model_validate_json(item["data"]["S"]) if item else None

    def list_jobs(self, request_id: str) -> list[JobRecord]:
        items = self._query(
            use_table=True,
            ConsistentRead=True,
            KeyConditionExpression="pk = :p AND begins_with(sk, :j)",
            ExpressionAttributeValues=_vals(p=f"REQ#{request_id}", j="JOB#"),
        )
        return sorted((JobRecord.model_validate_json(item["data"]["S"]) for item in items), key=_index)

    def list_jobs_in(self, statuses: Collection[JobStatus]) -> list[JobRecord]:
        items: list[Item] = []
        for status in set(statuses):
            items += self._query(
                KeyConditionExpression="gsi1pk = :p",
                ExpressionAttributeValues=_vals(p=f"JOBS#{JobStatus(status).value}"),
            )
        items.sort(key=lambda item: str(item["gsi1sk"]["S"]))  # oldest request first, then by index
        return [JobRecord.model_validate_json(item["data"]["S"]) for item in items]

    def transition_job(
        self,
        request_id: str,
        job_id: str,
        *,
        expected: Collection[JobStatus],
        to: JobStatus,
        changes: Mapping[str, Any] | None = None,
        rollup: Rollup,
    ) -> JobRecord:
        for attempt in range(MAX_WRITE_TRIES):
            # The request first: a job write that lands after this read bumps the request's version,
            # so the condition below catches it even though the jobs are read a moment later.
            meta = self._get(f"REQ#{request_id}", META)
            jobs = self.list_jobs(request_id) if meta is not None and "creating" not in meta else []
            job = next((j for j in jobs if j.job_id == job_id), None)
            if meta is None or job is None:
                raise NotFound(f"Job '{job_id}' of evaluation '{request_id}' not found")
            _check_move(job, expected, to)
            updated = _apply(job, changes or {}, to)
            request = RequestRecord.model_validate_json(meta["data"]["S"])
            request = request.model_copy(
                update={
                    "status": rollup([updated if j.job_id == job_id else j for j in jobs]),
                    "updated_at": updated.updated_at,
                    "version": request.version + 1,
                }
            )
            try:
                self._transact(
                    [
                        _put_op(self.table_name, _job_item(updated), *_same_version(job.version)),
                        _put_op(
                            self.table_name, _request_item(request), *_same_version(int(meta["version"]["N"]))
                        ),
                    ]
                )
            except _Conflict:
                _backoff(attempt)
                continue
            return updated
        raise StorageUnavailable(f"Job '{job_id}' is changing too often to update; try again")

    def update_job(
        self, request_id: str, job_id: str, *, expected: Collection[JobStatus], changes: Mapping[str, Any]
    ) -> JobRecord:
        if "status" in changes:
            raise ValueError("update_job does not change status; use transition_job")
        for attempt in range(MAX_WRITE_TRIES):
            item = self._get(f"REQ#{request_id}", f"JOB#{job_id}")
            if item is None:
                raise NotFound(f"Job '{job_id}' of evaluation '{request_id}' not found")
            job = JobRecord.model_validate_json(item["data"]["S"])
            if job.status not in expected:
                raise TransitionRejected(_rejection(job, expected))
            updated = _apply(job, changes, job.status)
            try:
                self._put(_job_item(updated), *_same_version(job.version))
            except _Conflict:
                _backoff(attempt)
                continue
            return updated
        raise StorageUnavailable(f"Job '{job_id}' is changing too often to update; try again")

    # -- DynamoDB calls -------------------------------------------------------------------------
    @contextmanager
    def _errors(self, invalid_is_bad_input: bool = False) -> Iterator[None]:
        """Translate the errors that mean the table is out of reach; let bugs surface as they are."""
        try:
            yield
        except ClientError as e:
            if _code(e) in UNAVAILABLE:
                raise StorageUnavailable(f"DynamoDB table {self.table_name}: {_code(e)}") from e
            if invalid_is_bad_input and _code(e) == "ValidationException":
                raise InvalidRequest("page_token is not one this server handed out") from e
            raise
        except BotoCoreError as e:
            raise StorageUnavailable(f"DynamoDB table {self.table_name} is unreachable: {e}") from e

    def _get(self, pk: str, sk: str) -> Item | None:
        with self._errors():
            resp = self.client.get_item(TableName=self.table_name, Key=_key(pk, sk), ConsistentRead=True)
        return resp.get("Item")

    def _query(self, use_table: bool = False, **kwargs: Any) -> list[Item]:
        """Every item of a query, following pages; the GSI unless ``use_table``."""
        if not use_table:
            kwargs["IndexName"] = GSI
        items: list[Item] = []
        while True:
            with self._errors():
                resp = self.client.query(TableName=self.table_name, **kwargs)
            items += resp.get("Items", [])
            if "LastEvaluatedKey" not in resp:
                return items
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def _put(self, item: Item, condition: str, values: Item | None = None) -> None:
        """A conditional PutItem; ``_Conflict`` when the condition fails."""
        extra: dict[str, Any] = {"ExpressionAttributeValues": values} if values else {}
        try:
            with self._errors():
                self.client.put_item(
                    TableName=self.table_name, Item=item, ConditionExpression=condition, **extra
                )
        except ClientError as e:
            if _code(e) == "ConditionalCheckFailedException":
                raise _Conflict from e
            raise

    def _transact(self, ops: Sequence[TransactWriteItemTypeDef]) -> None:
        """One transaction; ``_Conflict`` when a condition failed or another transaction got in the way."""
        try:
            with self._errors():
                # The token makes botocore's own retries of this call idempotent.
                self.client.transact_write_items(TransactItems=ops, ClientRequestToken=uuid.uuid4().hex)
        except ClientError as e:
            code = _code(e)
            if code in ("TransactionConflictException", "TransactionInProgressException"):
                raise _Conflict from e
            if code == "TransactionCanceledException":
                reasons = {r.get("Code", "None") for r in e.response.get("CancellationReasons", [])}
                if reasons & RETRYABLE_REASONS and reasons <= RETRYABLE_REASONS | {"None"}:
                    raise _Conflict from e
            raise


# -- items --------------------------------------------------------------------------------------------
def _key(pk: str, sk: str) -> dict[str, AttributeValueTypeDef]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _vals(**values: str) -> dict[str, AttributeValueTypeDef]:
    return {f":{name}": {"S": value} for name, value in values.items()}


def _stamp(at: datetime) -> str:
    """Fixed-width UTC time, so that string order is time order."""
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _model_item(model: Model) -> Item:
    return {
        **_key(f"MODEL#{model.model_id}", META),
        "gsi1pk": {"S": MODELS},
        "gsi1sk": {"S": model.model_id},
        "data": {"S": model.model_dump_json()},
    }


def _request_item(request: RequestRecord, hidden: bool = False) -> Item:
    item: Item = {
        **_key(f"REQ#{request.request_id}", META),
        "status": {"S": request.status.value},
        "version": {"N": str(request.version)},
        "data": {"S": request.model_dump_json()},
    }
    if hidden:
        item["creating"] = {"BOOL": True}
    else:
        item["gsi1pk"] = {"S": REQUESTS}
        item["gsi1sk"] = {"S": f"{_stamp(request.created_at)}#{request.request_id}"}
    return item


def _job_item(job: JobRecord) -> Item:
    return {
        **_key(f"REQ#{job.request_id}", f"JOB#{job.job_id}"),
        "gsi1pk": {"S": f"JOBS#{job.status.value}"},
        "gsi1sk": {"S": f"{_stamp(job.created_at)}#{job.request_id}#{job.index:05d}"},
        "request_id": {"S": job.request_id},
        "job_id": {"S": job.job_id},
        "status": {"S": job.status.value},
        "version": {"N": str(job.version)},
        "data": {"S": job.model_dump_json()},
    }


def _put_op(
    table: str, item: Item, condition: str | None = None, values: Item | None = None
) -> TransactWriteItemTypeDef:
    put: dict[str, Any] = {"TableName": table, "Item": item}
    if condition:
        put["ConditionExpression"] = condition
    if values:
        put["ExpressionAttributeValues"] = values
    return {"Put": put}  # type: ignore[typeddict-item]


def _same_version(version: int) -> tuple[str, Item]:
    return "version = :v", {":v": {"N": str(version)}}


# -- jobs ---------------------------------------------------------------------------------------------
def _index(job: JobRecord) -> int:
    return job.index


def _rejection(job: JobRecord, expected: Collection[JobStatus]) -> str:
    wanted = " or ".join(sorted(JobStatus(s).value for s in expected)) or "nothing"
    return f"Job '{job.job_id}' is {job.status.value}, not {wanted}"


def _check_move(job: JobRecord, expected: Collection[JobStatus], to: JobStatus) -> None:
    if job.status not in expected:
        raise TransitionRejected(_rejection(job, expected))
    if to not in JOB_TRANSITIONS[job.status]:
        raise TransitionRejected(f"Job '{job.job_id}' cannot move from {job.status.value} to {to.value}")


def _apply(job: JobRecord, changes: Mapping[str, Any], status: JobStatus) -> JobRecord:
    """The job with ``changes`` applied (validated), its status set, version and updated_at bumped."""
    unknown = set(changes) - set(JobRecord.model_fields)
    if unknown or JOB_KEYS & set(changes):
        raise ValueError(f"cannot change job fields {sorted(unknown | (JOB_KEYS & set(changes)))}")
    return JobRecord.model_validate(
        {**job.model_dump(), **changes, "status": status, "version": job.version + 1, "updated_at": utcnow()}
    )


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0, min(0.2, 0.005 * 2**attempt)))


def _code(e: ClientError) -> str:
    return str(e.response.get("Error", {}).get("Code", ""))


# -- page tokens --------------------------------------------------------------------------------------
TOKEN_KEYS = ("pk", "sk", "gsi1pk", "gsi1sk")


def _encode_token(item: Item) -> str:
    """The GSI position after ``item`` (its LastEvaluatedKey), as url-safe base64."""
    raw = json.dumps([item[name]["S"] for name in TOKEN_KEYS], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_token(token: str) -> dict[str, AttributeValueTypeDef]:
    bad = InvalidRequest("page_token is not one this server handed out; drop it to start over")
    try:
        raw = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True)
        values = json.loads(raw)
    except (ValueError, binascii.Error) as e:
        raise bad from e
    if not (isinstance(values, list) and len(values) == len(TOKEN_KEYS)):
        raise bad
    if not all(isinstance(v, str) for v in values):
        raise bad
    pk, sk, gsi1pk, gsi1sk = values
    if not (pk.startswith("REQ#") and sk == META and gsi1pk == REQUESTS and gsi1sk.endswith(pk[4:])):
        raise bad
    return {name: {"S": value} for name, value in zip(TOKEN_KEYS, values, strict=True)}
