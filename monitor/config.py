"""The config: YAML validated once into frozen models; every error names its path and line."""

from __future__ import annotations

import functools
import json
import logging
import re
import ssl
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    WithJsonSchema,
    create_model,
    field_validator,
)
from pydantic import model_validator as _model_validator

from alerts import config as alerts_config
from alerts.base import Duration, Secret
from monitor.probemodules import ProbeModule
from monitor.vocabulary import ALERTNAMES, SEVERITIES
from monitor.yamlsrc import (
    MAX_YAML_BYTES,
    Loc,
    SourceError,
    format_loc,
    parse_yaml,
    substitute,
)
from probes.registry import KINDS

log = logging.getLogger("outwatch.config")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Defaults(_Frozen):
    """Per-check settings used where a check does not set its own."""

    interval: Duration = 30.0
    timeout: Duration = 10.0
    failures_before_down: int = Field(default=3, ge=1)
    successes_before_up: int = Field(default=2, ge=1)


INHERITED = tuple(Defaults.model_fields)


class CheckCommon(_Frozen):
    """What every check has, whatever its kind: identity, schedule, thresholds, labels."""

    id: str = Field(default="", pattern=r"^[^\s\"\\]*$")
    interval: Duration = 30.0
    timeout: Duration = 10.0
    failures_before_down: int = Field(default=3, ge=1)
    successes_before_up: int = Field(default=2, ge=1)
    critical: bool = True
    labels: dict[str, str] = Field(default_factory=dict)
    cert_expiry_warning: Duration | None = None

    @_model_validator(mode="after")
    def _default_id(self) -> CheckCommon:
        if not self.id:
            # the default id is derived from the kind and target, e.g. "dns:privatbank.ua"
            object.__setattr__(self, "id", f"{self.kind}:{self.endpoint()}")  # type: ignore[attr-defined]
        if self.timeout >= self.interval:
            raise ValueError(
                f"timeout ({self.timeout:g}s) must be shorter than interval ({self.interval:g}s)"
            )
        if self.timeout <= 0:
            raise ValueError("timeout must be positive")
        return self


def _check_model(kind: str) -> type[BaseModel]:
    spec = KINDS[kind].model
    return create_model(f"{spec.__name__}Config", __base__=(CheckCommon, spec))


CHECK_MODELS: dict[str, type[BaseModel]] = {k: _check_model(k) for k in KINDS}
_CHECKS: Any = tuple(CHECK_MODELS.values())
Check = Annotated[Union[_CHECKS], Field(discriminator="kind")]  # noqa: UP007


class Service(_Frozen):
    """A thing people use and notices talk about."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)
    title: str = ""
    group: str = Field(default="other", pattern=r"^[a-z0-9][a-z0-9_-]*$")
    aliases: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    checks: list[Check] = Field(default_factory=list)

    @property
    def display(self) -> str:
        """Title if set, else name."""
        return self.title or self.name


class Vantage(_Frozen):
    """Where this instance probes from, and the canaries that tell whether it is itself offline."""

    name: str = Field(default="default", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    canaries: list[Check] = Field(default_factory=list)
    offline_ratio: float = Field(default=0.5, gt=0, le=1)


class Storage(_Frozen):
    """Where state lives and for how long results are kept."""

    path: str = "./outwatch.db"
    retention: Duration = 30 * 86400.0  # failed probe results: the evidence of outages
    success_retention: Duration = 2 * 86400.0  # successful ones, which are most of the rows
    history_retention: Duration | None = None  # outages, incidents, announcements: forever
    busy_timeout: Duration = 5.0  # how long a write waits for another process's lock
    url: SecretStr | None = None
    """postgresql://user:password@host/db: the fleet's shared decisions (absent: SQLite alone)."""

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, url: SecretStr | None) -> SecretStr | None:
        if url is not None and not url.get_secret_value().startswith(
            ("postgresql://", "postgres://")
        ):
            # never echo the value: it may carry a password
            raise ValueError("expected a postgresql:// URL")
        return url


