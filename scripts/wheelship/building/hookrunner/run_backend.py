"""Build an sdist, then the wheel from that sdist, with one PEP 517 backend in one process.

wheelship runs this file with the build environment's interpreter (so: standard library only,
and alone in its directory, so nothing here shadows a module the backend imports). It saves a
second interpreter start and backend import compared with one process per hook; wheelship uses
it only for backends known to build repeatedly in one process.

With ``"ask": true`` in the request (a new build environment: the backend's extra requirements
are not known yet) it also asks ``get_requires_for_build_sdist`` before the sdist and
``get_requires_for_build_wheel`` (in the unpacked sdist) before the wheel, and reports both
answers; at the first non-empty answer it stops before that build, because only wheelship can
judge (with ``packaging``, which is not here) whether the environment satisfies it. Backends
that need nothing more — the common case — thus build cold in one process as well.

Usage: ``python run_backend.py REQUEST.json RESULT.json`` where the request names the backend
(``module:object``), the source directory, the output directory and an empty directory to unpack
the sdist into. The result names the sdist and the wheel (None when not built) and the answers.
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


def _requires(backend: Any, hook: str) -> list[str]:
    """A PEP 517 get_requires_for_build_* answer (the optional hook absent: nothing)."""
    ask = getattr(backend, hook, None)
    return [str(r) for r in ask(None)] if ask is not None else []


def main(request_path: str, result_path: str) -> int:
    with open(request_path, encoding="utf-8") as fh:
        request = json.load(fh)
    result: dict[str, Any] = {"sdist": None, "wheel": None, "unpacked": None, "requires": {}}
    try:
        _build(request, result)
    except BaseException:
        # which distribution failed, for wheelship's error line; the traceback goes to stderr
        result["failed"] = "wheel" if result["sdist"] else "sdist"
        raise
    finally:
        with open(result_path, "w", encoding="utf-8") as fh:
            json.dump(result, fh)
    return 0


def _build(request: dict[str, Any], result: dict[str, Any]) -> None:
    outdir = request["outdir"]
    ask = bool(request.get("ask"))
    os.chdir(request["source"])
    backend = _load(request["backend"])
    if ask:
        result["requires"]["sdist"] = _requires(backend, "get_requires_for_build_sdist")
        if result["requires"]["sdist"]:
            return
    sdist = backend.build_sdist(outdir, None)
    result["sdist"] = sdist
    with tarfile.open(os.path.join(outdir, sdist), "r:gz") as tf:
        tf.extractall(request["unpack"], filter="data")
    tops = os.listdir(request["unpack"])
    if len(tops) != 1:
        raise SystemExit(f"{sdist} has {len(tops)} top-level entries, expected one directory")
    unpacked = os.path.join(request["unpack"], tops[0])
    result["unpacked"] = unpacked
    os.chdir(unpacked)
    if ask:
        result["requires"]["wheel"] = _requires(backend, "get_requires_for_build_wheel")
        if result["requires"]["wheel"]:
            return
    result["wheel"] = backend.build_wheel(outdir, None, None)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1], sys.argv[2]))
