"""Source cursors and Telegram channel pins."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from monitor.store.channels import ChannelStore, Pin
from monitor.store.db import Store


@pytest.fixture
async def ann(tmp_path: Path) -> AsyncIterator[ChannelStore]:
    store = Store(str(tmp_path / "a.db"))
    channels = ChannelStore(store)
    await channels.ensure_schema()
    await channels.ensure_schema()  # idempotent
    yield channels
    store.close()


async def test_cursor_only_moves_forward(ann: ChannelStore) -> None:
    assert await ann.last_seen_id("dsszzi") == 0
    await ann.set_last_seen_id("dsszzi", 10)
    await ann.set_last_seen_id("dsszzi", 5)
    assert await ann.last_seen_id("dsszzi") == 10
    await ann.set_cursor("cert", {"etag": '"x"'})
    assert await ann.cursor("cert") == {"etag": '"x"'}


async def test_pin_is_kept_and_renames_detected(ann: ChannelStore) -> None:
    first = await ann.save_pin(Pin("dsszzi", 100, 555, "dsszzi", "SSSCIP"))
    # a second resolution (say, a squatter took the username) never replaces the pin
    again = await ann.save_pin(Pin("dsszzi", 999, 1, "dsszzi", "Fake"))
    assert again == first
    assert await ann.observe_channel("dsszzi", "dsszzi", "SSSCIP") is None
    rename = await ann.observe_channel("dsszzi", "dsszzi_old", "SSSCIP")
    assert rename is not None and rename.new
    assert "@dsszzi -> @dsszzi_old" in rename.describe()
    still = await ann.observe_channel("dsszzi", "dsszzi_old", "SSSCIP")
    assert still is not None and not still.new
    assert [p.key for p in await ann.pins()] == ["dsszzi"]
