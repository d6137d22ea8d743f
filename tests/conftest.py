from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from evalhub.context import Context, build_context
from evalhub.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(mode="local", home=tmp_path / "home", heartbeat_interval_seconds=0.2)


@pytest.fixture
def ctx(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    for name in [n for n in __import__("os").environ if n.startswith("EVAL_HUB_MODEL_")]:
        monkeypatch.delenv(name)
    context = build_context(settings)
    yield context
    context.close()


@pytest.fixture
def client(ctx: Context) -> Iterator[TestClient]:
    """The API in-process (no worker): for request/response behaviour."""
    from evalhub_api.app import create_app

    with TestClient(create_app(ctx), base_url="http://testserver/api/v1", raise_server_exceptions=False) as c:
        yield c
