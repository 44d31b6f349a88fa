"""The build manifest: what ``wheelship build`` produced, and all later jobs read.

``dist/wheelship-manifest.json``::

    {"schema": 1, "name": "tsff", "version": "1.2.3", "commit": "<sha>", "tag": "v1.2.3",
     "files": [{"name": "tsff-1.2.3-py3-none-any.whl", "kind": "wheel", "size": 1234,
                "sha256": "..."}, ...]}
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, cast, get_args

from wheelship.building.integrity import bare_name
from wheelship.errors import ArtifactError, ConfigurationError
from wheelship.files import write_atomic

MANIFEST_NAME = "wheelship-manifest.json"
SCHEMA = 1
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


DistKind = Literal["wheel", "sdist"]


def _kind(value: object) -> DistKind:
    if value not in get_args(DistKind):
        raise ValueError(f"file kind {value!r} is neither wheel nor sdist")
    return cast(DistKind, value)


@dataclass(frozen=True)
class DistFile:
    name: str
    kind: DistKind
    size: int
    sha256: str

    @classmethod
    def of(cls, path: Path) -> DistFile:
        kind: DistKind = "wheel" if path.name.endswith(".whl") else "sdist"
        return cls(name=path.name, kind=kind, size=path.stat().st_size, sha256=sha256_file(path))


@dataclass(frozen=True)
class Manifest:
    name: str
    version: str
    commit: str | None = None
    tag: str | None = None
    files: tuple[DistFile, ...] = field(default_factory=tuple)

    def wheel(self) -> DistFile:
        wheels = [f for f in self.files if f.kind == "wheel"]
        if len(wheels) != 1:
            raise ConfigurationError(
                f"the manifest lists {len(wheels)} wheels, expected exactly one",
                "rebuild with 'wheelship build'",
            )
        return wheels[0]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["files"] = [asdict(f) for f in self.files]
        return {"schema": SCHEMA, **data}

    def write(self, dist_dir: Path) -> Path:
        text = json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n"
        return write_atomic(dist_dir / MANIFEST_NAME, text, fix="choose another output directory")

    @classmethod
    def load(cls, dist_dir: Path) -> Manifest:
        path = dist_dir / MANIFEST_NAME if dist_dir.is_dir() or not dist_dir.suffix else dist_dir
        if not path.is_file():
            raise ConfigurationError(
                f"no build manifest at {path}",
                "run 'wheelship build' first, or pass the dist directory it wrote (--dist)",
            )
        try:
            data = json.loads(path.read_text())
            if not isinstance(data, dict):
                raise ValueError(f"expected a JSON object, got {type(data).__name__}")
            if data.get("schema") != SCHEMA:
                raise ValueError(f"unsupported schema {data.get('schema')!r}")
            files = tuple(
                DistFile(
                    name=str(f["name"]),
                    kind=_kind(f["kind"]),
                    size=int(f["size"]),
                    sha256=str(f["sha256"]),
                )
                for f in data["files"]
            )
            for f in files:
                if not bare_name(f.name):
                    raise ValueError(
                        f"file name {f.name!r} is not a bare file name (no folders, no '..')"
                    )
            return cls(
                name=str(data["name"]),
                version=str(data["version"]),
                commit=data.get("commit"),
                tag=data.get("tag"),
                files=files,
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(
                f"{path}: not a valid wheelship manifest ({exc})", "rebuild with 'wheelship build'"
            ) from None

    def verify(self, dist_dir: Path) -> None:
        """Every listed file exists in ``dist_dir`` with the recorded size and sha256. A missing
        or altered file is bad input (exit 2), like a corrupt one (integrity)."""
        for f in self.files:
            path = dist_dir / f.name
            if not path.is_file():
                raise ArtifactError(
                    f"{path} is listed in the manifest but missing",
                    "pass the artifacts of the build job, or rebuild",
                )
            if path.stat().st_size != f.size or sha256_file(path) != f.sha256:
                raise ArtifactError(
                    f"{path} changed since it was built (sha256 differs from the manifest)",
                    "rebuild with 'wheelship build'",
                )
