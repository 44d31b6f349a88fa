"""The deploy reliability suite: ``python ci/reliability.py [--quick] [--json FILE]``.

Runs R1 (deploys under 20% injected faults), R2 (deploys killed with SIGKILL at each step
boundary and at random moments, then rerun), R5 (pairs of concurrent deploys of two versions)
and P (a shared workspace with partial permissions) against the emulator on loopback, and
prints the figures. Not a timed test: the full run takes several minutes; ``--quick`` is the
size CI runs (tests/integration/deploy/test_reliability.py). What each scenario proves:
tests/support/reliability.py. Exit 1 when any scenario has a failure.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support import reliability  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the CI size")
    parser.add_argument("--r1", type=int, default=200, help="R1 deploys")
    parser.add_argument("--r2-steps", type=int, default=33, help="R2 kills at step boundaries")
    parser.add_argument("--r2-random", type=int, default=130, help="R2 kills at random moments")
    parser.add_argument("--r5", type=int, default=20, help="R5 concurrent pairs")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    if args.quick:
        args.r1, args.r2_steps, args.r2_random, args.r5 = 10, 3, 2, 2
    progress = sys.stderr
    # the deploys run in this process: their own log lines are not the figures
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        figures = reliability.run_all(
            r1_count=args.r1,
            r2_boundaries=args.r2_steps,
            r2_random=args.r2_random,
            r5_pairs=args.r5,
            seed0=args.seed,
            log=lambda line: print(line, file=progress, flush=True),
        )
    print(reliability.dump_yaml(figures))
    if args.json:
        args.json.write_text(json.dumps([f.to_json() for f in figures], indent=2) + "\n")
    return 0 if all(f.ok for f in figures) else 1


if __name__ == "__main__":
    raise SystemExit(main())
