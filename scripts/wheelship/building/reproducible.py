"""Byte-identical archives: fixed timestamps, normalised permissions and owners, stable order.

Backends honour ``SOURCE_DATE_EPOCH`` for timestamps, but file modes still come from the checkout
(umask, core.fileMode) and tar headers carry the builder's user and group, so two machines — or a
developer's clone and a CI clone — produce different bytes for the same commit. Rewriting the
archive headers (never the file contents, so a wheel's RECORD stays valid) removes that.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import time
import zipfile
from pathlib import Path

from wheelship.files import write_atomic

# ZIP cannot store dates before 1980.
_ZIP_EPOCH = 315532800


def _mode(executable: bool, directory: bool = False) -> int:
    return 0o755 if executable or directory else 0o644


def _wanted_attr(info: zipfile.ZipInfo) -> int:
    is_dir = info.is_dir()
    mode = (info.external_attr >> 16) & 0o777
    kind = 0o040000 if is_dir else 0o100000
    return ((kind | _mode(bool(mode & 0o111), is_dir)) << 16) | (0x10 if is_dir else 0)


def normalize_wheel(path: Path, epoch: int) -> None:
    """Rewrite the wheel with entry dates at ``epoch`` and modes 0644/0755, order unchanged.

    Backends that honour SOURCE_DATE_EPOCH usually leave nothing to do; then the (possibly
    large) wheel is not recompressed at all.
    """
    date_time = time.gmtime(max(epoch, _ZIP_EPOCH))[:6]
    with zipfile.ZipFile(path) as src:
        if all(
            i.date_time == date_time and i.create_system == 3 and i.external_attr == _wanted_attr(i)
            for i in src.infolist()
        ):
            return
    buf = io.BytesIO()
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            out = zipfile.ZipInfo(info.filename, date_time=date_time)
            out.create_system = 3  # unix, so the mode bits are honoured by installers
            out.external_attr = _wanted_attr(info)
            out.compress_type = zipfile.ZIP_STORED if info.is_dir() else zipfile.ZIP_DEFLATED
            dst.writestr(out, data)
    data = buf.getvalue()
    if data != path.read_bytes():
        _write(path, data)


def normalize_sdist(path: Path, epoch: int) -> None:
    """Rewrite the .tar.gz sorted by name, owner root/root, mtime ``epoch``, gzip header fixed."""
    raw = io.BytesIO()
    with tarfile.open(path, "r:gz") as src:
        members = sorted(src.getmembers(), key=lambda m: m.name)
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as dst:
            for member in members:
                fh = src.extractfile(member) if member.isfile() else None
                member.uid = member.gid = 0
                member.uname = member.gname = ""
                member.mtime = epoch
                member.pax_headers = {}
                member.mode = _mode(bool(member.mode & 0o111), member.isdir())
                dst.addfile(member, fh)
    gz = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=gz, mtime=epoch, compresslevel=9) as out:
        out.write(raw.getvalue())
    data = gz.getvalue()
    if data != path.read_bytes():
        _write(path, data)


def _write(path: Path, data: bytes) -> None:
    write_atomic(path, data, what="the normalised archive ")
