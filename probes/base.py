"""Shared probe types: the result, the error classes, the check model base and the probe protocol."""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
import time
from array import array
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from itertools import chain, repeat
from typing import Any, ClassVar, Literal, Protocol, cast

from pydantic import BaseModel, ConfigDict

# The one fixed list of error classes; metrics, alerts and correlation rely on these names.
ErrorClass = Literal[
    "timeout",  # no answer within the check's timeout
    "dns",  # the name did not resolve (NXDOMAIN, SERVFAIL, no answer)
    "refused",  # connection refused
    "reset",  # connection reset or closed mid-exchange
    "unreachable",  # no route / network unreachable
    "tls",  # handshake failed, bad certificate, wrong host
    "http_status",  # a status outside the expected ones (503, 429, ...)
    "content",  # body did (not) match the expected pattern, wrong DNS answer
    "redirect",  # too many redirects or a redirect loop
    "protocol",  # the peer spoke something that is not the protocol
    "permission",  # the OS forbids the probe here (ICMP without ping_group_range or CAP_NET_RAW)
    "error",  # anything else; always a bug worth reporting
]
ERROR_CLASSES: tuple[ErrorClass, ...] = ErrorClass.__args__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True, eq=False)
class Family:
    """A gauge family a probe reports (blackbox_exporter's name, help and extra label names).

    Each is one module-level constant: compared and hashed by identity, which keeps a gauge's
    dict key cheap (a probe sets ~15 per run).
    """

    name: str
    doc: str
    labels: tuple[str, ...] = ()


Sample = tuple[Family, tuple[str, ...], float]  # family, its label values, value


# A run's gauges in the order set: a Family (unlabelled) or (Family, label values) per value.
Layout = tuple[Family | tuple[Family, tuple[str, ...]], ...]
_LAYOUTS: dict[Layout, Layout] = {}  # one copy of each layout: checks of one kind share it


def _shared(layout: Layout) -> Layout:
    known = _LAYOUTS.get(layout)
    if known is not None:
        return known
    if len(_LAYOUTS) < 4096:  # labelled layouts can be per check (certificate labels): bounded
        _LAYOUTS[layout] = layout
    return layout


class Carried:
    """What one probe run reported beyond ok and duration: its gauges, and where its phases go.

    Kept compact, as every check's latest result holds one: the families and label values
    (shared by the checks of one kind) and the values as one array of doubles, not a tuple of
    (family, labels, value) triples with a float object each (~1 KB a result -> ~250 bytes).
    """

    __slots__ = ("_layout", "_plain", "_values", "phase_family", "phase_names")

    def __init__(
        self,
        samples: Iterable[Sample] = (),
        phase_family: Family | None = None,  # one gauge per phase name, labelled `phase`
        phase_names: tuple[str, ...] = (),
    ) -> None:
        rows = tuple(samples)
        layout: Layout = tuple(f if not lv else (f, lv) for f, lv, _ in rows)
        plain = next((i for i, (_, lv, _) in enumerate(rows) if lv), len(rows))
        values = array("d", [v for _, _, v in rows])
        self._set(layout, plain, values, phase_family, phase_names)

    @classmethod
    def of(
        cls,
        layout: Layout,
        plain: int,
        values: array[float],
        family: Family | None,
        names: tuple[str, ...],
    ) -> Carried:
        """From a layout whose first `plain` entries are unlabelled and its values (the
        recorder's path: no triples in between)."""
        new = cls.__new__(cls)
        new._set(layout, plain, values, family, names)
        return new

    def _set(
        self,
        layout: Layout,
        plain: int,
        values: array[float],
        family: Family | None,
        names: tuple[str, ...],
    ) -> None:
        self._layout, self._plain, self._values = _shared(layout), plain, values
        self.phase_family, self.phase_names = family, names

    def __iter__(self) -> Iterator[Sample]:
        """The gauges as (family, label values, value), in the order they were set."""
        layout, plain, values = self._layout, self._plain, self._values
        # the unlabelled ones (most) as triples built in C: zip stops after `plain`
        head = cast(Iterator[Sample], zip(layout, repeat((), plain), values, strict=False))
        return head if plain == len(layout) else chain(head, self._rest())

    def _rest(self) -> Iterator[Sample]:
        layout, values = self._layout, self._values
        for i in range(self._plain, len(layout)):
            entry = layout[i]
            if isinstance(entry, Family):
                yield entry, (), values[i]
            else:
                yield entry[0], entry[1], values[i]

    @property
    def samples(self) -> tuple[Sample, ...]:
        """The gauges as (family, label values, value), in the order they were set."""
        return tuple(self)

    def _key(self) -> tuple[Any, ...]:
        # the values' bytes: equal as stored (a NaN equals itself, -0.0 is not 0.0)
        return (self._layout, self._values.tobytes(), self.phase_family, self.phase_names)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Carried) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Carried({self.samples!r}, {self.phase_family!r}, {self.phase_names!r})"


