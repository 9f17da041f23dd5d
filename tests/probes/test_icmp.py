"""ICMP probe: loopback echo (v4, v6), a target that never answers, and a process ICMP is denied to.

The namespace tests start the probe in a fresh network namespace (unshare) where the test owns
the sysctl and the routes: 198.18.0.0/24 is routed into lo there, so its packets vanish without
an answer, and nothing leaves the machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from monitor.config import CHECK_MODELS
from probes import families
from probes.icmp import DENIED
from tests.conftest import require_binary
from tests.probes.servers import has_ipv6_loopback, run_probe

ROOT = Path(__file__).resolve().parents[2]
SILENT = "198.18.0.2"  # benchmarking range (RFC 2544): routed into lo, never answered
UNREACHABLE = "198.18.1.2"  # an `unreachable` route: the kernel refuses to send


def _gauges(result: Any) -> dict[str, float]:
    return {f.name + "/".join(labels): v for f, labels, v in result.gauges()}


@pytest.mark.parametrize(("target", "version"), [("127.0.0.1", 4), ("::1", 6), ("localhost", 4)])
async def test_echo_from_loopback(target: str, version: int) -> None:
    if version == 6 and not has_ipv6_loopback():
        pytest.skip("this machine has no ::1")
    result, _ = await run_probe("icmp", target=target, ip_version=str(version))
    assert result.ok, result
    assert set(result.phases) == {"resolve", "setup", "rtt"}
    assert result.detail.startswith(f"echo reply from {'::1' if version == 6 else '127.0.0.1'}")
    g = _gauges(result)
    assert g["probe_ip_protocol"] == version
    assert g["probe_icmp_reply_hop_limit"] == 64  # Linux's default TTL, untouched on lo
    assert {"probe_icmp_durationresolve", "probe_icmp_durationsetup"} <= {
        k.replace("_seconds", "") for k in g
    }


def test_config_rejects_a_port() -> None:
    model = CHECK_MODELS["icmp"]
    with pytest.raises(ValidationError, match="without a port"):
        model.model_validate({"kind": "icmp", "target": "example.org:443"})
    check = model.model_validate({"kind": "icmp", "target": "[::1]"})
    assert (check.target, check.id) == ("::1", "icmp:::1")


def _in_namespace(ping_groups: str, *targets: str) -> list[dict[str, Any]]:
    """Run the probe without CAP_NET_RAW in a new network namespace with this ping_group_range."""
    unshare = require_binary("unshare")
    setpriv = require_binary("setpriv")
    script = (
        "set -e; ip link set lo up; ip route add 198.18.0.0/24 dev lo; "
        "ip route add unreachable 198.18.1.0/24; "
        f"echo '{ping_groups}' > /proc/sys/net/ipv4/ping_group_range; "
        f'exec {setpriv} --bounding-set -net_raw --inh-caps -net_raw "$@"'
    )
    cmd = [unshare, "--net", "sh", "-c", script, "sh", sys.executable]
    cmd += ["-m", "tests.probes.icmp_netns", *targets]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    if done.returncode != 0:
        why = done.stderr.strip().splitlines()[-1:] or ["no output"]
        if os.environ.get("CI") == "true":
            pytest.fail(f"cannot run a probe in a network namespace: {why[0]}")
        pytest.skip(f"cannot run a probe in a network namespace: {why[0]}")
    return list(json.loads(done.stdout))


def test_unprivileged_echo_and_a_target_that_never_answers() -> None:
    v4, v6, silent, unreachable = _in_namespace(
        "0 2147483647", "127.0.0.1", "::1", SILENT, UNREACHABLE
    )
    assert (v4["ok"], v4["privileged"]) == (True, False), v4  # datagram ICMP, no raw socket
    assert v4["gauges"]["probe_icmp_reply_hop_limit"] == 64
    assert (v6["ok"], v6["privileged"]) == (True, False), v6
    assert (silent["ok"], silent["error"]) == (False, "timeout"), silent
    assert silent["detail"] == "no answer within 0.5s (during rtt)"
    # blackbox reports the address choice and all phases on a timeout, and no hop limit
    assert silent["gauges"]["probe_ip_protocol"] == 4
    assert "probe_icmp_reply_hop_limit" not in silent["gauges"]
    assert {"probe_icmp_duration_secondsresolve", "probe_icmp_duration_secondsrtt"} <= set(
        silent["gauges"]
    )
    assert (unreachable["error"], unreachable["detail"]) == ("unreachable", "network unreachable")


def test_denied_when_neither_datagram_nor_raw_icmp_is_allowed() -> None:
    (denied,) = _in_namespace("1 0", "127.0.0.1")  # "1 0": no group may open datagram ICMP
    assert (denied["ok"], denied["error"], denied["detail"]) == (False, "permission", DENIED)


def test_families_are_blackbox_names() -> None:
    assert families.ICMP_DURATION.name == "probe_icmp_duration_seconds"
    assert families.ICMP_PHASES == ("resolve", "setup", "rtt")
