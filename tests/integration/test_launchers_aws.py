"""The AWS launchers (ECS, Batch, and the router between them) against moto.

moto needs some coaxing to behave like the real services (see DESIGN.md, "Known quirks"):
- ECS tasks move through every state to STOPPED the first time they are read, unless the
  ``ecs::task`` transition is set to manual; the fixture keeps them RUNNING until StopTask.
- ECS needs ``memory`` on every container definition, ``securityGroups`` in the awsvpc config and
  DNS hostnames on the VPC, and places capacity-provider (EC2) tasks only on registered container
  instances.
- moto's RunTask ignores ``clientToken``: it cannot show idempotency, so the test checks the token.
- Batch runs jobs in Docker unless ``batch.use_docker`` is false; without Docker a job has SUCCEEDED
  by the time SubmitJob answers, and TerminateJob records its reason but never ends a job.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.stub import Stubber

from evalhub.launch import LaunchFailed
from evalhub.launch.batch import BatchLauncher, job_name
from evalhub.launch.ecs import EcsLauncher
from evalhub.launch.routing import RoutingLauncher, build_aws_launcher, needs_gpu
from evalhub.models import BackendType, JobRecord
from evalhub.settings import Settings
from tests.integration.conftest import EcsSetup, Network, moto_api

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ecs import ECSClient

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
IDS_ONLY = {"EVALHUB_REQUEST_ID", "EVALHUB_JOB_ID", "EVALHUB_ATTEMPT"}


def make_job(*, gpu: bool = False, attempts: int = 1, **fields: Any) -> JobRecord:
    values: dict[str, Any] = {
        "job_id": "job-0000",
        "request_id": str(uuid.uuid4()),
        "index": 0,
        "evaluation_name": "eval",
        "model_name": "tiny",
        "backend_name": "lm-eval",
        "backend_type": BackendType.LM_EVAL,
        "backend_config": {"device": "cuda:0" if gpu else "cpu"},
        "benchmark_name": "arc_easy",
        "tasks": ["arc_easy"],
        "timeout_minutes": 30,
        "max_attempts": 2,
        "attempts": attempts,
        "created_at": T0,
        "updated_at": T0,
    }
    return JobRecord(**(values | fields))


def env_of(overrides: dict[str, Any]) -> dict[str, str]:
    (container,) = overrides["containerOverrides"]
    return {e["name"]: e["value"] for e in container["environment"]}


# -- AWS resources ----------------------------------------------------------------------------------
@dataclass
class BatchSetup:
    job_queue: str
    job_definition: str


@pytest.fixture(scope="module")
def batch(aws_endpoint: str, network: Network) -> Iterator[BatchSetup]:
    """A GPU job queue like the template's, on moto's Batch without Docker."""
    before = moto_api(aws_endpoint, "config")
    moto_api(aws_endpoint, "config", {"batch": {"use_docker": False}})
    iam = boto3.client("iam")
    name = f"evalhub-{uuid.uuid4().hex[:8]}"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "batch.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = iam.create_role(RoleName=f"{name}-service", AssumeRolePolicyDocument=json.dumps(trust))["Role"][
        "Arn"
    ]
    profile = iam.create_instance_profile(InstanceProfileName=f"{name}-instance")["InstanceProfile"]["Arn"]
    client: BatchClient = boto3.client("batch")
    env = client.create_compute_environment(
        computeEnvironmentName=f"{name}-gpu",
        type="MANAGED",
        state="ENABLED",
        serviceRole=role,
        computeResources={
            "type": "EC2",
            "minvCpus": 0,
            "maxvCpus": 8,
            "instanceTypes": ["g5.xlarge"],
            "instanceRole": profile,
            "subnets": network.subnets,
            "securityGroupIds": network.security_groups,
        },
    )["computeEnvironmentArn"]
    queue = client.create_job_queue(
        jobQueueName=f"{name}-gpu",
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env}],
    )["jobQueueArn"]
    definition = client.register_job_definition(
        jobDefinitionName=f"{name}-runner",
        type="container",
        containerProperties={
            "image": "evalhub-runner:test",
            "resourceRequirements": [
                {"type": "VCPU", "value": "4"},
                {"type": "MEMORY", "value": "15000"},
                {"type": "GPU", "value": "1"},
            ],
        },
    )["jobDefinitionArn"]
    yield BatchSetup(queue, definition)
    moto_api(aws_endpoint, "config", {"batch": before["batch"]})


def moto_batch_job(job_id: str) -> Any:
    """moto's own record of a Batch job (the server runs in this process)."""
    from moto.batch.models import batch_backends
    from moto.core.models import DEFAULT_ACCOUNT_ID

    return batch_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]._jobs[job_id]


