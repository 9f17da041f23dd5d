"""Alerting configuration: the route tree, receivers, silences and inhibition."""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from alerts.base import Duration
from alerts.registry import KINDS


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class RouteConfig(_Frozen):
    """One node of the route tree, as in Alertmanager."""

    receiver: str | None = None
    match: dict[str, str] = Field(default_factory=dict)
    match_re: dict[str, str] = Field(default_factory=dict)
    continue_: bool = Field(default=False, alias="continue")
    group_by: list[str] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    routes: list[RouteConfig] = Field(default_factory=list)


class ReceiverCommon(_Frozen):
    """Fields every receiver has, whatever its kind."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    timeout: Duration = 10.0
    send_resolved: bool = True


def _receiver_model(kind: str) -> type[BaseModel]:
    spec = KINDS[kind].model
    return create_model(f"{spec.__name__}Config", __base__=(ReceiverCommon, spec))


_RECEIVERS: Any = tuple(_receiver_model(k) for k in KINDS)
ReceiverConfig = Annotated[Union[_RECEIVERS], Field(discriminator="kind")]  # noqa: UP007


class AlertsConfig(_Frozen):
    """`alerts:` in the config."""

    route: RouteConfig = RouteConfig()
    receivers: list[ReceiverConfig] = Field(default_factory=list)


def problems(cfg: AlertsConfig) -> list[tuple[tuple[str | int, ...], str]]:
    """Cross-field problems (unknown receiver names, duplicates), each with its config path."""
    out: list[tuple[tuple[str | int, ...], str]] = []
    names: set[str] = set()
    for i, rc in enumerate(cfg.receivers):
        if rc.name in names:
            out.append((("alerts", "receivers", i, "name"), f"duplicate receiver name {rc.name!r}"))
        names.add(rc.name)

    def walk(route: RouteConfig, loc: tuple[str | int, ...]) -> None:
        if route.receiver is not None and route.receiver not in names:
            out.append((loc + ("receiver",), f"no receiver named {route.receiver!r}"))
        for j, child in enumerate(route.routes):
            walk(child, loc + ("routes", j))

    if cfg.receivers or cfg.route.receiver:
        walk(cfg.route, ("alerts", "route"))
    return out
