"""Finding the series selectors of a PromQL expression that are not scoped to outwatch's series."""

from __future__ import annotations

import re

# A raw outwatch or blackbox-named series (not a recording rule's output, whose name has colons),
# with its matchers if it has any.
_SELECTOR = re.compile(
    r"(?<![\w:])(?P<name>(?:outwatch|probe)_\w+)(?![\w:])(?:\{(?P<matchers>[^}]*)\})?"
)
SCOPE = 'vantage!=""'


def unscoped(expr: str) -> list[str]:
    """The selectors in `expr` of outwatch/probe_ series that lack the `vantage!=""` matcher."""
    out = []
    for m in _SELECTOR.finditer(expr):
        matchers = [part.strip() for part in (m["matchers"] or "").split(",")]
        if SCOPE not in matchers:
            out.append(m.group(0))
    return out
