"""Fixtures the runtime tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import free_port
from tests.integration.helpers import Target


@pytest.fixture
async def target() -> AsyncIterator[Target]:
    t = Target(free_port())
    await t.start()
    yield t
    await t.stop()
