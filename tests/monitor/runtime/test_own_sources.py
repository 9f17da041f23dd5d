"""A notice on a service's own channel, feed or ingest source that names no service is about it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from monitor import config
from monitor.core.base import Message
from monitor.runtime.daemon import Daemon

CONFIG = """
vantage: unit
storage: {{path: {db}}}
services:
  - {{name: kyivstar, group: telecom, aliases: [Київстар, Kyivstar]}}
  - {{name: privatbank, group: bank, aliases: [ПриватБанк]}}
sources:
  telegram:
    api_id: 1
    api_hash: x
    session: {session}
    channels: [dsszzi, {{name: "@Kyivstar_Official", service: kyivstar}}]
  feeds: [{{name: ks-news, url: "https://example.org/feed.xml", service: kyivstar}}]
  ingest: {{tokens: [t0ken], services: {{ks: kyivstar}}}}
"""
TEXT = "Фіксуємо масштабну DDoS-атаку на нашу мережу, сервіси тимчасово недоступні."
T0 = datetime(2023, 12, 12, 7, 0, tzinfo=UTC)


def services_of(d: Daemon, source: str, text: str = TEXT) -> tuple[str, ...]:
    return d._classify(Message(source, "1", T0, text)).services


def test_own_sources_name_their_service(tmp_path: Path) -> None:
    cfg = config.parse(
        CONFIG.format(db=tmp_path / "ow.db", session=tmp_path / "s.session"), "config.yaml"
    )
    d = Daemon(cfg)
    assert services_of(d, "kyivstar_official") == ("kyivstar",)
    assert services_of(d, "ks-news") == ("kyivstar",)
    assert services_of(d, "ingest:ks") == ("kyivstar",)
    # anyone else's channel, or an ingest source called like a feed, names nobody
    assert services_of(d, "dsszzi") == ()
    assert services_of(d, "ingest:ks-news") == ()
    # a notice on the own channel that names another service is about that one
    other = "ПриватБанк повідомляє про DDoS-атаку, сервіси недоступні."
    assert services_of(d, "kyivstar_official", other) == ("privatbank",)
