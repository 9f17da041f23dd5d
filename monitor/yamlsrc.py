"""YAML loading that remembers the line of every key, and ${ENV} / *_file substitution."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

Loc = tuple[str | int, ...]
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_ENV = re.compile(r"\$(\$|\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\})")


class SourceError(Exception):
    """One problem in the input, with where it is."""

    def __init__(self, loc: Loc, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message
        self.line = line


def format_loc(loc: Loc) -> str:
    """('services', 2, 'checks', 0, 'url') -> 'services[2].checks[0].url'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _lines(node: yaml.Node, loc: Loc, lines: dict[Loc, int], problems: list[SourceError]) -> None:
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                line = key_node.start_mark.line + 1
                problems.append(SourceError(loc + (key,), "duplicate key", line))
            seen.add(key)
            lines[loc + (key,)] = key_node.start_mark.line + 1
            _lines(value_node, loc + (key,), lines, problems)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _lines(item, loc + (i,), lines, problems)


# A 100,000-check config is about 10 MB; anchors in real configs (`<<: *defaults`) add a few
# hundred nodes. A "billion laughs" adds billions: it is refused before anything walks it.
MAX_YAML_BYTES = 64 * 1024 * 1024
MAX_ALIAS_NODES = 100_000
MAX_DEPTH = 100  # a config nests about eight levels


def _alias_growth(root: yaml.Node) -> int:
    """How many nodes the aliases add when expanded (counted once per distinct node: linear).

    Raises SourceError for an alias inside its own anchor (a cycle), which never ends expanding.
    """
    size: dict[int, int] = {}
    active: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            active.discard(key)
            size[key] = 1 + sum(size[id(c)] for c in children)
            continue
        if key in size:
            continue
        if key in active:
            line = node.start_mark.line + 1
            raise SourceError((), "not valid YAML: an alias refers to its own anchor", line)
        active.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in size)
    return size[id(root)] - len(size)


def _check_depth(text: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH before composing: libyaml's composer recurses in C,
    and a few thousand `[` crash the process instead of raising."""
    loader = _Loader(text)
    depth = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, _OPEN):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    line = mark.line + 1 if mark is not None else None
                    raise SourceError((), f"not valid YAML: nested deeper than {MAX_DEPTH}", line)
            elif isinstance(event, _CLOSE):
                depth -= 1
    finally:
        loader.dispose()


_OPEN = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_CLOSE = (yaml.SequenceEndEvent, yaml.MappingEndEvent)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def parse_yaml(text: str) -> tuple[Any, dict[Loc, int]]:
    """Parse one YAML document; return the data and a map of each key's line."""
    if len(text) > MAX_YAML_BYTES:
        raise SourceError((), f"larger than {MAX_YAML_BYTES // 1024**2} MB", 1)
    # one pass: compose the node tree (which knows each key's line), then build the data from it;
    # libyaml's loader when present (a 100,000-check config parses several times faster)
    loader = _Loader(text)
    try:
        _check_depth(text)
        node = loader.get_single_node()
        if node is not None and _alias_growth(node) > MAX_ALIAS_NODES:
            raise SourceError(
                (),
                f"not valid YAML: aliases expand to more than {MAX_ALIAS_NODES} nodes",
                node.start_mark.line + 1,
            )
        data = loader.construct_document(node) if node is not None else None
    except RecursionError:
        raise SourceError((), "not valid YAML: nested too deeply", None) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        line = mark.line + 1 if mark is not None else None
        raise SourceError((), f"not valid YAML: {problem}", line) from None
    finally:
        loader.dispose()
    lines: dict[Loc, int] = {}
    problems: list[SourceError] = []
    if node is not None:
        try:
            _lines(node, (), lines, problems)
        except RecursionError:
            raise SourceError((), "not valid YAML: nested too deeply", None) from None
    if problems:
        raise problems[0]
    return data, lines


def substitute(
    data: Any,
    loc: Loc = (),
    env: Mapping[str, str] | None = None,
    base: Path | None = None,
    secrets: frozenset[str] | None = None,
) -> Any:
    """Replace ${VAR} (and ${VAR:-default}) in strings and read `*_file` keys into their base key."""
    env = os.environ if env is None else env
    if isinstance(data, dict):
        out: dict[Any, Any] = {}
        for key, value in data.items():
            if (
                isinstance(key, str)
                and key.endswith("_file")
                and isinstance(value, str)
                and (secrets is None or key.removesuffix("_file") in secrets)
            ):
                name = key.removesuffix("_file")
                if name in data:
                    raise SourceError(loc + (key,), f"set either {name} or {key}, not both")
                path = Path(substitute(value, loc + (key,), env, base))
                if base is not None and not path.is_absolute():
                    path = base / path
                shown = str(path) if str(path).isprintable() else repr(str(path))  # one line
                try:
                    out[name] = path.read_text(encoding="utf-8").strip()
                except OSError as exc:
                    raise SourceError(
                        loc + (key,), f"cannot read {shown}: {exc.strerror}"
                    ) from None
                except UnicodeDecodeError:
                    raise SourceError(
                        loc + (key,), f"cannot read {shown}: not UTF-8 text"
                    ) from None
                except ValueError:  # a NUL in the path: no file can be named so
                    raise SourceError(
                        loc + (key,), f"cannot read {shown}: not a file name"
                    ) from None
            else:
                out[key] = substitute(value, loc + (str(key),), env, base, secrets)
        return out
    if isinstance(data, list):
        return [substitute(v, loc + (i,), env, base, secrets) for i, v in enumerate(data)]
    if isinstance(data, str) and "$" in data:
        return _expand(data, loc, env)
    return data


def _expand(text: str, loc: Loc, env: Mapping[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group(1) == "$":
            return "$"
        name, default = match.group(2), match.group(3)
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise SourceError(loc, f"environment variable {name} is not set")

    return _ENV.sub(one, text)
