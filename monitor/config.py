"""The config: YAML validated once into frozen models; every error names its path and line."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    create_model,
    field_validator,
)
from pydantic import model_validator as _model_validator

from alerts import config as alerts_config
from alerts.base import Duration
from monitor.yamlsrc import Loc, SourceError, format_loc, parse_yaml, substitute
from probes.registry import KINDS


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


class WebAuth(_Frozen):
    """Who may use the API."""

    tokens: list[SecretStr] = Field(default_factory=list)
    basic: dict[str, SecretStr] = Field(default_factory=dict)  # user -> bcrypt hash
    protect_metrics: bool = False


class WebTls(_Frozen):
    """Serve the web endpoints over HTTPS."""

    cert_path: str
    key_path: str


class Web(_Frozen):
    """The HTTP server: metrics, health, API, status page."""

    listen: str = Field(
        default="127.0.0.1:9464", pattern=r"^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]*):\d{1,5}$"
    )
    """host:port to listen on; 127.0.0.1 unless you mean to expose it."""
    external_url: str | None = None
    auth: WebAuth = WebAuth()
    tls: WebTls | None = None


class Telegram(_Frozen):
    """A Telegram user account watching official channels."""

    api_id: int
    api_hash: SecretStr
    session: str = "./outwatch.session"
    channels: list[str | int] = Field(min_length=1)
    backfill_interval: Duration = 300.0


class Feed(_Frozen):
    """An RSS or Atom feed."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    url: str
    interval: Duration = 300.0


class Ingest(_Frozen):
    """The ingest API for other tools to forward notices."""

    tokens: list[SecretStr] = Field(default_factory=list)
    rate_limit_per_minute: int = Field(default=120, ge=1)


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

    @_model_validator(mode="before")
    @classmethod
    def _vantage_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("vantage"), str):
            data = dict(data)
            data["vantage"] = {"name": data["vantage"]}
        return data

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


def parse(text: str, name: str = "<config>", base: Path | None = None) -> Config:
    """Validate config text; raise ConfigError with one `file:line: path: message` per problem."""
    lines: dict[Loc, int] = {}
    try:
        data, lines = parse_yaml(text)
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
    """Read and validate a config file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{p}: cannot read config: {exc.strerror}"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{p}: the config is not UTF-8 text"]) from None
    return parse(text, str(p), p.parent)


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


def json_schema() -> str:
    """The JSON Schema of the config, for editors."""
    schema = Config.model_json_schema(mode="validation")
    _add_file_siblings(schema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "outwatch config"
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
