"""A Snapshot of a pipeline with quiet defaults, for tests of the read side."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from alerts.stats import DeliveryStats
from monitor import config
from monitor.core.stats import Histogram
from monitor.runtime.pipeline import Pipeline
from monitor.sources.base import SourceHealth
from monitor.web.base import Snapshot

T = datetime(2022, 2, 15, 14, 0, tzinfo=UTC)


def snapshot(cfg: config.Config, p: Pipeline, **over: Any) -> Snapshot:
    """A snapshot of a pipeline with quiet defaults for everything else."""
    late = Histogram((0.01, 0.1))
    for x in (0.001, 0.05, 3.0):
        late.observe(x)
    fields: dict[str, Any] = {
        "vantage": cfg.vantage.name,
        "now": T,
        "started": True,
        "services": cfg.services,
        "probes": p.snapshot(),
        "intervals": {},
        "boosted": frozenset(),
        "store_up": True,
        "store_errors": 3,
        "reload_ok": True,
        "reload_at": T,
        "skipped": 0,
        "lateness": late,
        "open_incidents": [],
        "open_campaigns": [],
        "offline_since": None,
        "announcement_lag": Histogram(),
        "sources": [SourceHealth("cert", "feed", connected=True)],
        "ingest": SourceHealth("ingest", "ingest"),
        "announcement_counts": {("cert", "attack"): 2},
        "delivery": DeliveryStats(),
    }
    fields.update(over)
    return Snapshot(**fields)
