from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from monitor.demo import timeline
from monitor.demo.timeline import day_time, length, mode_at, story_seconds


def at(hhmm: str, speed: float = 1.0) -> float:
    h, m = (int(x) for x in hhmm.split(":"))
    return story_seconds(datetime(2022, 2, 15, h, m, tzinfo=UTC), speed)


@pytest.mark.parametrize(
    ("site", "hhmm", "mode"),
    [
        ("privatbank", "12:00", "up"),
        ("privatbank", "12:14", "up"),
        ("privatbank", "12:15", "timeout"),
        ("privatbank", "12:50", "error"),
        ("privatbank", "13:20", "up"),
        ("oschadbank", "12:20", "up"),
        ("oschadbank", "12:21", "error"),
        ("oschadbank", "13:39", "timeout"),  # the "resumed" notice: still down
        ("oschadbank", "14:06", "up"),
        ("mod", "12:33", "refused"),
        ("mod", "13:44", "refused"),
        ("mod", "13:45", "up"),
        ("zsu", "12:40", "timeout"),
        ("zsu", "13:10", "error"),
        ("zsu", "13:45", "up"),
        ("monobank", "12:09", "up"),
        ("monobank", "12:12", "error"),
        ("monobank", "12:15", "up"),
        ("diia", "12:33", "up"),
        ("diia", "13:00", "up"),
        ("nonesuch", "13:00", "up"),
    ],
)
@pytest.mark.parametrize("speed", [1.0, 2.0, 5.0])
def test_mode_at(site: str, hhmm: str, mode: str, speed: float) -> None:
    assert mode_at(site, at(hhmm, speed) + 1e-6, speed) == mode


@pytest.mark.parametrize(
    ("speed", "seconds"), [(1.0, 110.0), (2.0, 55.0), (5.0, 22.0), (0.5, 220.0)]
)
def test_length_scales_with_speed(speed: float, seconds: float) -> None:
    assert length(speed) == pytest.approx(seconds)


@pytest.mark.parametrize("elapsed", [0.0, 1.5, 37.0, 109.9])
def test_day_time_inverts_story_seconds(elapsed: float) -> None:
    assert story_seconds(day_time(elapsed, 3.0), 3.0) == pytest.approx(elapsed)


def test_monobank_blip_is_shorter_than_the_threshold() -> None:
    from monitor.demo.settings import INTERVAL

    blips = [p for p in timeline.PHASES if p.site == "monobank"]
    assert len(blips) == 1
    span = (blips[0].end - blips[0].start).total_seconds()
    # longer than one interval (it shows), shorter than two (at most two failed probes of three)
    assert INTERVAL < span < 2 * INTERVAL


def test_phases_of_a_site_do_not_overlap() -> None:
    by_site: dict[str, list[timeline.Phase]] = {}
    for p in timeline.PHASES:
        assert p.start < p.end
        by_site.setdefault(p.site, []).append(p)
    for phases in by_site.values():
        phases.sort(key=lambda p: p.start)
        for a, b in itertools.pairwise(phases):
            assert a.end <= b.start
