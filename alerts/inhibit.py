"""Inhibition: while a source alert fires, target alerts agreeing on `equal` labels are muted."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from alerts.base import Alert
from alerts.config import InhibitRuleConfig
from alerts.matchers import Matcher, from_maps, matches_all


@dataclass(frozen=True)
class InhibitRule:
    """One rule, built from config."""

    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...]

    @classmethod
    def from_config(cls, cfg: InhibitRuleConfig) -> InhibitRule:
        """Build from an `inhibit_rules` entry."""
        return cls(
            source=from_maps(cfg.source_match, cfg.source_match_re, cfg.source_matchers),
            target=from_maps(cfg.target_match, cfg.target_match_re, cfg.target_matchers),
            equal=tuple(cfg.equal),
        )


def inhibited(alerts: Iterable[Alert], rules: Iterable[InhibitRule]) -> dict[str, str]:
    """Fingerprint of each inhibited alert -> fingerprint of a firing alert inhibiting it."""
    alerts = list(alerts)
    out: dict[str, str] = {}
    for rule in rules:
        sources = [a for a in alerts if a.status == "firing" and matches_all(rule.source, a.labels)]
        if not sources:
            continue
        for alert in alerts:
            if alert.fingerprint in out or not matches_all(rule.target, alert.labels):
                continue
            for src in sources:
                # an alert never inhibits itself (one matching both sides of a rule)
                same = all(src.labels.get(n, "") == alert.labels.get(n, "") for n in rule.equal)
                if same and src.fingerprint != alert.fingerprint:
                    out[alert.fingerprint] = src.fingerprint
                    break
    return out
