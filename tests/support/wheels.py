"""Small valid wheels of any name and version, made in milliseconds (no build backend).

Deploy tests need many versions of a package; what a deploy checks of a wheel is its name,
bytes and hash, so a hand-made but valid wheel (METADATA, WHEEL, RECORD, an entry point for a
``python_wheel_task``) stands in for a real build. The build tests and the demo use real builds.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

from wheelship.building.manifest import DistFile, Manifest

_DATE = (2026, 1, 1, 0, 0, 0)


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def make_wheel(
    folder: Path, name: str, version: str, *, payload: bytes = b"", size: int = 0
) -> Path:
    """Write ``{name}-{version}-py3-none-any.whl`` into ``folder``. ``payload`` changes the
    bytes without changing the name; ``size`` pads the wheel with incompressible data."""
    folder.mkdir(parents=True, exist_ok=True)
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    files: dict[str, bytes] = {
        f"{dist}/__init__.py": f"__version__ = {version!r}\nPAYLOAD = {payload!r}\n".encode(),
        f"{dist}/cli.py": b"def main() -> int:\n    print('ok')\n    return 0\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: wheelship-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/entry_points.txt": f"[console_scripts]\n{name} = {dist}.cli:main\n".encode(),
    }
    if size:
        files[f"{dist}/blob.bin"] = hashlib.shake_256(
            f"{name}{version}{payload!r}".encode()
        ).digest(size)
    record = [_record_line(n, d) for n, d in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = folder / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(
        path, "w", compression=zipfile.ZIP_STORED if size else zipfile.ZIP_DEFLATED
    ) as zf:
        for n, d in files.items():
            zf.writestr(zipfile.ZipInfo(n, date_time=_DATE), d)
    return path


def make_dist(
    folder: Path, name: str, version: str, *, payload: bytes = b"", size: int = 0
) -> Path:
    """A dist directory with one wheel and ``wheelship-manifest.json`` (what ``wheelship
    build`` leaves behind)."""
    wheel = make_wheel(folder, name, version, payload=payload, size=size)
    Manifest(
        name=name, version=version, commit="0" * 40, tag=f"v{version}", files=(DistFile.of(wheel),)
    ).write(folder)
    return folder