class Fleet(_Frozen):
    """How instances sharing one storage.url decide together (ignored without it)."""

    quorum: int | Literal["majority"] = "majority"
    """How many vantages must see a service down for the fleet to call it down."""
    instance: str = Field(default="", pattern=r"^[A-Za-z0-9_.-]*$")
    """This instance's name in the fleet (default: the vantage, plus -<shard index> if sharded)."""
    stale_after: Duration = 30.0  # an instance silent this long is absent from the quorum
    spool_path: str = "./outwatch.spool"  # transitions kept while the database is unreachable
    spool_max_bytes: int = Field(default=64 * 1024 * 1024, ge=4096)

    @field_validator("quorum")
    @classmethod
    def _quorum_positive(cls, quorum: int | str) -> int | str:
        if isinstance(quorum, int) and quorum < 1:
            raise ValueError("expected a number of vantages (at least 1) or 'majority'")
        return quorum


def _bcrypt(value: SecretStr) -> SecretStr:
    if not _BCRYPT.match(value.get_secret_value()):
        # never echo the value: it may be a plain password put here by mistake
        raise ValueError("expected a bcrypt hash ($2b$12$... from `htpasswd -nbB` or bcrypt)")
    return value


_BCRYPT = re.compile(r"^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$")
BcryptHash = Annotated[
    SecretStr,
    AfterValidator(_bcrypt),
    WithJsonSchema(
        {"type": "string", "format": "password", "pattern": _BCRYPT.pattern, "writeOnly": True}
    ),
]


class WebAuth(_Frozen):
    """Who may use the API."""

    tokens: list[Secret] = Field(default_factory=list)
    basic: dict[Annotated[str, Field(min_length=1, pattern=r"^[^:\s]+$")], BcryptHash] = Field(
        default_factory=dict
    )  # user -> bcrypt hash
    protect_metrics: bool = False


class WebTls(_Frozen):
    """Serve the web endpoints over HTTPS."""

    cert_path: str
    key_path: str


class Web(_Frozen):
    """The HTTP server: metrics, health, API, status page."""

    listen: str = Field(
        default="127.0.0.1:9464",
        pattern=r"^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]*):\d{1,5}$",
        # the schema says the port's range too (the validator below says it in words)
        json_schema_extra={
            "pattern": r"^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]*):"
            r"([0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$"
        },
    )
    """host:port to listen on; 127.0.0.1 unless you mean to expose it."""
    external_url: str | None = None
    auth: WebAuth = WebAuth()
    tls: WebTls | None = None

    @field_validator("listen")
    @classmethod
    def _port_range(cls, value: str) -> str:
        port = int(value.rpartition(":")[2])
        if port > 65535:  # 0 is fine: any free port (the demo and tests use it)
            raise ValueError(f"port {port} is out of range: expected 0 to 65535")
        return value


# a source silent this long raises source_stale: official channels post at least daily
STALE_AFTER = 86400.0


# what `channels` accepts as written: a name, an id, or {name, service}
_CHANNEL_ITEM: dict[str, Any] = {
    "anyOf": [
        {"type": "string"},
        {"type": "integer"},
        {
            "type": "object",
            "properties": {
                "name": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                "service": {"type": "string"},
            },
            "required": ["name", "service"],
            "additionalProperties": False,
        },
    ]
}


class OwnChannel(_Frozen):
    """A channel that is a service's own: a notice there that names no service is about it."""

    name: str | int
    service: str


class Telegram(_Frozen):
    """A Telegram user account watching official channels."""

    api_id: int
    api_hash: Secret
    session: str = "./outwatch.session"
    # `{name: kyivstar_official, service: kyivstar}` entries become a name here and an entry
    # in `services`
    channels: list[str | int] = Field(min_length=1, json_schema_extra={"items": _CHANNEL_ITEM})
    services: dict[str, str] = Field(default_factory=dict)  # channel name -> its own service
    backfill_interval: Duration = 300.0
    # on each (re)connect the recent past is read again, so edits and deletions made while
    # the daemon was away are applied: messages of the last recheck_window, at most recheck_max
    recheck_window: Duration = 86400.0
    recheck_max: int = Field(default=200, ge=0)
    stale_after: Duration | None = STALE_AFTER

    @_model_validator(mode="before")
    @classmethod
    def _own_channels(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("channels"), list):
            return data
        names: list[Any] = []
        owners = dict(data.get("services") or {})
        for i, entry in enumerate(data["channels"]):
            if isinstance(entry, dict):
                try:
                    own = OwnChannel.model_validate(entry)
                except ValidationError as exc:
                    first = exc.errors()[0]
                    where = ".".join(str(x) for x in first["loc"])
                    what = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
                    raise ValueError(f"channels[{i}].{where}: {what}") from None
                names.append(own.name)
                owners[str(own.name)] = own.service
            else:
                names.append(entry)
        return {**data, "channels": names, "services": owners}


