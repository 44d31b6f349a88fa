"""One namespace of files and directories (Volumes, the workspace tree, DBFS).

The tree holds metadata only; bodies live in the blob store. Services translate the plain Python
exceptions raised here into each API's own error codes, because the three APIs disagree about
them (404 NOT_FOUND vs RESOURCE_DOES_NOT_EXIST, 409 vs 400 for conflicts).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any


class NotEmptyError(OSError):
    """A directory still has children."""


def normalize(path: str) -> str:
    """An absolute, clean path; ``ValueError`` for relative paths or ``..`` components."""
    if not path or not path.startswith("/"):
        raise ValueError(f"Path ({path}) must be absolute")
    if "\x00" in path:
        raise ValueError("Path must not contain NUL characters")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ValueError(f"Path ({path}) must not contain '..' components")
    return "/" + "/".join(parts)


def parent_of(path: str) -> str:
    return posixpath.dirname(path) or "/"


@dataclass
class Node:
    path: str
    is_dir: bool
    created_ms: int
    modified_ms: int
    object_id: int
    blob_id: str | None = None
    size: int = 0
    object_type: str = ""  # workspace: FILE, NOTEBOOK, DIRECTORY, LIBRARY
    language: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Node:
        return cls(**data)


class FileTree:
    def __init__(self, ids: Iterator[int]) -> None:
        self._ids = ids
        self.nodes: dict[str, Node] = {}
        self.children: dict[str, set[str]] = {}

    # -- reading -------------------------------------------------------------------------------
    def get(self, path: str) -> Node | None:
        return self.nodes.get(path)

    def list_dir(self, path: str) -> list[Node]:
        return [self.nodes[c] for c in sorted(self.children.get(path, ()))]

    def blocking_file(self, path: str, top: str = "/") -> str | None:
        """Where ``mkdir -p path`` fails: the nearest existing node on the way from ``path`` up
        to ``top`` when it is a file, else None. Nothing can exist below a file, so the nearest
        existing node is the only one that can be a file."""
        probe = path
        while True:
            node = self.nodes.get(probe)
            if node is not None:
                return None if node.is_dir else probe
            if probe in (top, "/"):
                return None
            probe = parent_of(probe)

    def walk_files(self, prefix: str = "/") -> Iterator[Node]:
        for path in sorted(self.nodes):
            node = self.nodes[path]
            if not node.is_dir and (
                prefix == "/" or path == prefix or path.startswith(prefix + "/")
            ):
                yield node

    # -- writing -------------------------------------------------------------------------------
    def _link(self, node: Node) -> None:
        self.nodes[node.path] = node
        if node.path != "/":
            self.children.setdefault(parent_of(node.path), set()).add(node.path)
        if node.is_dir:
            self.children.setdefault(node.path, set())

    def mkdirs(self, path: str, now_ms: int, object_type: str = "DIRECTORY") -> Node:
        """mkdir -p; ``NotADirectoryError`` when a file sits on the path or one of its parents."""
        node = self.nodes.get(path)
        if node is not None:
            if not node.is_dir:
                raise NotADirectoryError(path)
            return node
        if path != "/":
            self.mkdirs(parent_of(path), now_ms, object_type)
        node = Node(
            path=path,
            is_dir=True,
            created_ms=now_ms,
            modified_ms=now_ms,
            object_id=next(self._ids),
            object_type=object_type,
        )
        self._link(node)
        return node

    def put_file(
        self,
        path: str,
        blob_id: str,
        size: int,
        now_ms: int,
        *,
        overwrite: bool,
        create_parents: bool,
        object_type: str = "FILE",
        language: str | None = None,
    ) -> str | None:
        """Store a file; returns the replaced blob id (for the caller to delete).

        ``FileNotFoundError``: parent missing (and not created); ``NotADirectoryError``: a file
        on the parent path; ``IsADirectoryError``: a directory at ``path``;
        ``FileExistsError``: a file at ``path`` and not ``overwrite``.
        """
        parent = parent_of(path)
        parent_node = self.nodes.get(parent)
        if parent_node is None:
            if not create_parents:
                raise FileNotFoundError(parent)
            self.mkdirs(parent, now_ms)
        elif not parent_node.is_dir:
            raise NotADirectoryError(parent)
        old = self.nodes.get(path)
        if old is not None:
            if old.is_dir:
                raise IsADirectoryError(path)
            if not overwrite:
                raise FileExistsError(path)
            old.blob_id, replaced = blob_id, old.blob_id
            old.size = size
            old.modified_ms = now_ms
            old.object_type = object_type
            old.language = language
            return replaced
        self._link(
            Node(
                path=path,
                is_dir=False,
                created_ms=now_ms,
                modified_ms=now_ms,
                object_id=next(self._ids),
                blob_id=blob_id,
                size=size,
                object_type=object_type,
                language=language,
            )
        )
        return None

    def delete(self, path: str, *, recursive: bool) -> list[str]:
        """Remove a file or directory; returns the blob ids to delete.

        ``FileNotFoundError``: nothing there; ``NotEmptyError``: non-empty directory without
        ``recursive``."""
        node = self.nodes.get(path)
        if node is None:
            raise FileNotFoundError(path)
        if node.is_dir and self.children.get(path) and not recursive:
            raise NotEmptyError(path)
        blobs: list[str] = []
        self._remove(node, blobs)
        return blobs

    def _remove(self, node: Node, blobs: list[str]) -> None:
        for child in list(self.children.get(node.path, ())):
            self._remove(self.nodes[child], blobs)
        self.children.pop(node.path, None)
        if node.path != "/":
            self.children.get(parent_of(node.path), set()).discard(node.path)
        del self.nodes[node.path]
        if node.blob_id:
            blobs.append(node.blob_id)

    # -- persistence ---------------------------------------------------------------------------
    def to_json(self) -> list[dict[str, Any]]:
        return [self.nodes[p].to_json() for p in sorted(self.nodes)]

    def load_json(self, items: list[dict[str, Any]]) -> None:
        self.nodes.clear()
        self.children.clear()
        for item in items:  # sorted: parents come before children
            self._link(Node.from_json(item))
