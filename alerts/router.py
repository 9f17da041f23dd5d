"""The route tree: which routes (receivers, timings) an alert goes to, and which group it joins."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from alerts.config import RouteConfig
from alerts.matchers import Matcher, from_maps

ALL_LABELS = "..."  # group_by: ["..."] groups by every label, i.e. one group per alert
DEFAULT_GROUP_BY: tuple[str, ...] = ("service",)
DEFAULT_GROUP_WAIT = 30.0
DEFAULT_GROUP_INTERVAL = 300.0
DEFAULT_REPEAT_INTERVAL = 4 * 3600.0


@dataclass(frozen=True)
class Route:
    """One node of the built tree, with inherited settings filled in."""

    key: str
    receiver: str
    matchers: tuple[Matcher, ...]
    continue_: bool
    group_by: tuple[str, ...] | None  # None: every label
    group_wait: float
    group_interval: float
    repeat_interval: float
    routes: tuple[Route, ...] = ()

    def match(self, labels: Mapping[str, str]) -> list[Route]:
        """The routes an alert goes to: deepest matching children, honouring `continue`."""
        if not all(m.matches(labels) for m in self.matchers):
            return []
        found: list[Route] = []
        for child in self.routes:
            hits = child.match(labels)
            found.extend(hits)
            if hits and not child.continue_:
                break
        return found or [self]


def build(cfg: RouteConfig, parent: Route | None = None, suffix: str = "") -> Route:
    """Build the tree from config; children inherit what they leave unset."""
    matchers = from_maps(cfg.match, cfg.match_re)
    if cfg.group_by is None:
        group_by = parent.group_by if parent else DEFAULT_GROUP_BY
    else:
        group_by = None if ALL_LABELS in cfg.group_by else tuple(sorted(set(cfg.group_by)))
    own = "{" + ",".join(str(m) for m in matchers) + "}" + suffix
    node = Route(
        key=f"{parent.key}/{own}" if parent else own,
        receiver=cfg.receiver or (parent.receiver if parent else ""),
        matchers=matchers,
        continue_=cfg.continue_,
        group_by=group_by,
        group_wait=_pick(cfg.group_wait, parent, "group_wait", DEFAULT_GROUP_WAIT),
        group_interval=_pick(cfg.group_interval, parent, "group_interval", DEFAULT_GROUP_INTERVAL),
        repeat_interval=_pick(
            cfg.repeat_interval, parent, "repeat_interval", DEFAULT_REPEAT_INTERVAL
        ),
    )
    keys = [_matchers_key(c) for c in cfg.routes]
    # siblings with the same matchers (say, two receivers via `continue`) need distinct keys
    children = tuple(
        build(c, node, f"#{i}" if keys.count(keys[i]) > 1 else "") for i, c in enumerate(cfg.routes)
    )
    return replace(node, routes=children)


def _matchers_key(cfg: RouteConfig) -> str:
    return ",".join(str(m) for m in from_maps(cfg.match, cfg.match_re))


def _pick(own: float | None, parent: Route | None, name: str, default: float) -> float:
    if own is not None:
        return own
    return float(getattr(parent, name)) if parent else default


def group_labels(
    route: Route, labels: Mapping[str, str], *, group_campaigns: bool
) -> dict[str, str]:
    """The labels that name an alert's group on this route.

    With `group_campaigns`, an alert carrying a `campaign` label is grouped by the campaign in
    place of the service, so a coordinated wave on many services is one notification.
    """
    campaign = labels.get("campaign", "") if group_campaigns else ""
    if route.group_by is None:
        return {"campaign": campaign} if campaign else dict(labels)
    names = set(route.group_by)
    if campaign:
        names.discard("service")
        names.add("campaign")
    return {n: labels[n] for n in sorted(names) if labels.get(n)}


def group_key(route: Route, labels: Mapping[str, str]) -> str:
    """Alertmanager-style group key: the route's key and the group's labels."""
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{route.key}:{{{inner}}}"