class Feed(_Frozen):
    """An RSS or Atom feed."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    url: str
    interval: Duration = 300.0
    stale_after: Duration | None = STALE_AFTER
    service: str | None = None  # the feed is this service's own


class Ingest(_Frozen):
    """The ingest API for other tools to forward notices."""

    tokens: list[Secret] = Field(default_factory=list)
    rate_limit_per_minute: int = Field(default=120, ge=1)
    services: dict[str, str] = Field(default_factory=dict)  # ingest source -> its own service


class Sources(_Frozen):
    """Where announcements come from."""

    telegram: Telegram | None = None
    feeds: list[Feed] = Field(default_factory=list)
    ingest: Ingest = Ingest()

    @_model_validator(mode="before")
    @classmethod
    def _rss_alias(cls, data: Any) -> Any:
        if isinstance(data, dict) and "rss" in data:
            data = dict(data)
            data["feeds"] = list(data.get("feeds") or []) + list(data.pop("rss") or [])
        return data

    def own_services(self) -> dict[str, str]:
        """Source name -> the service whose own source it is: Telegram channels by lower-case
        username without "@", feeds by name, ingest sources by their name (without a prefix)."""
        out: dict[str, str] = {}
        if self.telegram is not None:
            for name, svc in self.telegram.services.items():
                out[name.strip().removeprefix("@").lower()] = svc
        out.update({f.name: f.service for f in self.feeds if f.service})
        out.update(self.ingest.services)
        return out

    def own_service_places(self) -> list[tuple[str, str]]:
        """(config path, service) of every own-source declaration, to check the services exist."""
        places: list[tuple[str, str]] = []
        if self.telegram is not None:
            places += [
                (f"sources.telegram.channels[{n}]", s) for n, s in self.telegram.services.items()
            ]
        places += [
            (f"sources.feeds[{i}].service", f.service)
            for i, f in enumerate(self.feeds)
            if f.service
        ]
        places += [(f"sources.ingest.services.{n}", s) for n, s in self.ingest.services.items()]
        return places


class Correlation(_Frozen):
    """How observed outages and announcements are joined."""

    window_before: Duration = 2 * 3600.0
    window_after: Duration = 6 * 3600.0
    quiet_period: Duration = 15 * 60.0
    announce_grace: Duration = 30 * 60.0
    campaign_window: Duration = 30 * 60.0
    campaign_min_services: int = Field(default=3, ge=2)
    boost_interval: Duration = 10.0
    boost_for: Duration = 30 * 60.0


class Scheduler(_Frozen):
    """How many probes may run at once."""

    max_concurrency: int = Field(default=500, ge=1)


class Shard(_Frozen):
    """Probe only the checks whose stable hash falls in this shard."""

    index: int = Field(ge=0)
    total: int = Field(ge=1)

    @_model_validator(mode="after")
    def _in_range(self) -> Shard:
        if self.index >= self.total:
            raise ValueError(f"index {self.index} must be below total {self.total}")
        return self


class Config(_Frozen):
    """The whole validated config."""

    vantage: Vantage = Vantage()
    storage: Storage = Storage()
    web: Web = Web()
    defaults: Defaults = Defaults()
    scheduler: Scheduler = Scheduler()
    shard: Shard | None = None
    fleet: Fleet = Fleet()
    services: list[Service] = Field(default_factory=list)
    sources: Sources = Sources()
    correlation: Correlation = Correlation()
    alerts: alerts_config.AlertsConfig = alerts_config.AlertsConfig()
    # modules for /probe?module=, beside blackbox's defaults (monitor/probemodules.py)
    probe_modules: dict[str, ProbeModule] = Field(default_factory=dict)

    @_model_validator(mode="before")
    @classmethod
    def _vantage_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("vantage"), str):
            data = dict(data)
            data["vantage"] = {"name": data["vantage"]}
        return data

    @_model_validator(mode="after")
    def _own_services_exist(self) -> Config:
        names = {s.name for s in self.services}
        for where, svc in self.sources.own_service_places():
            if svc not in names:
                raise ValueError(f"{where}: no service named {svc!r}")
        return self

    def service(self, name: str) -> Service | None:
        """The service called `name`, if any."""
        return next((s for s in self.services if s.name == name), None)

    @property
    def instance(self) -> str:
        """This instance's name in a fleet."""
        if self.fleet.instance:
            return self.fleet.instance
        return self.vantage.name + (f"-{self.shard.index}" if self.shard else "")