class Gauges:
    """Collects one probe run's gauges as it goes, so a failed or timed-out run still has them.

    Like blackbox_exporter's per-probe registry: a value set early (the IP protocol) survives a
    later timeout, and families a prober always registers are set to 0 up front.
    """

    __slots__ = ("_labelled", "_plain", "phase_family", "phase_names")

    def __init__(self) -> None:
        # most families are unlabelled: keyed by the family alone, no key tuple per set()
        self._plain: dict[Family, float] = {}
        self._labelled: dict[tuple[Family, tuple[str, ...]], float] = {}
        self.phase_family: Family | None = None
        self.phase_names: tuple[str, ...] = ()

    def set(self, family: Family, value: float, *labels: str) -> None:
        """Set one gauge (label values in the order of family.labels)."""
        if labels:
            self._labelled[(family, labels)] = float(value)
        else:
            self._plain[family] = float(value)

    def set_many(self, values: Mapping[Family, float]) -> None:
        """Set several unlabelled gauges at once (a prober's fixed starting values)."""
        self._plain.update(values)

    def has(self, family: Family) -> bool:
        """Whether any gauge of `family` was set in this run."""
        return family in self._plain or any(k[0] is family for k in self._labelled)

    def phases(self, family: Family, names: tuple[str, ...]) -> None:
        """Report the run's phase timings as `family{phase}`, one gauge per name (0 if not reached)."""
        self.phase_family, self.phase_names = family, names

    def carried(self) -> Carried:
        """An immutable snapshot for a ProbeResult."""
        plain, labelled = self._plain, self._labelled
        values = array("d", plain.values())
        if labelled:
            values.extend(labelled.values())
            layout: Layout = (*plain, *labelled)
            return Carried.of(layout, len(plain), values, self.phase_family, self.phase_names)
        return Carried.of(tuple(plain), len(plain), values, self.phase_family, self.phase_names)


# Set by the caller around one probe run (phase_scope), read by probes and by ProbeResult.
_GAUGES: ContextVar[Gauges | None] = ContextVar("outwatch_probe_gauges", default=None)


def gauges() -> Gauges:
    """The gauge recorder of the probe run in progress (a throwaway one outside the caller's scope)."""
    return _GAUGES.get() or Gauges()


def _carried_now() -> Carried:
    recorder = _GAUGES.get()
    return recorder.carried() if recorder is not None else _NOTHING


_NOTHING = Carried()


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One run of a check: ok or not, why, and how long each phase took (seconds)."""

    ok: bool
    error: ErrorClass | None = None
    detail: str = ""
    duration: float = 0.0
    phases: Mapping[str, float] = field(default_factory=dict)
    status_code: int | None = None
    cert_expiry: float | None = None  # earliest notAfter the peer sent (leaf, intermediates)
    extra: Mapping[str, Any] = field(default_factory=dict)
    # built inside the caller's phase_scope, a result picks up the gauges the run has set so far
    carried: Carried = field(default_factory=_carried_now)

    def gauges(self) -> Iterator[Sample]:
        """Every gauge this run reports, phase timings included (from the final phases)."""
        family = self.carried.phase_family
        if family is None:
            return iter(self.carried)
        return chain(self.carried, self._phase_gauges(family))

    def _phase_gauges(self, family: Family) -> Iterator[Sample]:
        for name in self.carried.phase_names:
            yield family, (name,), float(self.phases.get(name, 0.0))


class ProbeFailure(Exception):
    """Raised by a probe for an expected, classified failure."""

    def __init__(
        self,
        error: ErrorClass,
        detail: str,
        *,
        phases: Mapping[str, float] | None = None,
        status_code: int | None = None,
        cert_expiry: float | None = None,
    ) -> None:
        super().__init__(f"{error}: {detail}")
        self.error: ErrorClass = error
        self.detail = detail
        self.phases = dict(phases or {})
        self.status_code = status_code
        self.cert_expiry = cert_expiry

    def result(self) -> ProbeResult:
        """The failed ProbeResult this failure stands for."""
        return ProbeResult(
            ok=False,
            error=self.error,
            detail=self.detail,
            phases=self.phases,
            status_code=self.status_code,
            cert_expiry=self.cert_expiry,
        )


def error_class(exc: BaseException) -> ErrorClass:
    """Map an exception a probe let through to an error class (the caller's job, shared here)."""
    if isinstance(exc, ProbeFailure):
        return exc.error
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "timeout"
    if isinstance(exc, socket.gaierror):
        return "dns"
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return "tls"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ConnectionResetError | BrokenPipeError | asyncio.IncompleteReadError):
        return "reset"
    if isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return "unreachable"
    if isinstance(exc, OSError) and exc.errno == errno.ECONNREFUSED:
        return "refused"
    if isinstance(exc, OSError) and exc.errno in (errno.ECONNRESET, errno.EPIPE):
        return "reset"
    return "error"