def hold_running(job_id: str) -> None:
    """Put a Batch job back to RUNNING, as a real one would be while it evaluates: moto without
    Docker finishes every job at submission, which leaves nothing to stop."""
    job = moto_batch_job(job_id)
    job.job_stopped = False
    job.status = "RUNNING"


# -- routing ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "gpu"),
    [
        ({"backend_config": {"device": "cuda"}}, True),
        ({"backend_config": {"device": "cuda:1"}}, True),
        ({"backend_config": {"device": "cpu"}}, False),
        ({"backend_config": {}}, False),  # an API model: HTTP calls only
        ({"backend_type": BackendType.NEMO, "backend_config": {"device": "cuda"}}, False),
    ],
)
def test_only_lm_eval_jobs_on_cuda_need_a_gpu(fields: dict[str, Any], gpu: bool) -> None:
    assert needs_gpu(make_job(**fields)) is gpu


# -- ECS --------------------------------------------------------------------------------------------
def test_cpu_job_runs_as_a_fargate_task_with_only_ids_in_its_environment(ecs: EcsSetup) -> None:
    # Given a CPU job, When it is launched with the production default client
    job = make_job()
    handle = ecs.launcher().launch(job)

    # Then it runs on Fargate, in our subnet and security group, knowing only its ids
    assert handle.startswith("ecs:arn:aws:ecs:")
    client: ECSClient = boto3.client("ecs")
    (task,) = client.describe_tasks(cluster=ecs.cluster, tasks=[handle[4:]], include=["TAGS"])["tasks"]
    assert task["launchType"] == "FARGATE"
    assert task["taskDefinitionArn"] == ecs.cpu_task_definition
    assert task["startedBy"] == "evalhub"
    assert env_of(dict(task["overrides"])) == {
        "EVALHUB_REQUEST_ID": job.request_id,
        "EVALHUB_JOB_ID": "job-0000",
        "EVALHUB_ATTEMPT": "1",
    }
    assert task["overrides"]["containerOverrides"][0]["name"] == "runner"
    tags = {t["key"]: t["value"] for t in task["tags"]}
    assert tags["evalhub:request-id"] == job.request_id and tags["evalhub:job-id"] == "job-0000"
    details = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}
    assert details["subnetId"] == ecs.network.subnets[0]
    ec2: EC2Client = boto3.client("ec2")
    (eni,) = ec2.describe_network_interfaces(NetworkInterfaceIds=[details["networkInterfaceId"]])[
        "NetworkInterfaces"
    ]
    assert [g["GroupId"] for g in eni["Groups"]] == ecs.network.security_groups
    assert ecs.launcher().alive(handle) is True


def test_run_task_request_names_the_fargate_network_and_the_idempotency_token(ecs: EcsSetup) -> None:
    # Given a client that records what it sends
    client: ECSClient = boto3.client("ecs")
    sent: list[dict[str, Any]] = []
    client.meta.events.register("provide-client-params.ecs.RunTask", lambda params, **_: sent.append(params))
    launcher = ecs.launcher(client)
    job = make_job()

    # When the same attempt is launched twice (a retried request), then the next attempt
    launcher.launch(job)
    launcher.launch(job)
    launcher.launch(job.model_copy(update={"attempts": 2}))

    # Then the network config is Fargate's, and the token is one per attempt. Real ECS answers the
    # repeat with the first task; moto ignores clientToken and starts a second one, so only the
    # token can be checked here.
    assert sent[0]["networkConfiguration"] == {
        "awsvpcConfiguration": {
            "subnets": ecs.network.subnets,
            "securityGroups": ecs.network.security_groups,
            "assignPublicIp": "DISABLED",
        }
    }
    assert sent[0]["launchType"] == "FARGATE" and "capacityProviderStrategy" not in sent[0]
    tokens = [p["clientToken"] for p in sent]
    assert tokens[0] == tokens[1] != tokens[2]
    assert all(len(t) <= 64 for t in tokens)
    assert set(env_of(sent[0]["overrides"])) == IDS_ONLY


