"""``python -m wheelship.demo.make_example DEST``: the tagged example repository at DEST."""

from __future__ import annotations

import sys
from pathlib import Path

from wheelship.demo.project import example_project
from wheelship.errors import WheelshipError


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m wheelship.demo.make_example DEST", file=sys.stderr)
        return 2
    try:
        print(example_project(Path(args[0])))
    except WheelshipError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
