"""Build an sdist, then the wheel from that sdist, with one PEP 517 backend in one process.

wheelship runs this file with the build environment's interpreter (so: standard library only,
and alone in its directory, so nothing here shadows a module the backend imports). It saves a
second interpreter start and backend import compared with one process per hook; wheelship uses
it only for backends known to build repeatedly in one process and only once their extra build
requirements are known to be installed.

Usage: ``python run_backend.py REQUEST.json RESULT.json`` where the request names the backend
(``module:object``), the source directory, the output directory and an empty directory to unpack
the sdist into.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import tarfile
from typing import Any


def _load(spec: str) -> Any:
    module_name, _, attrs = spec.partition(":")
    obj: Any = importlib.import_module(module_name)
    for attr in filter(None, attrs.split(".")):
        obj = getattr(obj, attr)
    return obj


def main(request_path: str, result_path: str) -> int:
    with open(request_path, encoding="utf-8") as fh:
        request = json.load(fh)
    outdir = request["outdir"]
    os.chdir(request["source"])
    backend = _load(request["backend"])
    sdist = backend.build_sdist(outdir, None)
    with tarfile.open(os.path.join(outdir, sdist), "r:gz") as tf:
        tf.extractall(request["unpack"], filter="data")
    tops = os.listdir(request["unpack"])
    if len(tops) != 1:
        raise SystemExit(f"{sdist} has {len(tops)} top-level entries, expected one directory")
    unpacked = os.path.join(request["unpack"], tops[0])
    os.chdir(unpacked)
    wheel = backend.build_wheel(outdir, None, None)
    with open(result_path, "w", encoding="utf-8") as fh:
        json.dump({"sdist": sdist, "wheel": wheel, "unpacked": unpacked}, fh)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1], sys.argv[2]))
