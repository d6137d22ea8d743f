"""Results in an S3 bucket under an optional prefix (AWS mode); URIs are s3://, links presigned GETs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from ..awsclient import LazyClient
from ..errors import NotFound, StorageUnavailable
from .files import checked_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MISSING = frozenset({"NoSuchKey", "404", "NotFound"})


class S3BlobStore:
    def __init__(self, bucket: str, prefix: str = "", client: S3Client | None = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._client: LazyClient[S3Client] = LazyClient("s3", client)

    @property
    def client(self) -> S3Client:
        return self._client()

    def _key(self, key: str) -> str:
        key = checked_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes, content_type: str = "application/json") -> str:
        full = self._key(key)
        try:
            self.client.put_object(Bucket=self.bucket, Key=full, Body=data, ContentType=content_type)
        except (ClientError, BotoCoreError) as e:
            raise StorageUnavailable(f"Cannot write s3://{self.bucket}/{full}: {e}") from e
        return f"s3://{self.bucket}/{full}"

    def get(self, key: str) -> bytes:
        full = self._key(key)
        try:
            return self.client.get_object(Bucket=self.bucket, Key=full)["Body"].read()
        except ClientError as e:
            if str(e.response.get("Error", {}).get("Code")) in MISSING:
                raise NotFound(f"No blob at '{key}'") from e
            raise StorageUnavailable(f"Cannot read s3://{self.bucket}/{full}: {e}") from e
        except BotoCoreError as e:
            raise StorageUnavailable(f"Cannot read s3://{self.bucket}/{full}: {e}") from e

    def link(self, key: str, expires_seconds: int = 3600) -> str:
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self._key(key)}, ExpiresIn=expires_seconds
        )
