"""Console output: results on stdout, progress and warnings on stderr.

Every line passes through :func:`redact`, so a secret registered with :func:`register_secret`
never reaches the log, even when an upstream error message echoes it. In GitLab CI
(``GITLAB_CI=true``) :func:`section` emits collapsible log sections.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

_secrets: set[str] = set()
_write_lock = threading.Lock()
_MIN_SECRET_LEN = 4


def register_secret(value: str | None) -> None:
    """Never print ``value`` from now on, nor the value without surrounding whitespace (a token
    pasted with a trailing newline shows up escaped in error texts, its core unchanged)."""
    if not value:
        return
    for form in (value, value.strip()):
        if len(form) >= _MIN_SECRET_LEN:
            _secrets.add(form)


def is_registered(value: str) -> bool:
    """Whether ``value`` is (or carries) a registered secret."""
    return any(secret in value for secret in _secrets)


def redact(text: str) -> str:
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, "[MASKED]")
    return text


def verbose() -> bool:
    return os.environ.get("WHEELSHIP_VERBOSE", "").lower() in {"1", "true", "yes", "on"}


def _emit(stream: TextIO, text: str) -> None:
    # One write per line under a lock: print() writes the text and the newline separately, so
    # lines from worker threads (deploy's concurrent job and cluster calls) ran together.
    line = redact(text) + "\n"
    with _write_lock:
        stream.write(line)
        stream.flush()


def result(text: str) -> None:
    """A result line on stdout (what scripts capture)."""
    _emit(sys.stdout, text)


def info(text: str) -> None:
    _emit(sys.stderr, text)


def debug(text: str) -> None:
    if verbose():
        _emit(sys.stderr, f"debug: {text}")


def warn(text: str) -> None:
    _emit(sys.stderr, f"warning: {text}")


def in_gitlab() -> bool:
    return os.environ.get("GITLAB_CI", "").lower() == "true"


_SECTION_NAME = re.compile(r"[^a-zA-Z0-9_.-]")


@contextmanager
def section(name: str, title: str, *, collapsed: bool = True) -> Iterator[None]:
    """A collapsible GitLab log section; a plain heading line elsewhere."""
    key = _SECTION_NAME.sub("_", name)
    if in_gitlab():
        flag = "[collapsed=true]" if collapsed else ""
        _emit(sys.stderr, f"\x1b[0Ksection_start:{int(time.time())}:{key}{flag}\r\x1b[0K{title}")
    else:
        _emit(sys.stderr, f"==> {title}")
    try:
        yield
    finally:
        if in_gitlab():
            _emit(sys.stderr, f"\x1b[0Ksection_end:{int(time.time())}:{key}\r\x1b[0K")