class CheckSpec(BaseModel):
    """Base of every probe kind's settings model; the probe sees only its own fields.

    Scheduling fields (id, interval, timeout, thresholds) are added by monitor.config.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    # the field an on-demand probe's target fills (blackbox's ?target=): host:port by default
    target_field: ClassVar[str] = "target"

    kind: str

    def endpoint(self) -> str:
        """What this check probes, as a person would write it (URL, host:port, name)."""
        raise NotImplementedError


@dataclass
class ProbeContext:
    """Shared, long-lived resources probes may reuse (SSL contexts, resolvers); owned by the caller."""

    ssl_contexts: dict[Any, ssl.SSLContext] = field(default_factory=dict)
    resources: dict[str, Any] = field(default_factory=dict)


class ProbeFn(Protocol):
    """The one probe signature: I/O only; the caller applies the timeout and measures time."""

    def __call__(self, check: Any, ctx: ProbeContext, /) -> Awaitable[ProbeResult]: ...


@dataclass(frozen=True)
class ProbeKind:
    """A registry entry: the kind's name, its settings model and its probe function."""

    name: str
    model: type[CheckSpec]
    probe: Callable[[Any, ProbeContext], Awaitable[ProbeResult]]


class Phases:
    """Times a probe's phases in order; the caller reads how far a probe got if it timed out."""

    __slots__ = ("_since", "current", "done")

    def __init__(self) -> None:
        self.done: dict[str, float] = {}
        self.current: str | None = None
        self._since = 0.0

    def begin(self, name: str) -> None:
        """End the running phase (if any) and start `name`; repeated names add up (redirects)."""
        now = time.perf_counter()
        if self.current is not None:
            self.done[self.current] = self.done.get(self.current, 0.0) + now - self._since
        self.current, self._since = name, now

    def end(self) -> dict[str, float]:
        """End the running phase and return all finished phases."""
        if self.current is not None:
            self.begin(self.current)  # adds the elapsed time
            self.current = None
        return self.done


# Set by the caller around one probe run, so a timeout can still report the phases reached.
_PHASES: ContextVar[Phases | None] = ContextVar("outwatch_probe_phases", default=None)


def phases() -> Phases:
    """The phase timer of the probe run in progress (a fresh one outside the caller's scope)."""
    return _PHASES.get() or Phases()


Tokens = tuple[Token[Phases | None], Token[Gauges | None]]


def enter_scope() -> tuple[Phases, Tokens]:
    """Make a fresh phase timer and gauge recorder current (the caller's hot path; pair with
    leave_scope in a finally)."""
    timer = Phases()
    return timer, (_PHASES.set(timer), _GAUGES.set(Gauges()))


def leave_scope(tokens: Tokens) -> None:
    """Undo enter_scope."""
    _GAUGES.reset(tokens[1])
    _PHASES.reset(tokens[0])


@contextmanager
def phase_scope() -> Iterator[Phases]:
    """Make a fresh phase timer and gauge recorder current for one probe run (used by the caller)."""
    timer, tokens = enter_scope()
    try:
        yield timer
    finally:
        leave_scope(tokens)
