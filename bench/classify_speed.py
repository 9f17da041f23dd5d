"""Classifier speed: notices per second over 10,000 notices (the last line is the headline).

Run from the repository root: `python bench/classify_speed.py`. The notices are the shared and
held-out notices recombined (1-3 sentences each, with varying numbers and names), so that the
lemma cache sees realistic repetition but not 10,000 copies of 100 texts.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor import config  # noqa: E402
from monitor.core.classify.classifier import Classifier  # noqa: E402
from monitor.core.classify.eval import load_notices  # noqa: E402

COUNT = 10_000
DATA = ROOT / "tests" / "monitor" / "data"
CORPUS = ROOT / ".." / "shared" / "corpus" / "notices.jsonl"
FILLERS = ["Київ", "Харків", "Львів", "Одеса", "Дніпро", "Kyiv", "Kharkiv", "Москва", "регіон"]


def notices(count: int) -> list[str]:
    """`count` varied notices built from the labelled sentences."""
    texts = [n.text for n in load_notices(DATA / "classify_heldout.jsonl")]
    if CORPUS.exists():
        texts += [n.text for n in load_notices(CORPUS)]
    rng = random.Random(2022_02_15)
    out = []
    for i in range(count):
        parts = rng.sample(texts, rng.randint(1, 3))
        out.append(f"{' '.join(parts)} {rng.choice(FILLERS)} {i} {rng.randint(0, 10**6)}")
    return out


def main() -> int:
    """Time construction, a cold pass and a warm pass."""
    t0 = time.perf_counter()
    classifier = Classifier.from_services(config.load(DATA / "classify_services.yaml").services)
    classifier.classify("warm up the dictionaries")
    built = time.perf_counter() - t0
    batch = notices(COUNT)
    chars = sum(map(len, batch))
    t1 = time.perf_counter()
    for text in batch:
        classifier.classify(text)
    cold = time.perf_counter() - t1
    t2 = time.perf_counter()
    for text in batch:
        classifier.classify(text)
    warm = time.perf_counter() - t2
    print(f"construction (dictionaries loaded): {built:.2f} s")
    print(f"{COUNT} notices, {chars / COUNT:.0f} characters on average")
    print(f"cold lemma cache: {cold:.2f} s, {COUNT / cold:,.0f} notices/s")
    print(f"warm lemma cache: {warm:.2f} s, {COUNT / warm:,.0f} notices/s")
    print(f"{COUNT / cold:,.0f} notices/s ({COUNT} notices in {cold:.2f} s, cold cache)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
