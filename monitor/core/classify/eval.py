"""Score the classifier on labelled notices: macro-F1 of kind, micro-F1 of linked services."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from monitor.core.base import ANNOUNCEMENT_KINDS, Classification
from monitor.core.classify.classifier import Classifier

# services only count where a notice is about availability: who is named in product news or a
# war report does not matter to correlation
SCORED_KINDS = frozenset({"attack", "outage", "restored"})


@dataclass(frozen=True)
class Notice:
    """One labelled notice."""

    id: str
    kind: str
    services: frozenset[str]
    text: str
    lang: str = ""


@dataclass
class Report:
    """Scores and the notices that were wrong."""

    kind_f1: float
    services_f1: float
    per_kind: dict[str, tuple[float, float, float]]  # precision, recall, F1
    mistakes: list[tuple[Notice, Classification]] = field(default_factory=list)


def load_notices(path: str | Path) -> list[Notice]:
    """Read a JSON-lines file of {id, lang, kind, services, text}."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            out.append(
                Notice(
                    row["id"],
                    row["kind"],
                    frozenset(row["services"]),
                    row["text"],
                    row.get("lang", ""),
                )
            )
    return out


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def evaluate(classifier: Classifier, notices: Iterable[Notice]) -> Report:
    """Classify each notice and compare with its labels."""
    kinds: tuple[str, ...] = ANNOUNCEMENT_KINDS
    tp = dict.fromkeys(kinds, 0)
    fp = dict.fromkeys(kinds, 0)
    fn = dict.fromkeys(kinds, 0)
    s_tp = s_fp = s_fn = 0
    mistakes = []
    for n in notices:
        got = classifier.classify(n.text)
        if got.kind == n.kind:
            tp[n.kind] += 1
        else:
            fp[got.kind] += 1
            fn[n.kind] += 1
        wrong = got.kind != n.kind
        if n.kind in SCORED_KINDS:
            pred = set(got.services)
            s_tp += len(pred & n.services)
            s_fp += len(pred - n.services)
            s_fn += len(n.services - pred)
            wrong = wrong or pred != n.services
        if wrong:
            mistakes.append((n, got))
    per_kind = {}
    for k in kinds:
        if tp[k] + fp[k] + fn[k] == 0:
            continue  # a kind neither labelled nor predicted does not count
        p = tp[k] / (tp[k] + fp[k]) if tp[k] + fp[k] else 0.0
        r = tp[k] / (tp[k] + fn[k]) if tp[k] + fn[k] else 0.0
        per_kind[k] = (p, r, _f1(p, r))
    kind_f1 = sum(v[2] for v in per_kind.values()) / len(per_kind) if per_kind else 0.0
    sp = s_tp / (s_tp + s_fp) if s_tp + s_fp else 1.0
    sr = s_tp / (s_tp + s_fn) if s_tp + s_fn else 1.0
    return Report(kind_f1, _f1(sp, sr), per_kind, mistakes)
