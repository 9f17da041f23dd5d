"""The benches' pure helpers: the figures they print come from these."""

from __future__ import annotations

import os

import pytest

from bench.common import Sample, add_buckets, figures, quantile
from bench.scale import default_checks, late_share, placement, verdict

LATE = "outwatch_probe_start_lateness_seconds"


def exposition(probes: int, skipped: int, buckets: dict[str, int]) -> str:
    """A /metrics text with what the benches read: two checks, counters and the histogram."""
    lines = [
        'probe_success{service="a",check="c0"} 1.0',
        'probe_success{service="a",check="c1"} 0.0',
        f'outwatch_probes_total{{vantage="v",kind="http"}} {probes}',
        f'outwatch_probe_runs_skipped_total{{vantage="v"}} {skipped}',
    ]
    lines += [f'{LATE}_bucket{{vantage="v",le="{le}"}} {n}' for le, n in buckets.items()]
    return "\n".join(lines) + "\n"


def test_quantile_interpolates_inside_the_bucket() -> None:
    buckets = {0.1: 50.0, 0.2: 100.0, float("inf"): 100.0}
    assert quantile(buckets, 0.5) == pytest.approx(0.1)
    assert quantile(buckets, 0.75) == pytest.approx(0.15)
    assert quantile({float("inf"): 10.0, 0.5: 0.0}, 0.99) == 0.5  # past the last bound: the bound


def test_add_buckets_sums_each_bound() -> None:
    assert add_buckets([{0.1: 1.0, 1.0: 2.0}, {0.1: 3.0, 1.0: 5.0}]) == {0.1: 4.0, 1.0: 7.0}


def test_figures_are_the_difference_over_the_window() -> None:
    first = Sample(exposition(10, 1, {"0.1": 10, "+Inf": 10}), 0.2, cpu=1.0, wait=0.5, at=100.0)
    last = Sample(exposition(30, 4, {"0.1": 20, "+Inf": 30}), 0.4, cpu=3.0, wait=1.5, at=110.0)
    f = figures(first, last, [0.2, 0.3, 0.4], interval=5.0, pid=os.getpid())
    assert (f.checks, f.done, f.expected, f.skipped, f.failing) == (2, 20, 4.0, 3, 1)
    assert (f.cpu_pct, f.wait_pct, f.scrape_ms) == (20.0, 10.0, 400.0)
    assert f.lateness == {0.1: 10.0, float("inf"): 20.0}
    assert f.p99 == 0.1  # half the window's starts were later than the last finite bound


def test_shard_defaults_and_verdict() -> None:
    assert (default_checks(1), default_checks(2)) == (10_000, 40_000)
    assert placement(3, [0, 1]) == [0, 1, 0]
    assert verdict(0.25, 0) == "PASS"
    assert verdict(0.251, 0) == verdict(0.1, 1) == "FAIL"


def test_late_share_reads_the_goal_bucket() -> None:
    assert late_share({0.1: 90.0, 0.25: 99.0, 0.5: 100.0, float("inf"): 100.0}) == pytest.approx(
        0.01
    )
