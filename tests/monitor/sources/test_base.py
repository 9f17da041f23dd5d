"""Shared source pieces: building sources from config, the recording sink, text cleaning."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from monitor.config import parse
from monitor.core.base import Classification, Message
from monitor.core.text import clean_text
from monitor.sources.base import recording_sink
from monitor.sources.registry import sources_from_config
from monitor.store.announcements import AnnouncementStore, Change
from monitor.store.channels import ChannelStore
from monitor.store.db import Store
from tests.monitor.sources.fake_telegram import T0


async def test_sources_from_config(tmp_path: Path) -> None:
    cfg = parse(
        "sources:\n"
        "  telegram: {api_id: 1, api_hash: x, channels: [dsszzi, -1001234]}\n"
        "  rss: [{name: cert, url: 'http://127.0.0.1:1/feed.xml'}]\n"
    )
    store = Store(str(tmp_path / "a.db"))

    async def sink(message: Message) -> None:
        return None

    sources = sources_from_config(cfg.sources, sink, ChannelStore(store))
    assert [s.name for s in sources] == ["telegram", "cert"]
    assert [h.name for h in sources[0].healths()] == ["telegram", "dsszzi", "id1234"]
    assert [(h.name, h.kind) for h in sources[1].healths()] == [("cert", "feed")]
    store.close()


async def test_recording_sink_passes_on_real_changes_only(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "a.db"))
    ann = AnnouncementStore(store)
    await ann.ensure_schema()
    seen: list[Change] = []

    async def on_change(change: Change) -> None:
        seen.append(change)

    sink = recording_sink(ann, lambda message: Classification("attack"), on_change)
    message = Message("cert", "1", T0, "DDoS")
    await sink(message)
    await sink(message)
    assert [c.kind for c in seen] == ["new"]
    store.close()


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("plain", "plain"),
        ("tab\tnew\nline\r", "tab\tnew\nline\r"),
        ("nul\x00esc\x1bdel\x7f", "nulescdel"),
        ("rtl \u202e\u200f kept", "rtl \u202e\u200f kept"),
        ("\udc80", "?"),
    ],
)
def test_clean_text(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


def test_a_config_without_telegram_or_storage_url_imports_no_telethon_nor_psycopg() -> None:
    # a fresh interpreter: this test process may have imported it already; the cli and the
    # daemon as `outwatch run` imports them (every command module, for its arguments)
    code = (
        "import sys\n"
        "import monitor.cli, monitor.runtime.daemon\n"
        "from monitor.config import parse\n"
        "from monitor.sources.registry import sources_from_config\n"
        "cfg = parse(\"sources:\\n  rss: [{name: cert, url: 'http://127.0.0.1:1/f.xml'}]\\n\")\n"
        "async def sink(m): return None\n"
        "assert [s.name for s in sources_from_config(cfg.sources, sink)] == ['cert']\n"
        "assert 'telethon' not in sys.modules\n"
        "assert 'psycopg' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