class ConfigError(Exception):
    """The config is wrong; `problems` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _inject_defaults(data: dict[str, Any]) -> None:
    """Fill each check's missing schedule fields from `defaults:` before validation."""
    raw = data.get("defaults") or {}
    services = data.get("services") or []
    if not isinstance(raw, dict) or not isinstance(services, list):
        return  # reported with its path by the full validation
    try:
        defaults = Defaults.model_validate(raw)
    except ValidationError:
        return
    values = {k: raw.get(k, getattr(defaults, k)) for k in INHERITED}
    groups = [s.get("checks") for s in services if isinstance(s, dict)]
    vantage = data.get("vantage")
    if isinstance(vantage, dict):
        groups.append(vantage.get("canaries"))
    for checks in groups:
        for check in checks if isinstance(checks, list) else []:
            if isinstance(check, dict):
                for key, value in values.items():
                    check.setdefault(key, value)


def _clean_loc(loc: tuple[Any, ...], data: Any) -> Loc:
    """Drop pydantic's union tags (the `http` in services.0.checks.0.http.url) from a location."""
    out: list[str | int] = []
    node = data
    for part in loc:
        is_tag = isinstance(node, dict) and isinstance(part, str) and part not in node
        if is_tag and (node.get("kind") == part or str(part).startswith("function-")):
            continue
        out.append(part)
        node = (
            node.get(part)
            if isinstance(node, dict)
            else (
                node[part]
                if isinstance(node, list) and isinstance(part, int) and part < len(node)
                else None
            )
        )
    return tuple(out)


_MESSAGES = {
    "extra_forbidden": "unknown key",
    "missing": "required key is missing",
}
# What a pattern mismatch means, by the field's name, in words an operator can act on.
_PATTERN_HINTS = {
    "name": "use lower-case letters, digits, '-' and '_' (it becomes a metric label)",
    "group": "use lower-case letters, digits, '-' and '_' (it becomes a metric label)",
    "listen": "expected host:port, for example 127.0.0.1:9464",
    "id": "a check id cannot contain spaces, quotes or backslashes",
}


def _message(err: Any, loc: Loc) -> str:
    if err["type"] == "string_pattern_mismatch" and loc and str(loc[-1]) in _PATTERN_HINTS:
        return f"{err.get('input')!r}: {_PATTERN_HINTS[str(loc[-1])]}"
    return str(_MESSAGES.get(err["type"], err["msg"])).removeprefix("Value error, ")


def _where(name: str, lines: dict[Loc, int], loc: Loc) -> str:
    for cut in range(len(loc), -1, -1):
        if loc[:cut] in lines:
            return f"{name}:{lines[loc[:cut]]}"
    return name


def _semantic(cfg: Config) -> list[tuple[Loc, str]]:
    out: list[tuple[Loc, str]] = []
    seen: dict[str, int] = {}
    for i, svc in enumerate(cfg.services):
        if svc.name in seen:
            out.append(
                (
                    ("services", i, "name"),
                    f"duplicate service name {svc.name!r} (also services[{seen[svc.name]}])",
                )
            )
        seen.setdefault(svc.name, i)
        ids: set[str] = set()
        for j, check in enumerate(svc.checks):
            if check.id in ids:
                out.append(
                    (
                        ("services", i, "checks", j, "id"),
                        f"duplicate check id {check.id!r} in service {svc.name!r}",
                    )
                )
            ids.add(check.id)
    out.extend(alerts_config.problems(cfg.alerts))
    return out


