"""Classifier quality on the shared corpus and on our own held-out notices."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor import config
from monitor.core.classify.classifier import Classifier
from monitor.core.classify.eval import evaluate, load_notices
from tests.conftest import SHARED

DATA = Path(__file__).parents[1] / "data"


@pytest.mark.parametrize(
    ("notices", "services"),
    [
        (SHARED / "corpus" / "notices.jsonl", SHARED / "corpus" / "services.yaml"),
        (DATA / "classify_heldout.jsonl", DATA / "classify_services.yaml"),
        (DATA / "classify_heldout2.jsonl", DATA / "classify_services.yaml"),
    ],
    ids=["shared-corpus", "held-out", "held-out-2"],
)
def test_f1(notices: Path, services: Path) -> None:
    if not notices.exists():
        pytest.skip(f"{notices.name} is not available")
    classifier = Classifier.from_services(config.load(services).services)
    report = evaluate(classifier, load_notices(notices))
    misses = "\n".join(
        f"{n.id}: want {n.kind} {sorted(n.services)}, got {g.kind} {list(g.services)} {list(g.evidence)}"
        for n, g in report.mistakes
    )
    assert report.kind_f1 >= 0.90, misses
    assert report.services_f1 >= 0.90, misses


def test_held_out_covers_every_kind_and_language() -> None:
    notices = load_notices(DATA / "classify_heldout.jsonl")
    assert len(notices) >= 60
    assert {n.kind for n in notices} == {"attack", "outage", "restored", "advisory", "other"}
    assert {n.lang for n in notices} == {"uk", "ru", "en"}
