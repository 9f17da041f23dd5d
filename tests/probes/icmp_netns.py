"""Run ICMP probes and print their results as JSON (started by test_icmp inside a network namespace).

Usage: python3 -m tests.probes.icmp_netns TARGET...
"""

from __future__ import annotations

import asyncio
import json
import sys

from tests.probes.servers import run_probe


async def main(targets: list[str]) -> None:
    """Probe each target once and print one JSON list."""
    out = []
    for target in targets:
        result, _ = await run_probe("icmp", target=target, timeout=0.5)
        out.append(
            {
                "target": target,
                "ok": result.ok,
                "error": result.error,
                "detail": result.detail,
                "privileged": result.extra.get("privileged"),
                "gauges": {f.name + "/".join(labels): v for f, labels, v in result.gauges()},
            }
        )
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
