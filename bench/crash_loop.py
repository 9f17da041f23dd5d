"""The crash-safety test, longer: more SIGKILLs and another seed (figures printed by the test).

python bench/crash_loop.py [--kills 100] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEST = "tests/integration/test_crash_safety.py"


def main() -> int:
    """Run the crash test with more kills; its last output line has the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    env = {
        **os.environ,
        "OUTWATCH_CRASH_KILLS": str(args.kills),
        "OUTWATCH_CRASH_SEED": str(args.seed),
    }
    cmd = [sys.executable, "-m", "pytest", TEST, "-q", "-s", "-p", "no:cacheprovider"]
    return subprocess.run(cmd, cwd=ROOT, env=env, check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main())
