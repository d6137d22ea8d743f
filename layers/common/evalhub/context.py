"""The one place that builds the adapters from settings (local or AWS). Faces (API, dispatcher, runner,
worker) ask it for what they need; nothing else constructs a store, queue, blob store or launcher."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property

from .blobs import BlobStore
from .catalog import Catalog, load_catalog
from .launch import Launcher
from .queue import JobQueue
from .services.models import ModelRegistry
from .settings import Settings, get_settings
from .storage import Store


@dataclass
class Context:
    settings: Settings
    store: Store
    queue: JobQueue
    blobs: BlobStore
    started_at: float = field(default_factory=time.time)
    _launcher: Launcher | None = None

    @cached_property
    def catalog(self) -> Catalog:
        return load_catalog()

    @cached_property
    def models(self) -> ModelRegistry:
        return ModelRegistry(self.store)

    @property
    def launcher(self) -> Launcher:
        """Built on first use: the API only needs it to stop runners when cancelling."""
        if self._launcher is None:
            self._launcher = build_launcher(self.settings)
        return self._launcher

    def close(self) -> None:
        if self._launcher is not None:
            self._launcher.close()
        self.store.close()


def build_launcher(settings: Settings) -> Launcher:
    if settings.launcher == "process":  # local mode, or AWS services with runners on this machine
        from .launch.process import ProcessLauncher

        return ProcessLauncher(settings)
    from .launch.routing import build_aws_launcher

    return build_aws_launcher(settings)


def build_context(settings: Settings | None = None) -> Context:
    settings = settings or get_settings()
    if settings.mode == "local":
        from .blobs.files import FileBlobStore
        from .queue.local import LocalQueue
        from .storage.sqlite import SqliteStore

        settings.home.mkdir(parents=True, exist_ok=True)
        return Context(
            settings=settings,
            store=SqliteStore(settings.db_path),
            queue=LocalQueue(settings.db_path),
            blobs=FileBlobStore(settings.home),  # keys start with results/, so files land in results_dir
        )
    from .blobs.s3 import S3BlobStore
    from .queue.sqs import SqsQueue
    from .storage.dynamodb import DynamoStore

    assert settings.table_name and settings.queue_url and settings.results_bucket  # checked by Settings
    return Context(
        settings=settings,
        store=DynamoStore(settings.table_name),
        queue=SqsQueue(settings.queue_url),
        blobs=S3BlobStore(settings.results_bucket),
    )