def parse(
    text: str, name: str = "<config>", base: Path | None = None, lines: dict[Loc, int] | None = None
) -> Config:
    """Validate config text; raise ConfigError with one `file:line: path: message` per problem.

    `lines`, when given, is filled with the line of each key (for later messages).
    """
    lines = {} if lines is None else lines
    try:
        data, found = parse_yaml(text)
        lines.update(found)
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise SourceError(
                (),
                "the config must be a mapping of keys (vantage, services, ...)",
                lines.get((), 1),
            )
        data = substitute(data, base=base, secrets=secret_fields())
    except SourceError as exc:
        where = f"{name}:{exc.line}" if exc.line else _where(name, lines, exc.loc)
        prefix = f"{format_loc(exc.loc)}: " if exc.loc else ""
        raise ConfigError([f"{where}: {prefix}{exc.message}"]) from None
    _inject_defaults(data)
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = _clean_loc(err["loc"], data)
            msg = _message(err, loc)
            if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
                loc = (*loc, "kind")
                tags = err.get("ctx", {}).get("expected_tags", "")
                got = err.get("ctx", {}).get("tag")
                msg = (
                    f"unknown kind {got!r}; expected one of {tags}"
                    if got
                    else "required key is missing"
                )
            problems.append(f"{_where(name, lines, loc)}: {format_loc(loc)}: {msg}")
        raise ConfigError(problems) from None
    semantic = _semantic(cfg)
    if semantic:
        raise ConfigError(
            [f"{_where(name, lines, loc)}: {format_loc(loc)}: {m}" for loc, m in semantic]
        )
    return cfg


def load(path: str | Path) -> Config:
    """Read and validate a config file; warnings go to the log."""
    cfg, warnings = load_checked(path)
    for line in warnings:
        log.warning("%s", line)
    return cfg


def load_checked(path: str | Path) -> tuple[Config, list[str]]:
    """Read and validate a config file, check the files it names; return it and its warnings."""
    p = Path(path)
    cfg, lines = _load(p)
    problems = _file_problems(cfg)
    if problems:
        raise ConfigError(
            [f"{_where(str(p), lines, loc)}: {format_loc(loc)}: {m}" for loc, m in problems]
        )
    return cfg, [
        f"{_where(str(p), lines, loc)}: {format_loc(loc)}: {m}" for loc, m in warnings(cfg)
    ]


