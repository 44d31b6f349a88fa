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


def tamper_dist(dist: Path, how: str) -> None:
    """Spoil the wheel of a dist directory, then write a manifest that matches the spoiled file
    (what a broken build, or a hand-made dist, hands over): ``altered`` changes a module but
    keeps the RECORD; ``crc`` flips a byte inside a member; ``version`` makes METADATA claim
    another version; ``escape`` names the wheel ``../<name>`` in the manifest."""
    import json

    wheel = next(dist.glob("*.whl"))
    manifest_path = dist / "wheelship-manifest.json"
    if how == "escape":
        data = json.loads(manifest_path.read_text())
        data["files"][0]["name"] = "../" + wheel.name
        manifest_path.write_text(json.dumps(data))
        return
    if how == "crc":
        raw = bytearray(wheel.read_bytes())
        with zipfile.ZipFile(wheel) as zf:
            info = zf.getinfo(zf.namelist()[0])
        start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
        raw[start + 2] ^= 0xFF  # inside the member's data: its CRC no longer holds
        wheel.write_bytes(bytes(raw))
    else:
        with zipfile.ZipFile(wheel) as zf:
            members = {n: zf.read(n) for n in zf.namelist()}
        for n in members:
            if how == "altered" and n.endswith("/cli.py"):
                members[n] += b"# altered after the build\n"
            if how == "version" and n.endswith(".dist-info/METADATA"):
                members[n] = members[n].replace(b"Version: ", b"Version: 9")
        wheel.unlink()
        if how == "version":
            # a consistent RECORD: only METADATA tells the lie
            info = next(n for n in members if n.endswith(".dist-info/RECORD"))
            lines = [_record_line(n, d) for n, d in members.items() if n != info]
            members[info] = ("\n".join([*lines, f"{info},,"]) + "\n").encode()
        with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for n, d in members.items():
                zf.writestr(zipfile.ZipInfo(n, date_time=_DATE), d)
    data = json.loads(manifest_path.read_text())
    data["files"][0]["size"] = wheel.stat().st_size
    data["files"][0]["sha256"] = hashlib.sha256(wheel.read_bytes()).hexdigest()
    manifest_path.write_text(json.dumps(data))