def test_gpu_job_runs_on_the_gpu_capacity_provider(ecs: EcsSetup) -> None:
    handle = ecs.launcher().launch(make_job(gpu=True))

    client: ECSClient = boto3.client("ecs")
    (task,) = client.describe_tasks(cluster=ecs.cluster, tasks=[handle[4:]])["tasks"]
    assert task["taskDefinitionArn"] == ecs.gpu_task_definition
    assert task["capacityProviderName"] == ecs.gpu_capacity_provider
    assert task.get("launchType") != "FARGATE"
    assert task["containerInstanceArn"]  # placed on the GPU instance
    ecs.launcher().stop(handle, "done")  # frees the instance for the next GPU test


def test_stopping_a_task_ends_it_with_the_reason(ecs: EcsSetup) -> None:
    # Given a running task
    launcher = ecs.launcher()
    handle = launcher.launch(make_job())
    assert launcher.alive(handle) is True

    # When it is stopped with a reason longer than ECS accepts
    launcher.stop(handle, "evaluation cancelled by the user " + "x" * 300)

    # Then it is STOPPED, the reason is cut to 255 characters, and the exit description says why
    assert launcher.alive(handle) is False
    client: ECSClient = boto3.client("ecs")
    (task,) = client.describe_tasks(cluster=ecs.cluster, tasks=[handle[4:]])["tasks"]
    assert task["lastStatus"] == "STOPPED"
    assert len(task["stoppedReason"]) == 255
    exit_text = launcher.describe_exit(handle)
    assert exit_text.startswith(
        f"ECS task {handle.rsplit('/', 1)[-1]} stopped: evaluation cancelled by the user"
    )
    assert "(exit code 0)" in exit_text

    # And stopping it again, or a task ECS never ran, is not an error
    launcher.stop(handle, "again")
    gone = f"ecs:arn:aws:ecs:us-east-1:123456789012:task/{ecs.cluster}/{uuid.uuid4().hex}"
    launcher.stop(gone, "cancelled")
    assert launcher.alive(gone) is False
    assert "is gone" in launcher.describe_exit(gone)


def test_run_task_errors_are_launch_failures(ecs: EcsSetup) -> None:
    # An unknown task definition: ECS refuses the call
    launcher = EcsLauncher(
        cluster=ecs.cluster,
        cpu_task_definition="no-such-family:1",
        gpu_task_definition=None,
        gpu_capacity_provider=None,
        subnets=ecs.network.subnets,
        security_groups=ecs.network.security_groups,
    )
    with pytest.raises(LaunchFailed, match=r"ECS RunTask on cluster .* failed"):
        launcher.launch(make_job())

    # A GPU job where no GPU is configured
    with pytest.raises(LaunchFailed, match="needs a GPU"):
        launcher.launch(make_job(gpu=True))


def test_a_task_that_fits_nowhere_is_a_launch_failure(ecs: EcsSetup) -> None:
    # Given a GPU task definition bigger than the one GPU instance (moto: 7482 MiB)
    client: ECSClient = boto3.client("ecs")
    huge = client.register_task_definition(
        family=f"{ecs.cluster}-huge",
        networkMode="awsvpc",
        requiresCompatibilities=["EC2"],
        containerDefinitions=[{"name": "runner", "image": "evalhub-runner:test", "memory": 64_000}],
    )["taskDefinition"]["taskDefinitionArn"]
    launcher = ecs.launcher()
    launcher.gpu_task_definition = huge

    # Then RunTask starts nothing, and the launcher says so
    with pytest.raises(LaunchFailed, match="ECS started no task for job job-0000"):
        launcher.launch(make_job(gpu=True))


