"""Classifier quality: macro-F1 of kind and micro-F1 of services on the shared and held-out sets.

Run from the repository root: `python bench/classify_quality.py [-v]` (-v lists the mistakes).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor import config  # noqa: E402
from monitor.core.classify.classifier import Classifier  # noqa: E402
from monitor.core.classify.eval import evaluate, load_notices  # noqa: E402

SETS = [
    ("shared corpus", ROOT / ".." / "shared" / "corpus", "notices.jsonl", "services.yaml"),
    (
        "held-out",
        ROOT / "tests" / "monitor" / "data",
        "classify_heldout.jsonl",
        "classify_services.yaml",
    ),
    # written after the first round of fixes, to measure once more on unseen sentences
    (
        "held-out 2",
        ROOT / "tests" / "monitor" / "data",
        "classify_heldout2.jsonl",
        "classify_services.yaml",
    ),
]


def main() -> int:
    """Print the figures for each set."""
    verbose = "-v" in sys.argv[1:]
    for name, folder, notices_file, services_file in SETS:
        if not (folder / notices_file).exists():
            print(f"{name}: {folder / notices_file} not found, skipped")
            continue
        classifier = Classifier.from_services(config.load(folder / services_file).services)
        notices = load_notices(folder / notices_file)
        report = evaluate(classifier, notices)
        print(f"{name} ({len(notices)} notices)")
        print(f"  kind macro-F1      {report.kind_f1:.3f}")
        print(f"  services micro-F1  {report.services_f1:.3f}  (attack/outage/restored notices)")
        for kind, (p, r, f1) in report.per_kind.items():
            print(f"  {kind:<9} precision {p:.2f}  recall {r:.2f}  F1 {f1:.2f}")
        if verbose:
            for notice, got in report.mistakes:
                print(
                    f"  MISS {notice.id}: want {notice.kind} {sorted(notice.services)}, "
                    f"got {got.kind} {list(got.services)} {list(got.evidence)}: {notice.text}"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
