"""Open a wheel before it leaves: a file that is uploaded is never taken back.

A released version is never overwritten (deploy and the index both refuse other bytes under a
taken name), so a corrupt wheel that is uploaded burns its version: the good rebuild is then
refused as "other bytes". Deploy and publish therefore check, before any upload, that the wheel
is a readable zip whose every member passes its CRC, that ``RECORD`` lists every file with the
sha256 and size it has, and that ``METADATA`` names the distribution and version the file name
and the build manifest name. The manifest's own file names must be bare names.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
import zipfile
import zlib
from pathlib import Path

from packaging.utils import (
    InvalidWheelFilename,
    canonicalize_name,
    canonicalize_version,
    parse_wheel_filename,
)

from wheelship.errors import ArtifactError

_FIX = "rebuild with 'wheelship build' and deploy or publish that build"
#: Files RECORD does not list with a hash (itself, and the signatures of a signed wheel).
_UNHASHED = re.compile(r"[^/]+\.dist-info/(RECORD|RECORD\.jws|RECORD\.p7s)")


def bare_name(name: str) -> bool:
    """A plain file name: no directory part, no parent reference, nothing hidden."""
    return (
        bool(name)
        and name not in {".", ".."}
        and not name.startswith(".")
        and not any(c in name for c in "/\\\x00:")
        and name == name.strip()
    )


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def check_wheel(path: Path, name: str, version: str) -> None:
    """Raise :class:`ArtifactError` unless ``path`` is an intact wheel of ``name`` ``version``."""
    fname = path.name
    try:
        dist, wversion, _build, _tags = parse_wheel_filename(fname)
    except InvalidWheelFilename as exc:
        raise ArtifactError(f"{fname} is not a wheel file name ({exc})", _FIX) from None
    if dist != canonicalize_name(name) or canonicalize_version(wversion) != canonicalize_version(
        version
    ):
        raise ArtifactError(
            f"{fname} is not a wheel of {name} {version} (the file name says {dist} {wversion})",
            _FIX,
        )
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
            if bad is not None:
                raise ArtifactError(f"{fname}: {bad} fails its CRC check (a corrupt file)", _FIX)
            _check_record(zf, fname)
            _check_metadata(zf, fname, name, version)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, OSError, EOFError) as exc:
        raise ArtifactError(f"{fname} is not a readable zip archive ({exc})", _FIX) from None


def _dist_info(zf: zipfile.ZipFile, fname: str, leaf: str) -> str:
    found = [n for n in zf.namelist() if re.fullmatch(rf"[^/]+\.dist-info/{leaf}", n)]
    if len(found) != 1:
        raise ArtifactError(f"{fname} has {len(found)} .dist-info/{leaf} files, expected one", _FIX)
    return found[0]


def _check_record(zf: zipfile.ZipFile, fname: str) -> None:
    record = _dist_info(zf, fname, "RECORD")
    listed: dict[str, tuple[str, str]] = {}
    text = zf.read(record).decode("utf-8", errors="replace")
    for row in csv.reader(io.StringIO(text)):
        if not row:
            continue
        if len(row) != 3:
            raise ArtifactError(f"{fname}: RECORD has a malformed line {row!r}", _FIX)
        listed[row[0]] = (row[1], row[2])
    members = [i for i in zf.infolist() if not i.is_dir()]
    for info in members:
        if _UNHASHED.fullmatch(info.filename):
            continue
        entry = listed.get(info.filename)
        if entry is None:
            raise ArtifactError(f"{fname}: {info.filename} is not listed in RECORD", _FIX)
        algo, _, expected = entry[0].partition("=")
        if algo != "sha256" or not expected:
            raise ArtifactError(
                f"{fname}: RECORD has no sha256 for {info.filename} ({entry[0] or 'empty'})", _FIX
            )
        data = zf.read(info)
        if _b64(hashlib.sha256(data).digest()) != expected:
            raise ArtifactError(
                f"{fname}: {info.filename} does not match its RECORD hash (the file was altered)",
                _FIX,
            )
        if entry[1] and entry[1] != str(len(data)):
            raise ArtifactError(
                f"{fname}: {info.filename} is {len(data)} bytes, RECORD says {entry[1]}", _FIX
            )
    names = {i.filename for i in members}
    missing = sorted(n for n in listed if n not in names)
    if missing:
        raise ArtifactError(
            f"{fname}: RECORD lists {missing[0]}, which is not in the wheel"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""),
            _FIX,
        )


def _check_metadata(zf: zipfile.ZipFile, fname: str, name: str, version: str) -> None:
    raw = zf.read(_dist_info(zf, fname, "METADATA")).decode("utf-8", errors="replace")
    fields: dict[str, str] = {}
    for line in raw.splitlines():
        if not line.strip():
            break  # the headers end at the first blank line; the description follows
        key, sep, value = line.partition(":")
        if sep and key in {"Name", "Version"} and key not in fields:
            fields[key] = value.strip()
    meta_name, meta_version = fields.get("Name", ""), fields.get("Version", "")
    if canonicalize_name(meta_name) != canonicalize_name(name):
        raise ArtifactError(
            f"{fname}: METADATA names {meta_name or 'no distribution'}, not {name}", _FIX
        )
    if canonicalize_version(meta_version or "?") != canonicalize_version(version):
        raise ArtifactError(
            f"{fname}: METADATA says version {meta_version or 'none'}, the file name and the "
            f"manifest say {version}",
            _FIX,
        )