def test_failures_in_the_run_task_answer_are_launch_failures(ecs: EcsSetup) -> None:
    # moto never lists failures; real ECS does (no GPU capacity, a missing cluster): stub the answer
    client: ECSClient = boto3.client("ecs")
    with Stubber(client) as stub:
        stub.add_response(
            "run_task",
            {
                "tasks": [],
                "failures": [
                    {"arn": "arn:aws:ecs:us-east-1:1:container-instance/x", "reason": "RESOURCE:GPU"}
                ],
            },
        )
        with pytest.raises(LaunchFailed, match=r"ECS started no task for job job-0000: RESOURCE:GPU"):
            ecs.launcher(client).launch(make_job(gpu=True))


# -- Batch ------------------------------------------------------------------------------------------
def test_submit_job_carries_the_ids_timeout_and_tags(batch: BatchSetup) -> None:
    # Given a GPU job with a 90-minute timeout, When it is submitted
    job = make_job(gpu=True, job_id="job-0007", attempts=2, timeout_minutes=90)
    launcher = BatchLauncher(batch.job_queue, batch.job_definition)
    handle = launcher.launch(job)

    # Then Batch holds it with the ids, the attempt timeout and the tags
    assert handle.startswith("batch:")
    client: BatchClient = boto3.client("batch")
    (described,) = client.describe_jobs(jobs=[handle.removeprefix("batch:")])["jobs"]
    assert described["jobName"] == "evalhub-job-0007-2"
    assert described["jobQueue"] == batch.job_queue
    env = {e["name"]: e["value"] for e in described["container"]["environment"]}
    assert {k: env[k] for k in IDS_ONLY} == {
        "EVALHUB_REQUEST_ID": job.request_id,
        "EVALHUB_JOB_ID": "job-0007",
        "EVALHUB_ATTEMPT": "2",
    }
    assert described["timeout"] == {"attemptDurationSeconds": 5400}
    assert described["tags"]["evalhub:request-id"] == job.request_id

    # And moto without Docker has already finished it
    assert launcher.alive(handle) is False
    assert launcher.describe_exit(handle).startswith(f"Batch job {handle[6:]} succeeded")


def test_submit_job_sends_one_attempt_and_a_timeout_of_at_least_a_minute(batch: BatchSetup) -> None:
    client: BatchClient = boto3.client("batch")
    sent: list[dict[str, Any]] = []
    client.meta.events.register(
        "provide-client-params.batch.SubmitJob", lambda params, **_: sent.append(params)
    )

    BatchLauncher(batch.job_queue, batch.job_definition, client=client).launch(make_job(timeout_minutes=0.25))

    assert sent[0]["retryStrategy"] == {"attempts": 1}  # Eval Hub retries; moto does not keep it
    assert sent[0]["timeout"] == {"attemptDurationSeconds": 60}


def test_terminating_a_running_batch_job(batch: BatchSetup) -> None:
    # Given a running Batch job
    launcher = BatchLauncher(batch.job_queue, batch.job_definition)
    handle = launcher.launch(make_job(gpu=True))
    job_id = handle.removeprefix("batch:")
    hold_running(job_id)
    assert launcher.alive(handle) is True
    assert launcher.describe_exit(handle) == f"Batch job {job_id} is RUNNING"

    # When it is stopped, Then TerminateJob reaches Batch with the reason
    launcher.stop(handle, "evaluation cancelled by the user")
    client: BatchClient = boto3.client("batch")
    (described,) = client.describe_jobs(jobs=[job_id])["jobs"]
    assert described["statusReason"] == "evaluation cancelled by the user"

    # And once Batch has ended the attempt (moto never does by itself), the job is no longer alive
    moto_batch_job(job_id)._mark_stopped(success=False)
    assert launcher.alive(handle) is False
    assert launcher.describe_exit(handle).startswith(
        f"Batch job {job_id} failed: evaluation cancelled by the user"
    )

    # And stopping an ended or unknown job is not an error
    launcher.stop(handle, "again")
    launcher.stop(f"batch:{uuid.uuid4()}", "cancelled")
    assert launcher.alive(f"batch:{uuid.uuid4()}") is False


