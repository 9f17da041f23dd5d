"""Shared probe types: a run's gauges as a result keeps them (Carried)."""

from __future__ import annotations

import math

from probes import families as fam
from probes.base import Carried, Gauges, ProbeResult


def test_carried_gives_back_the_gauges_in_the_order_set() -> None:
    samples = (
        (fam.TLS_VERSION_INFO, ("TLS 1.3",), 1.0),
        (fam.IP_PROTOCOL, (), -0.0),
        (fam.HTTP_STATUS_CODE, (), math.nan),
        (fam.TLS_VERSION_INFO, ("TLS 1.2",), 0.0),
    )
    carried = Carried(samples, fam.HTTP_DURATION, ("connect",))
    got = carried.samples
    assert [(f, lv) for f, lv, _ in got] == [(f, lv) for f, lv, _ in samples]
    assert math.copysign(1.0, got[1][2]) == -1.0 and math.isnan(got[2][2])
    assert carried == Carried(samples, fam.HTTP_DURATION, ("connect",))
    assert carried != Carried(samples[:2], fam.HTTP_DURATION, ("connect",))


def test_the_recorder_keeps_unlabelled_then_labelled_and_results_share_a_layout() -> None:
    def run(status: float) -> ProbeResult:
        g = Gauges()
        g.set(fam.HTTP_STATUS_CODE, status)
        g.set(fam.TLS_VERSION_INFO, 1.0, "TLS 1.3")
        g.set(fam.IP_PROTOCOL, 4)
        g.phases(fam.HTTP_DURATION, ("connect", "tls"))
        return ProbeResult(ok=True, phases={"connect": 0.5}, carried=g.carried())

    a, b = run(200), run(503)
    assert list(a.gauges()) == [
        (fam.HTTP_STATUS_CODE, (), 200.0),
        (fam.IP_PROTOCOL, (), 4.0),
        (fam.TLS_VERSION_INFO, ("TLS 1.3",), 1.0),
        (fam.HTTP_DURATION, ("connect",), 0.5),
        (fam.HTTP_DURATION, ("tls",), 0.0),
    ]
    assert a.carried._layout is b.carried._layout  # one copy for results of one shape
    assert next(b.gauges()) == (fam.HTTP_STATUS_CODE, (), 503.0)
