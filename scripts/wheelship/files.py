"""Output files written whole: a reader (a later CI job, an artifact upload, a parallel build)
never sees half a file, and a path that cannot be written is one error line with nothing left
behind — not a traceback, not a stray temporary file.
"""

from __future__ import annotations

import os
from pathlib import Path

from wheelship.errors import ConfigurationError


def check_writable(path: Path, *, what: str = "", fix: str = "choose another path") -> Path:
    """Refuse, before any work is done, a file path that cannot be written: a directory, or a
    file in a directory that does not exist. Returns the absolute path."""
    target = path.absolute()
    if target.is_dir():
        raise ConfigurationError(f"cannot write {what}{path}: it is a directory", fix)
    if not target.parent.is_dir():
        raise ConfigurationError(
            f"cannot write {what}{path}: directory {target.parent} does not exist",
            f"create it or {fix}",
        )
    return target


def write_atomic(
    path: Path,
    data: str | bytes,
    *,
    what: str = "",
    fix: str = "choose another path",
    make_parents: bool = False,
) -> Path:
    """Write ``data`` to ``path`` through a temporary file renamed into place.

    ``what`` names the file in messages (``"the report "``); ``make_parents`` creates missing
    directories first (a report path) instead of refusing them (a dotenv path given by mistake).
    """
    try:
        if make_parents:
            path.absolute().parent.mkdir(parents=True, exist_ok=True)
        target = check_writable(path, what=what, fix=fix)
    except OSError as exc:
        raise ConfigurationError(f"cannot write {what}{path}: {exc.strerror or exc}", fix) from None
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    try:
        if isinstance(data, str):
            tmp.write_text(data, encoding="utf-8")
        else:
            tmp.write_bytes(data)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigurationError(f"cannot write {what}{path}: {exc.strerror or exc}", fix) from None
    return path