def test_batch_refusals_are_launch_failures(batch: BatchSetup) -> None:
    launcher = BatchLauncher("no-such-queue", batch.job_definition)
    with pytest.raises(LaunchFailed, match="Batch SubmitJob to queue no-such-queue failed: ClientException"):
        launcher.launch(make_job(gpu=True))


def test_batch_job_names_are_sanitised() -> None:
    name = job_name(make_job(job_id="job/0001 ü" + "x" * 200, attempts=3))
    assert name.startswith("evalhub-job-0001--xxx")
    assert len(name) == 128
    assert set(name) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


# -- routing across platforms -----------------------------------------------------------------------
def test_router_sends_cpu_jobs_to_ecs_and_gpu_jobs_to_batch(ecs: EcsSetup, batch: BatchSetup) -> None:
    # Given CPU jobs on ECS and GPU jobs on Batch
    router = RoutingLauncher(cpu=ecs.launcher(), gpu=BatchLauncher(batch.job_queue, batch.job_definition))

    # When one job of each is launched
    cpu_handle = router.launch(make_job())
    gpu_handle = router.launch(make_job(gpu=True))

    # Then each went to its platform, and each handle goes back to the launcher that owns it
    assert cpu_handle.startswith("ecs:") and gpu_handle.startswith("batch:")
    assert router.alive(cpu_handle) is True
    assert router.alive(gpu_handle) is False  # moto's Batch finished it
    router.stop(cpu_handle, "cancelled")
    assert router.alive(cpu_handle) is False
    assert router.describe_exit(cpu_handle).startswith("ECS task")
    assert router.describe_exit(gpu_handle).startswith("Batch job")

    # And a handle nobody owns (a local pid) is unknown, not an error
    assert router.alive("12345") is None
    router.stop("12345", "cancelled")
    assert router.describe_exit("12345") == "unknown runner 12345"


# -- factory ----------------------------------------------------------------------------------------
@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("EVALHUB_"):
            monkeypatch.delenv(name)


AWS_SETTINGS: dict[str, Any] = {
    "ecs_cluster": "evalhub",
    "ecs_cpu_task_definition": "evalhub-runner-cpu",
    "subnets": "subnet-1, subnet-2",
    "security_groups": "sg-1",
}


@pytest.mark.usefixtures("clean_env")
def test_factory_builds_ecs_for_both_or_ecs_plus_batch() -> None:
    ecs_only = build_aws_launcher(
        Settings(
            launcher="ecs",
            ecs_gpu_task_definition="evalhub-runner-gpu",
            ecs_gpu_capacity_provider="gpu",
            **AWS_SETTINGS,
        )
    )
    assert isinstance(ecs_only, EcsLauncher)
    assert ecs_only.subnets == ["subnet-1", "subnet-2"] and ecs_only.security_groups == ["sg-1"]

    routed = build_aws_launcher(
        Settings(launcher="batch", batch_job_queue="q", batch_job_definition="d", **AWS_SETTINGS)
    )
    assert isinstance(routed, RoutingLauncher)
    assert isinstance(routed.cpu, EcsLauncher) and isinstance(routed.gpu, BatchLauncher)


@pytest.mark.usefixtures("clean_env")
def test_factory_names_every_missing_setting() -> None:
    with pytest.raises(ValueError, match="EVALHUB_BATCH_JOB_QUEUE, EVALHUB_BATCH_JOB_DEFINITION"):
        build_aws_launcher(Settings(launcher="batch", **AWS_SETTINGS))
    with pytest.raises(
        ValueError, match="EVALHUB_ECS_CLUSTER, EVALHUB_SUBNETS, EVALHUB_ECS_GPU_TASK_DEFINITION"
    ):
        build_aws_launcher(
            Settings(
                launcher="ecs",
                ecs_cpu_task_definition="cpu",
                security_groups="sg-1",
                ecs_gpu_capacity_provider="gpu",
                subnets=" , ",
            )
        )
    with pytest.raises(ValueError, match="EVALHUB_LAUNCHER must be 'ecs' or 'batch'"):
        build_aws_launcher(Settings(launcher="process", **AWS_SETTINGS))
