"""Create Eval Hub's AWS resources (table, jobs queue + dead-letter queue, results bucket) in a moto
server, with the same schema as template.yaml, and print the environment that points the hub at them.

    moto_server -p 5000 &
    eval "$(python scripts/moto_stack.py --endpoint http://127.0.0.1:5000)"
    evalhub serve          # EVALHUB_MODE=aws, runners as local processes
"""

from __future__ import annotations

import argparse
import json
import os

import boto3

from evalhub.storage.dynamodb import DynamoStore


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--endpoint", default="http://127.0.0.1:5000")
    parser.add_argument("--name", default="evalhub-dev")
    parser.add_argument("--region", default="us-east-1")
    args = parser.parse_args()
    env = {
        "AWS_ENDPOINT_URL": args.endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": args.region,
    }
    os.environ.update(env)

    table = f"{args.name}-table"
    existing = boto3.client("dynamodb").list_tables()["TableNames"]
    if table not in existing:
        DynamoStore.create_table(table)
    sqs = boto3.client("sqs")
    dlq_url = sqs.create_queue(QueueName=f"{args.name}-jobs-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})
    queue_url = sqs.create_queue(
        QueueName=f"{args.name}-jobs", Attributes={"VisibilityTimeout": "60", "RedrivePolicy": redrive}
    )["QueueUrl"]
    bucket = f"{args.name}-results"
    boto3.client("s3").create_bucket(Bucket=bucket)

    env |= {
        "EVALHUB_MODE": "aws",
        "EVALHUB_LAUNCHER": "process",
        "EVALHUB_TABLE_NAME": table,
        "EVALHUB_QUEUE_URL": queue_url,
        "EVALHUB_RESULTS_BUCKET": bucket,
    }
    for name, value in env.items():
        print(f"export {name}={value}")


if __name__ == "__main__":
    main()
