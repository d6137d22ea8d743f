"""AWS for integration tests: one moto server per session, fresh resources per test.

The server is a ``ThreadedMotoServer`` on a free port and ``AWS_ENDPOINT_URL`` points at it, so every
boto3 client the code under test creates talks to it unchanged (no client injection needed).
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto.dynamodb.responses import DynamoHandler
from moto.server import ThreadedMotoServer

from evalhub.launch.ecs import EcsLauncher
from evalhub.storage.dynamodb import DynamoStore

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ecs import ECSClient
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


# -- ECS like the template's, shared by the launcher and whole-stack tests -----------------------
def moto_api(endpoint: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """Call moto's own control API (state transitions, config) on the test server."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        f"{endpoint}/moto-api/{path}", data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


@dataclass
class Network:
    subnets: list[str]
    security_groups: list[str]


@dataclass
class EcsSetup:
    cluster: str
    cpu_task_definition: str
    gpu_task_definition: str
    gpu_capacity_provider: str
    network: Network

    def launcher(self, client: ECSClient | None = None) -> EcsLauncher:
        return EcsLauncher(
            cluster=self.cluster,
            cpu_task_definition=self.cpu_task_definition,
            gpu_task_definition=self.gpu_task_definition,
            gpu_capacity_provider=self.gpu_capacity_provider,
            subnets=self.network.subnets,
            security_groups=self.network.security_groups,
            client=client,
        )


@pytest.fixture(scope="module")
def network(aws_endpoint: str) -> Network:
    ec2: EC2Client = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.10.0.0/16")["Vpc"]["VpcId"]
    # moto's ECS names each task's network interface after its DNS name: without DNS hostnames
    # (off in a new VPC, as in AWS) RunTask fails with an AttributeError inside moto.
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.10.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(
        GroupName=f"runners-{uuid.uuid4().hex[:8]}", Description="runners", VpcId=vpc
    )
    return Network(subnets=[subnet], security_groups=[sg["GroupId"]])


@pytest.fixture(scope="module")
def ecs_running_tasks(aws_endpoint: str) -> Iterator[None]:
    """Keep moto's tasks RUNNING until they are stopped (by default they end when first described)."""
    moto_api(
        aws_endpoint,
        "state-manager/set-transition",
        {"model_name": "ecs::task", "transition": {"progression": "manual", "times": 10**9}},
    )
    yield
    moto_api(aws_endpoint, "state-manager/unset-transition", {"model_name": "ecs::task"})


@pytest.fixture(scope="module")
def ecs(network: Network, ecs_running_tasks: None) -> EcsSetup:
    """A cluster like the template's: a Fargate CPU task definition, an EC2 GPU one, a GPU capacity
    provider, and one GPU container instance registered so that moto can place GPU tasks."""
    client: ECSClient = boto3.client("ecs")
    name = f"evalhub-{uuid.uuid4().hex[:8]}"
    provider = client.create_capacity_provider(
        name=f"{name}-gpu",
        autoScalingGroupProvider={
            "autoScalingGroupArn": f"arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:1:autoScalingGroupName/{name}",
            "managedTerminationProtection": "DISABLED",
        },
    )["capacityProvider"]["name"]
    client.create_cluster(clusterName=name, capacityProviders=[provider])
    runner = {"name": "runner", "image": "evalhub-runner:test", "essential": True}
    cpu = client.register_task_definition(
        family=f"{name}-cpu",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="1024",
        memory="2048",
        containerDefinitions=[{**runner, "memory": 2048}],  # type: ignore[list-item]
    )["taskDefinition"]["taskDefinitionArn"]
    gpu = client.register_task_definition(
        family=f"{name}-gpu",
        networkMode="awsvpc",
        requiresCompatibilities=["EC2"],
        containerDefinitions=[
            {**runner, "memory": 4096, "resourceRequirements": [{"type": "GPU", "value": "1"}]}  # type: ignore[list-item]
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    ec2: EC2Client = boto3.client("ec2")
    instance = ec2.run_instances(
        ImageId="ami-03cf127a", MinCount=1, MaxCount=1, SubnetId=network.subnets[0], InstanceType="g5.xlarge"
    )["Instances"][0]["InstanceId"]
    client.register_container_instance(
        cluster=name, instanceIdentityDocument=json.dumps({"instanceId": instance, "region": "us-east-1"})
    )
    return EcsSetup(name, cpu, gpu, provider, network)
