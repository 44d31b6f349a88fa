"""Checks on built files: ``twine check --strict`` equivalent, file names, versions.

Runs in-process on the metadata inside each file (no twine subprocess): the metadata must parse
and validate as core metadata (what twine and the index enforce), the long description must be
present with a content type, and reStructuredText must render — ``twine check --strict`` fails
on exactly these. The wheel's file name must follow the wheel naming convention for the
distribution and version, because Databricks and pip read name and version from the file name.
"""

from __future__ import annotations

import email.message
import io
import re
import tarfile
import zipfile
from pathlib import Path

from packaging.metadata import InvalidMetadata, Metadata, parse_email
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from wheelship import log
from wheelship.errors import BuildError


def read_metadata(path: Path) -> bytes:
    """METADATA of a wheel or PKG-INFO of an sdist."""
    try:
        if path.name.endswith(".whl"):
            with zipfile.ZipFile(path) as zf:
                names = [n for n in zf.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)]
                if len(names) != 1:
                    raise BuildError(
                        f"{path.name} has {len(names)} .dist-info/METADATA files, expected one",
                        "check the build backend's configuration",
                    )
                return zf.read(names[0])
        with tarfile.open(path, "r:gz") as tf:
            members = [
                m for m in tf.getmembers() if re.fullmatch(r"[^/]+/PKG-INFO", m.name) and m.isfile()
            ]
            if len(members) != 1:
                raise BuildError(
                    f"{path.name} has no top-level PKG-INFO", "check the build backend"
                )
            fh = tf.extractfile(members[0])
            assert fh is not None
            return fh.read()
    except (zipfile.BadZipFile, tarfile.TarError, OSError) as exc:
        raise BuildError(f"{path.name} is not a readable archive ({exc})", "rebuild") from None


def _render_rst(text: str) -> str | None:
    """None when it renders; else the first docutils complaint (twine's message style)."""
    import readme_renderer.rst

    stream = io.StringIO()
    if readme_renderer.rst.render(text, stream=stream) is not None:
        return None
    for line in stream.getvalue().splitlines():
        m = re.match(r"^<string>:(\d*): \((\w+)/\d\) (.*)", line)
        if m:
            return f"line {m.group(1)}: {m.group(2).capitalize()}: {m.group(3)}"
    return stream.getvalue().strip().splitlines()[0] if stream.getvalue().strip() else "invalid"


MISSING_DESCRIPTION_FIX = 'set readme = "README.md" in [project] of pyproject.toml'


def twine_check(path: Path, *, strict: bool = True, warn: bool = True) -> Metadata:
    """Raise BuildError where ``twine check --strict`` would fail; return the metadata.

    Without ``strict`` a missing long description is only a warning (when ``warn``): indexes
    accept it (PyPI shows an empty project page) and internal packages often have none. Every
    other failure stays an error: PyPI rejects a description that does not render."""
    raw, unparsed = parse_email(read_metadata(path))
    fail = f"{path.name} fails twine check --strict"
    if unparsed:
        field = sorted(unparsed)[0]
        raise BuildError(
            f"{fail}: metadata field {field!r} is unknown or malformed",
            "fix the project metadata",
        )
    try:
        meta = Metadata.from_raw(raw, validate=True)
    except ExceptionGroup as group:
        first = group.exceptions[0]
        what = first.field if isinstance(first, InvalidMetadata) else "metadata"
        raise BuildError(f"{fail}: invalid {what}: {first}", "fix the project metadata") from None
    description = meta.description
    if not description or description.rstrip() == "UNKNOWN":
        if strict:
            raise BuildError(f"{fail}: long_description missing", MISSING_DESCRIPTION_FIX)
        if warn:
            log.warn(
                f"{path.name} has no long description (twine check --strict would fail; the "
                f"index shows an empty project page) — {MISSING_DESCRIPTION_FIX}"
            )
        return meta
    if not meta.description_content_type:
        raise BuildError(
            f"{fail}: long_description_content_type missing",
            "give the readme file a .md or .rst suffix, or set readme.content-type",
        )
    msg = email.message.EmailMessage()
    msg["content-type"] = meta.description_content_type
    if msg.get_content_type() == "text/x-rst" and (problem := _render_rst(description)):
        raise BuildError(
            f"{fail}: long_description has syntax errors in markup and would not be rendered on "
            f"PyPI ({problem})",
            "fix the readme so it renders (python -m readme_renderer README.rst shows where)",
        )
    return meta


def wheel_stem_name(name: str) -> str:
    """The distribution component of a wheel/sdist file name (``my-pkg`` -> ``my_pkg``)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def check_file(path: Path, name: str, version: str, *, strict: bool = True) -> None:
    """File name, embedded metadata and version agree with what wheelship derived."""
    canonical = canonicalize_name(name)
    expected = Version(version)
    try:
        if path.name.endswith(".whl"):
            fname, fversion, _, _ = parse_wheel_filename(path.name)
            stem = path.name.split("-", 1)[0]
            if fname == canonical and stem != wheel_stem_name(name):
                raise BuildError(
                    f"{path.name}: the distribution part should be {wheel_stem_name(name)!r}",
                    "upgrade the build backend (older ones do not normalise wheel names)",
                )
        else:
            fname, fversion = parse_sdist_filename(path.name)
            stem = path.name[: -len(f"-{path.name.rsplit('-', 1)[1]}")]
            if fname == canonical and stem != wheel_stem_name(name):
                log.warn(
                    f"{path.name}: sdist names should be normalised to "
                    f"{wheel_stem_name(name)}-... (PEP 625); upgrade the build backend"
                )
    except (InvalidWheelFilename, InvalidSdistFilename) as exc:
        raise BuildError(
            f"{path.name} does not follow the file naming convention ({exc})",
            "pip and Databricks read name and version from it: fix the backend configuration",
        ) from None
    if fname != canonical:
        raise BuildError(
            f"{path.name} is named for {fname!r}, not {name!r}",
            "check [project] name in pyproject.toml",
        )
    # The sdist and the wheel carry the same metadata: one warning (the sdist's) is enough.
    meta = twine_check(path, strict=strict, warn=not path.name.endswith(".whl"))
    for what, found in (("file name", fversion), ("metadata", meta.version)):
        if found != expected or str(found) != str(expected):
            raise BuildError(
                f"{path.name}: the backend built version {found} ({what}) but wheelship derived "
                f"{version}",
                "let the version come from git tags (setuptools-scm or hatch-vcs) or pin the "
                "tag's version in the project metadata",
            )
    if canonicalize_name(meta.name) != canonical:
        raise BuildError(
            f"{path.name}: metadata names {meta.name!r}, not {name!r}",
            "make [project] name in pyproject.toml and the backend's name setting the same",
        )
