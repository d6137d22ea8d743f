from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.hub import Hub


@pytest.fixture
def api(hub: Hub) -> Iterator[httpx.Client]:
    """An HTTP client on the API of the module's ``hub`` fixture."""
    with httpx.Client(base_url=hub.api, timeout=30) as c:
        yield c
