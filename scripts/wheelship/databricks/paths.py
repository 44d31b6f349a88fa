"""Artifact paths in the three storage kinds, and one canonical form to compare references.

Libraries and jobs reference workspace files as ``/Workspace/...`` while the Workspace API
speaks ``/...``; DBFS paths come as ``dbfs:/x``, ``/dbfs/x`` (the FUSE mount) or ``/x``. All of
them are compared in :func:`canonical` form.
"""

from __future__ import annotations

import posixpath


def join(folder: str, name: str) -> str:
    """The reference path of file ``name`` in the artifacts ``folder``."""
    return f"{folder.rstrip('/')}/{name}"


def canonical(path: str) -> str:
    text = path.strip()
    if text.startswith("dbfs:"):
        return "dbfs:" + posixpath.normpath("/" + text[len("dbfs:") :].lstrip("/"))
    if text.startswith("/dbfs/"):
        return "dbfs:" + posixpath.normpath(text[len("/dbfs") :])
    if text.startswith("/") and not text.startswith(("/Volumes/", "/Workspace/")):
        # A bare absolute path in a library spec is a workspace path on current runtimes.
        return "/Workspace" + posixpath.normpath(text)
    return posixpath.normpath(text) if text.startswith("/") else text


def basename(path: str) -> str:
    return posixpath.basename(path.split("#", 1)[0].split("?", 1)[0])