def _load(path: str | Path) -> tuple[Config, dict[Loc, int]]:
    p = Path(path)
    try:
        with p.open("rb") as f:
            raw = f.read(MAX_YAML_BYTES + 1)  # never more: a config is not gigabytes
        if len(raw) > MAX_YAML_BYTES:
            raise ConfigError([f"{p}: the config is larger than {MAX_YAML_BYTES // 1024**2} MB"])
        text = raw.decode("utf-8")
    except OSError as exc:
        raise ConfigError([f"{p}: cannot read config: {exc.strerror}"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{p}: the config is not UTF-8 text"]) from None
    lines: dict[Loc, int] = {}
    return parse(text, str(p), p.parent, lines), lines


def _unreadable(name: str) -> str:
    """Why the file cannot be read ('' when it can)."""
    try:
        with open(name, "rb") as f:
            f.read(1)
    except OSError as exc:
        return f"cannot read {name}: {exc.strerror or exc}"
    return ""


def _file_problems(cfg: Config) -> list[tuple[Loc, str]]:
    """Files the config names that `run` would fail on: checked here, so check-config does."""
    out: list[tuple[Loc, str]] = []
    checks: list[tuple[Loc, Any]] = [
        (("services", i, "checks", j), c)
        for i, s in enumerate(cfg.services)
        for j, c in enumerate(s.checks)
    ]
    checks += [(("vantage", "canaries", j), c) for j, c in enumerate(cfg.vantage.canaries)]
    for loc, check in checks:
        name = getattr(check, "ca_file", None)
        if name and (why := _unreadable(name)):
            out.append(((*loc, "ca_file"), why))
    tls = cfg.web.tls
    if tls is None:
        return out
    for key in ("cert_path", "key_path"):
        if why := _unreadable(getattr(tls, key)):
            out.append((("web", "tls", key), why))
    if not out:
        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
                tls.cert_path, tls.key_path
            )
        except (ssl.SSLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            out.append((("web", "tls"), f"not a usable PEM certificate and key: {reason}"))
    return out


def warnings(cfg: Config) -> list[tuple[Loc, str]]:
    """What is valid but probably not meant: tiny intervals, dead routes, nothing to probe."""
    out: list[tuple[Loc, str]] = []
    if not cfg.services:
        out.append((("services",), "no services: nothing will be probed"))
    groups: list[tuple[Loc, list[Any]]] = [
        (("services", i, "checks"), s.checks) for i, s in enumerate(cfg.services)
    ]
    groups.append((("vantage", "canaries"), cfg.vantage.canaries))
    for loc, checks in groups:
        for j, check in enumerate(checks):
            if check.interval < 1:
                out.append(
                    (
                        (*loc, j, "interval"),
                        f"interval {check.interval:g}s is under one second: is that meant?",
                    )
                )
    out.extend(_dead_routes(cfg))
    return out


def _dead_routes(cfg: Config) -> list[tuple[Loc, str]]:
    known = {
        "alertname": ALERTNAMES,
        "severity": SEVERITIES,
        "service": tuple(s.name for s in cfg.services),
        "group": tuple({s.group for s in cfg.services}),
        "vantage": (cfg.vantage.name,),
    }
    out: list[tuple[Loc, str]] = []

    def walk(route: alerts_config.RouteConfig, loc: Loc, dead: bool) -> None:
        for j, child in enumerate(route.routes):
            where = (*loc, "routes", j)
            why = _never(child, known)
            if why and not dead:
                out.append((where, f"this route matches no alert outwatch sends: {why}"))
            walk(child, where, dead or bool(why))

    walk(cfg.alerts.route, ("alerts", "route"), False)
    return out


def _never(route: alerts_config.RouteConfig, known: dict[str, tuple[str, ...]]) -> str:
    """Why no alert can match the route's own matchers ('' when one can)."""
    for label, value in route.match.items():
        if label in known and value not in known[label]:
            return f"no {label} is {value!r}"
    for label, pattern in route.match_re.items():
        if label in known and not any(re.fullmatch(pattern, v) for v in known[label]):
            return f"no {label} matches {pattern!r}"
    return ""


@functools.cache
def secret_fields() -> frozenset[str]:
    """Names of the fields that hold secrets: only these may be read from `<name>_file`."""
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for name, prop in (node.get("properties") or {}).items():
                if isinstance(prop, dict) and _is_secret(prop):
                    names.add(name)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(Config.model_json_schema(mode="validation"))
    return frozenset(names)


def _is_secret(prop: dict[str, Any]) -> bool:
    options = prop.get("anyOf", [prop])
    return any(o.get("format") == "password" for o in options)


def _add_file_siblings(node: Any) -> None:
    """Every secret `x` may be given as `x_file` (read by the loader); tell editors so."""
    if isinstance(node, dict):
        props = node.get("properties")
        if isinstance(props, dict):
            for name, prop in list(props.items()):
                if isinstance(prop, dict) and _is_secret(prop):
                    props[f"{name}_file"] = {
                        "type": "string",
                        "description": f"file holding {name}",
                    }
                    if name in node.get("required", []):
                        node["required"].remove(name)
                        node.setdefault("oneOf", []).append({"required": [name]})
                        node["oneOf"].append({"required": [f"{name}_file"]})
        for value in node.values():
            _add_file_siblings(value)
    elif isinstance(node, list):
        for value in node:
            _add_file_siblings(value)


# A string the loader expands from the environment (`${VAR}`, `${VAR:-default}`) before validation.
_ENV_STRING = {"type": "string", "pattern": r"\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}"}


def _allow_env(node: Any) -> Any:
    """Let every typed or patterned value also be a `${VAR}` string, as the loader accepts."""
    if isinstance(node, list):
        return [_allow_env(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = {k: _allow_env(v) for k, v in node.items()}
    typed = node.get("type") in ("integer", "number", "boolean") or "enum" in node
    if typed or (node.get("type") == "string" and "pattern" in node):
        keep = {k: node.pop(k) for k in ("default", "description", "title") if k in node}
        return {"anyOf": [node, _ENV_STRING], **keep}
    return node


def _add_shorthands(schema: dict[str, Any]) -> None:
    """Forms the loader rewrites before validation: `vantage: kyiv-1`, `sources.rss:`."""
    props = schema["properties"]
    name = Vantage.model_fields["name"].metadata[0].pattern
    props["vantage"] = {
        "anyOf": [{"$ref": "#/$defs/Vantage"}, {"type": "string", "pattern": name}],
        "description": "this instance's vantage, or just its name",
    }
    feeds = schema["$defs"]["Sources"]["properties"]["feeds"]
    schema["$defs"]["Sources"]["properties"]["rss"] = {**feeds, "description": "same as feeds"}


def json_schema() -> str:
    """The JSON Schema of the config, for editors."""
    schema = Config.model_json_schema(mode="validation")
    _add_file_siblings(schema)
    _add_shorthands(schema)
    schema = _allow_env(schema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "outwatch config"
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
