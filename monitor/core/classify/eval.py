"""Score the classifier on labelled notices: macro-F1 of kind, micro-F1 of linked services and of
claims (service, kind, polarity, time), and false alarms."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from monitor.core.base import ANNOUNCEMENT_KINDS, CLAIM_KINDS, Classification
from monitor.core.classify.classifier import Classifier

# services only count where a notice is about availability: who is named in product news or a
# war report does not matter to correlation
SCORED_KINDS = frozenset({"attack", "outage", "restored"})
ALARMS = frozenset({"attack", "outage"})

ClaimKey = tuple[str, str, str, str]  # service, kind, polarity, time


@dataclass(frozen=True)
class Notice:
    """One labelled notice."""

    id: str
    kind: str
    services: frozenset[str]
    text: str
    lang: str = ""
    claims: frozenset[ClaimKey] = frozenset()


@dataclass
class Report:
    """Scores and the notices that were wrong."""

    kind_f1: float
    services_f1: float
    per_kind: dict[str, tuple[float, float, float]]  # precision, recall, F1
    mistakes: list[tuple[Notice, Classification]] = field(default_factory=list)
    claims_f1: float = 0.0
    false_alarms: list[tuple[Notice, Classification]] = field(default_factory=list)


def load_notices(path: str | Path) -> list[Notice]:
    """Read a JSON-lines file of {id, lang, kind, services, text[, claims]}.

    Without `claims` (an older corpus labelled by kind only) the kind is taken as a live claim
    about each service, or about none ("") when it names no service.
    """
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            if "claims" in row:
                claims = frozenset(tuple(c) for c in row["claims"])
            elif row["kind"] in CLAIM_KINDS:
                claims = frozenset(
                    (s, row["kind"], "asserted", "now") for s in row["services"] or [""]
                )
            else:
                claims = frozenset()
            out.append(
                Notice(
                    row["id"],
                    row["kind"],
                    frozenset(row["services"]),
                    row["text"],
                    row.get("lang", ""),
                    claims,
                )
            )
    return out


def claim_keys(got: Classification) -> frozenset[ClaimKey]:
    """A classification's claims as comparable tuples."""
    return frozenset((c.service, c.kind, c.polarity, c.time) for c in got.claims)


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def evaluate(classifier: Classifier, notices: Iterable[Notice]) -> Report:
    """Classify each notice and compare with its labels."""
    kinds: tuple[str, ...] = ANNOUNCEMENT_KINDS
    tp = dict.fromkeys(kinds, 0)
    fp = dict.fromkeys(kinds, 0)
    fn = dict.fromkeys(kinds, 0)
    s_tp = s_fp = s_fn = 0
    c_tp = c_fp = c_fn = 0
    mistakes = []
    alarms = []
    for n in notices:
        got = classifier.classify(n.text)
        claims = claim_keys(got)
        c_tp += len(claims & n.claims)
        c_fp += len(claims - n.claims)
        c_fn += len(n.claims - claims)
        if got.kind in ALARMS and not any(
            c[1] in ALARMS and c[2:] == ("asserted", "now") for c in n.claims
        ):
            alarms.append((n, got))
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
        if wrong or claims != n.claims:
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
    cp = c_tp / (c_tp + c_fp) if c_tp + c_fp else 1.0
    cr = c_tp / (c_tp + c_fn) if c_tp + c_fn else 1.0
    return Report(kind_f1, _f1(sp, sr), per_kind, mistakes, _f1(cp, cr), alarms)
