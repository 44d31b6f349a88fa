"""One command for every benchmark: ``python ci/bench.py [SECTION ...] [--runs N] [--large]``.

Each ``tests/benchmarks/bench_<section>.py`` exposes ``TITLE`` and
``run(runs: int) -> list[Table]``; this prints every table, side by side comparisons with ratios,
measured in this one run on this machine.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "tests" / "benchmarks"
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(ROOT / "tests"))

from benchlib import Table  # noqa: E402


def sections() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in BENCH_DIR.glob("bench_*.py"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sections", nargs="*", help=f"default: all of {', '.join(sections())}")
    parser.add_argument("--runs", type=int, default=5, help="repetitions per measurement")
    parser.add_argument(
        "--large",
        action="store_true",
        help="the long scenarios instead (deploy: ten times the scale over three workspaces, "
        "about 10 minutes)",
    )
    args = parser.parse_args()
    chosen = args.sections or sections()
    unknown = set(chosen) - set(sections())
    if unknown:
        parser.error(f"unknown section(s) {', '.join(sorted(unknown))}")
    for name in chosen:
        module = importlib.import_module(f"bench_{name}")
        print(f"\n## {module.TITLE}\n", flush=True)
        if args.large and "large" not in inspect.signature(module.run).parameters:
            print("(no --large scenario: skipped)\n", flush=True)
            continue
        tables: list[Table] = (
            module.run(args.runs, large=True) if args.large else module.run(args.runs)
        )
        for table in tables:
            print(table.markdown(), flush=True)
            print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
