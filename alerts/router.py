"""The route tree: which routes (receivers, timings) an alert goes to, and which group it joins."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from alerts.base import Alert
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

    key: str  # Alertmanager's Route.Key(): parents' matchers, then its own, joined by /
    id: str  # unique in the tree (siblings may share a key)
    receiver: str
    matchers: tuple[Matcher, ...]
    continue_: bool
    group_by: tuple[str, ...] | None  # None: every label
    group_wait: float
    group_interval: float
    repeat_interval: float
    mute_time_intervals: tuple[str, ...] = ()
    active_time_intervals: tuple[str, ...] = ()
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


def build(cfg: RouteConfig, parent: Route | None = None, index: int = 0) -> Route:
    """Build the tree from config; children inherit what they leave unset (not time intervals,
    as in Alertmanager)."""
    matchers = from_maps(cfg.match, cfg.match_re, cfg.matchers)
    if cfg.group_by is None:
        group_by = parent.group_by if parent else DEFAULT_GROUP_BY
    else:
        group_by = None if ALL_LABELS in cfg.group_by else tuple(sorted(set(cfg.group_by)))
    own = "{" + ",".join(str(m) for m in matchers) + "}"
    node = Route(
        key=f"{parent.key}/{own}" if parent else own,
        id=f"{parent.id}/{index}" if parent else "0",
        receiver=cfg.receiver or (parent.receiver if parent else ""),
        matchers=matchers,
        continue_=cfg.continue_,
        group_by=group_by,
        group_wait=_pick(cfg.group_wait, parent, "group_wait", DEFAULT_GROUP_WAIT),
        group_interval=_pick(cfg.group_interval, parent, "group_interval", DEFAULT_GROUP_INTERVAL),
        repeat_interval=_pick(
            cfg.repeat_interval, parent, "repeat_interval", DEFAULT_REPEAT_INTERVAL
        ),
        mute_time_intervals=tuple(cfg.mute_time_intervals),
        active_time_intervals=tuple(cfg.active_time_intervals),
    )
    children = tuple(build(c, node, i) for i, c in enumerate(cfg.routes))
    return replace(node, routes=children)


def _pick(own: float | None, parent: Route | None, name: str, default: float) -> float:
    if own is not None:
        return own
    return float(getattr(parent, name)) if parent else default


def group_labels(
    route: Route, labels: Mapping[str, str], *, group_campaigns: bool
) -> dict[str, str]:
    """The labels that name an alert's group on this route (getGroupLabels in Alertmanager).

    With `group_campaigns`, an alert carrying a `campaign` label is grouped by the campaign in
    place of the service, so a coordinated wave on many services is one group: see
    `shown_group_labels` for what the notification then says.
    """
    campaign = labels.get("campaign", "") if group_campaigns else ""
    if route.group_by is None:
        return {"campaign": campaign} if campaign else dict(labels)
    names = set(route.group_by)
    if campaign:
        names.discard("service")
        names.add("campaign")
    return {n: labels[n] for n in sorted(names) if labels.get(n)}  # empty is absent


def shown_group_labels(
    route: Route, key_labels: Mapping[str, str], alerts: Iterable[Alert]
) -> dict[str, str]:
    """`groupLabels` of a notification: every `group_by` label the group's alerts carry.

    Alertmanager's value is the one all alerts share; in a campaign group the services differ,
    so `service` lists them, sorted and comma-separated, and `campaign` is added.
    """
    alerts = list(alerts)
    names = set(route.group_by) if route.group_by is not None else set(key_labels)
    out = dict(key_labels)
    for name in sorted(names - set(key_labels)):
        values = sorted({a.labels[name] for a in alerts if a.labels.get(name)})
        if values:
            out[name] = ",".join(values)
    return dict(sorted(out.items()))


def group_key(route: Route, labels: Mapping[str, str]) -> str:
    """Alertmanager's group key: `{route key}:{group labels}` (aggrGroup.GroupKey)."""
    inner = ", ".join(f"{k}={go_quote(v)}" for k, v in sorted(labels.items()))
    return f"{route.key}:{{{inner}}}"


_GO_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def go_quote(text: str) -> str:
    """Go's strconv.Quote (what %q prints in Alertmanager's LabelSet.String)."""
    out = ['"']
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return "".join(out) + '"'
