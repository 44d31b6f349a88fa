"""Publishing to a package index: look-up, the sha256 duplicate guard, twine upload.

A version in an index is immutable, and twine cannot skip existing files on anything but PyPI
(twine ≥ 6.2 refuses ``--skip-existing`` elsewhere; GitLab answers 400 and pypiserver 400/409 to
a second upload). So :func:`publish` looks the version up through the index's simple API
(PEP 691 JSON when offered, else PEP 503 HTML — GitLab serves HTML unless its
``pypi_pep_691_json`` feature flag is on) *before* uploading anything:

* a file already there with the same sha256 is skipped (a rerun of the publish job is a no-op);
* a file there with other bytes, or files of this version that this build did not produce, are
  an error and nothing is uploaded.

Credentials come from environment variables named in the settings and reach twine through its
environment (``TWINE_USERNAME``/``TWINE_PASSWORD``), never its command line.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Literal
from urllib.parse import urldefrag, urljoin, urlsplit

import requests
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from wheelship import log
from wheelship.building.integrity import check_wheel
from wheelship.building.manifest import DistFile, Manifest
from wheelship.building.version import parse_tag
from wheelship.environ import child_env
from wheelship.errors import ConfigurationError, PublishError, VersionError
from wheelship.gitlab import CiEnv
from wheelship.net import (
    DEFAULT_TIMEOUT,
    check_url,
    describe_failure,
    host_of,
    new_session,
    waiting,
    with_retries,
)
from wheelship.options import Resolved

SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
_ACCEPT = f"{SIMPLE_JSON}, text/html;q=0.1"
#: Indexes that reject local versions (``+...``) outright.
_REJECTS_LOCAL = {"pypi.org", "upload.pypi.org", "test.pypi.org"}
#: Indexes whose upload user for API tokens is ``__token__``.
_TOKEN_USER_HOSTS = {"upload.pypi.org", "test.pypi.org"}
_MAX_REDIRECTS = 5


@dataclass(frozen=True)
class IndexFile:
    filename: str
    url: str
    sha256: str | None


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    #: Where they came from, for messages (never the values).
    source: str


# --- reading the simple API ----------------------------------------------------------------------


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href") or ""
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, "".join(self._text).strip()))
            self._href = None


def parse_simple_html(text: str, base_url: str) -> list[IndexFile]:
    """Files of a PEP 503 project page; the sha256 comes from the ``#sha256=`` fragment."""
    parser = _Links()
    parser.feed(text)
    files = []
    for href, label in parser.links:
        url, fragment = urldefrag(urljoin(base_url, href))
        name = label or url.rsplit("/", 1)[-1]
        algo, _, value = fragment.partition("=")
        files.append(IndexFile(name, url, value.lower() if algo == "sha256" and value else None))
    return files


def parse_simple_json(data: object, base_url: str) -> list[IndexFile]:
    """Files of a PEP 691 project page."""
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        raise ValueError("not a PEP 691 project page (no 'files' list)")
    files = []
    for entry in data["files"]:
        hashes = entry.get("hashes") or {}
        sha = hashes.get("sha256")
        files.append(
            IndexFile(
                str(entry["filename"]),
                urljoin(base_url, str(entry["url"])),
                sha.lower() if isinstance(sha, str) else None,
            )
        )
    return files


def _same_origin(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.hostname, pa.port) == (pb.scheme, pb.hostname, pb.port)


class Index:
    """Read access to one index's simple API, with the upload credentials."""

    def __init__(
        self,
        simple_url: str,
        credentials: Credentials | None,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        self.simple_url = check_url(simple_url, "simple index URL", "fix --simple-url")
        self._auth = (credentials.username, credentials.password) if credentials else None
        self._source = credentials.source if credentials else "no credentials"
        self._session = session or with_retries(new_session())
        self._timeout = timeout

    def _get(self, url: str, what: str, accept: str) -> requests.Response | None:
        """GET following redirects on the index's own origin only; None when the index does
        not have it (404, or a redirect elsewhere — GitLab forwards unknown packages to
        pypi.org when package forwarding is on, and those are not in *this* index)."""
        for _ in range(_MAX_REDIRECTS):
            try:
                with waiting(host_of(self.simple_url)):
                    resp = self._session.get(
                        url,
                        auth=self._auth,
                        headers={"Accept": accept},
                        allow_redirects=False,
                        timeout=self._timeout,
                    )
            except requests.RequestException as exc:
                raise PublishError(
                    f"cannot reach the package index at {self.simple_url}: "
                    f"{describe_failure(exc, self._timeout)}",
                    "check --repository-url / --simple-url and the network; rerunning is safe",
                ) from None
            if resp.is_redirect:
                target = urljoin(url, resp.headers.get("Location", ""))
                if not _same_origin(target, self.simple_url):
                    log.debug(f"{what}: the index redirects to {target}; not in this index")
                    return None
                url = target
                continue
            if resp.status_code == 404:
                return None
            if resp.status_code in (401, 403):
                raise PublishError(
                    f"the package index refused the credentials ({self._source}) "
                    f"while reading {what} (HTTP {resp.status_code})",
                    "check the user name and the token in the variables named by "
                    "--username-var/--password-var",
                )
            if resp.status_code != 200:
                raise PublishError(
                    f"the package index answered HTTP {resp.status_code} for {what}",
                    "check --simple-url, or retry when the index is healthy",
                )
            return resp
        raise PublishError(f"too many redirects reading {what}", "check --simple-url")

    def files(self, project: str) -> list[IndexFile]:
        """Every file the index holds for ``project`` (all versions)."""
        name = canonicalize_name(project)
        url = f"{self.simple_url}/{name}/"
        resp = self._get(url, f"project {name}", _ACCEPT)
        if resp is None:
            return []
        ctype = resp.headers.get("Content-Type", "").split(";")[0].strip()
        try:
            if ctype == SIMPLE_JSON:
                return parse_simple_json(resp.json(), resp.url)
            return parse_simple_html(resp.text, resp.url)
        except (ValueError, KeyError, TypeError) as exc:
            raise PublishError(
                f"the index page {url} is not a simple API page ({exc})",
                "check --simple-url (it should list /simple/<project>/ pages)",
            ) from None

    def sha256_of(self, file: IndexFile) -> str:
        """The file's sha256: from the listing, else by downloading it from the index."""
        if file.sha256:
            return file.sha256
        if not _same_origin(file.url, self.simple_url):
            raise PublishError(
                f"the index lists {file.filename} without a sha256 and on another host",
                "compare the file by hand, or delete it from the index",
            )
        resp = self._get(file.url, file.filename, "*/*")
        if resp is None:
            raise PublishError(
                f"the index lists {file.filename} but does not serve it",
                "rerun the publish job (a rerun skips what is there); if it persists, ask the "
                "index's administrators to repair the file",
            )
        return hashlib.sha256(resp.content).hexdigest()


# --- the duplicate guard -------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadPlan:
    upload: tuple[DistFile, ...] = ()
    skip: tuple[DistFile, ...] = ()
    #: Same file name, other bytes.
    conflicts: tuple[tuple[DistFile, str], ...] = ()
    #: Files of this version in the index that the manifest does not list.
    foreign: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.conflicts and not self.foreign


def _version_of(filename: str) -> Version | None:
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[1]
        return parse_sdist_filename(filename)[1]
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None


def plan_uploads(manifest: Manifest, index_files: Mapping[str, str]) -> UploadPlan:
    """Decide per manifest file: upload, skip (same bytes there) or conflict (other bytes).

    ``index_files`` maps the file names the index holds for the project to their sha256.
    """
    version = Version(manifest.version)
    upload, skip, conflicts = [], [], []
    for f in manifest.files:
        there = index_files.get(f.name)
        if there is None:
            upload.append(f)
        elif there == f.sha256:
            skip.append(f)
        else:
            conflicts.append((f, there))
    ours = {f.name for f in manifest.files}
    foreign = sorted(n for n in index_files if n not in ours and _version_of(n) == version)
    return UploadPlan(tuple(upload), tuple(skip), tuple(conflicts), tuple(foreign))


# --- settings and the publish flow ---------------------------------------------------------------

LocalVersions = Literal["refuse", "allow"]


@dataclass(frozen=True)
class PublishSettings:
    dist: Path = Path("dist")
    repository_url: str | None = None
    simple_url: str | None = None
    username: str | None = None
    username_var: str | None = None
    password_var: str | None = None
    local_versions: LocalVersions = "refuse"
    dry_run: bool = False
    tag_pattern: str | None = None  # the project's release tags (as for 'wheelship version')

    @classmethod
    def from_options(cls, r: Resolved) -> PublishSettings:
        """The one constructor from resolved options (``wheelship publish``)."""
        return cls(
            dist=r["dist"] or r["project"] / "dist",
            repository_url=r["repository_url"],
            simple_url=r["simple_url"],
            username=r["username"],
            username_var=r["username_var"],
            password_var=r["password_var"],
            local_versions=r["local_versions"],
            dry_run=r["dry_run"],
            tag_pattern=r["tag_pattern"],
        )


@dataclass(frozen=True)
class Target:
    repository_url: str
    simple_url: str
    username: str | None
    username_var: str | None
    password_var: str
    gitlab: bool


@dataclass
class PublishResult:
    target: Target
    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    dry_run: bool = False


def resolve_target(settings: PublishSettings, ci: CiEnv) -> Target:
    """Where to upload and with which credential variables.

    Default inside GitLab CI: the project's PyPI registry with the job token. For the GitLab
    registry the user defaults to ``gitlab-ci-token`` and the password to ``$CI_JOB_TOKEN``;
    for any other index to ``$TWINE_USERNAME``/``$TWINE_PASSWORD``.
    """
    gitlab_url = (
        f"{ci.api_url.rstrip('/')}/projects/{ci.project_id}/packages/pypi"
        if ci.api_url and ci.project_id
        else None
    )
    for given, flag in (
        (settings.repository_url, "--repository-url"),
        (settings.simple_url, "--simple-url"),
    ):
        _refuse_credentials(given, flag)
    url = settings.repository_url or gitlab_url
    if not url:
        raise ConfigurationError(
            "no package index to publish to",
            "pass --repository-url (inside GitLab CI the project's registry is the default)",
        )
    url = check_url(url, "repository URL", "fix --repository-url")
    is_gitlab = bool(gitlab_url and url == gitlab_url.rstrip("/")) or url.rstrip("/").endswith(
        "/packages/pypi"
    )
    if settings.username and settings.username_var:
        raise ConfigurationError(
            "--username and --username-var are both set", "give only one of them"
        )
    username = settings.username
    username_var = settings.username_var
    if username is None and username_var is None:
        if is_gitlab:
            username = "gitlab-ci-token"  # GitLab's documented user for the job token
        elif urlsplit(url).hostname in _TOKEN_USER_HOSTS:
            username = "__token__"  # PyPI's user for API tokens
        else:
            username_var = "TWINE_USERNAME"
    password_var = settings.password_var or ("CI_JOB_TOKEN" if is_gitlab else "TWINE_PASSWORD")
    simple = settings.simple_url or f"{url}/simple"
    return Target(
        repository_url=url,
        simple_url=check_url(simple, "simple index URL", "fix --simple-url"),
        username=username,
        username_var=username_var,
        password_var=password_var,
        gitlab=is_gitlab,
    )


def _refuse_credentials(url: str | None, flag: str) -> None:
    """A password in a URL would reach twine's command line and every message naming the URL."""
    parts = urlsplit(url or "")
    if parts.username or parts.password:
        log.register_secret(parts.password)
        raise ConfigurationError(
            f"{flag} contains credentials (user:password@)",
            "remove them from the URL and name the variables that hold them with "
            "--username-var/--password-var",
        )


def username_of(target: Target, env: Mapping[str, str]) -> tuple[str, str]:
    """The index user name and where it came from. Not a secret, so a merge request pipeline
    sees it as the tag pipeline will: a dry run there checks it."""
    if target.username_var is None:
        return target.username or "", f"user {target.username}"
    username = env.get(target.username_var) or ""
    if not username:
        raise ConfigurationError(
            f"environment variable {target.username_var} (named by --username-var) is not set, "
            "so there is no user name for the index",
            "set the publish job's username input (--username), or a CI/CD variable "
            f"{target.username_var} with the user name",
        )
    return username, f"user from ${target.username_var}"


def credentials_of(target: Target, env: Mapping[str, str]) -> Credentials:
    username, user_src = username_of(target, env)
    password = env.get(target.password_var) or ""
    if not password:
        raise ConfigurationError(
            f"environment variable {target.password_var} (named by --password-var) is not set",
            "set it to the index token or password (a masked CI/CD variable)",
        )
    log.register_secret(password)
    return Credentials(username, password, f"{user_src}, password from ${target.password_var}")


def check_version(manifest: Manifest, target: Target, local_versions: LocalVersions) -> None:
    try:
        version = Version(manifest.version)
    except InvalidVersion:
        raise ConfigurationError(
            f"the manifest's version {manifest.version!r} is not a PEP 440 version",
            "rebuild with 'wheelship build'",
        ) from None
    if version.local is None:
        return
    host = urlsplit(target.repository_url).hostname or ""
    if host in _REJECTS_LOCAL:
        raise VersionError(
            f"version {version} has a local part (+{version.local}) and {host} rejects those",
            "publish a version built without a local part (in CI, or from a clean tag)",
        )
    if local_versions == "refuse":
        raise VersionError(
            f"version {version} has a local part (+{version.local}): it names an unpublished "
            "build (a developer machine or a dirty tree)",
            "publish a version built in CI or from a tag, or pass --local-versions allow",
        )


def check_release_tag(manifest: Manifest, ci: CiEnv, tag_pattern: str | None = None) -> None:
    """In a pipeline for a release tag, the files must be that release (not a dev build of an
    earlier pipeline whose artifacts were passed along)."""
    if not ci.commit_tag:
        return
    release = parse_tag(ci.commit_tag, tag_pattern)
    if release is None:
        return
    try:
        same = Version(manifest.version) == Version(release.pep440)
    except InvalidVersion:
        same = False
    if not same:
        raise VersionError(
            f"the build is version {manifest.version}, but this pipeline is for release tag "
            f"{ci.commit_tag} ({release.pep440})",
            "publish the files built by this tag pipeline's build job",
        )


def publish(
    settings: PublishSettings,
    *,
    environ: Mapping[str, str] | None = None,
    session: requests.Session | None = None,
) -> PublishResult:
    env = os.environ if environ is None else environ
    ci = CiEnv.from_env(env)
    manifest = Manifest.load(settings.dist)
    target = resolve_target(settings, ci)
    check_version(manifest, target, settings.local_versions)
    check_release_tag(manifest, ci, settings.tag_pattern)
    manifest.verify(settings.dist)
    if not manifest.files:
        raise ConfigurationError(
            f"the manifest in {settings.dist} lists no files", "rebuild with 'wheelship build'"
        )
    for f in manifest.files:
        if f.name.endswith(".whl"):
            # before any upload: the index never takes a file name twice
            check_wheel(settings.dist / f.name, manifest.name, manifest.version)
    creds: Credentials | None
    if settings.dry_run:
        username_of(target, env)  # a missing user name fails the dry run as it would the upload
    try:
        creds = credentials_of(target, env)
    except ConfigurationError as exc:
        if not settings.dry_run:
            raise
        # A merge request may not see a protected password; a laptop has none: the dry run
        # still checks the rest, reading the index anonymously.
        log.warn(
            f"the real run would fail here: {exc} (protected variables reach only protected "
            "branches and tags: the release tag pipeline can see it when a merge request cannot)"
        )
        creds = None
    index = Index(target.simple_url, creds, session=session)

    try:
        plan = _plan(index, manifest)
    except PublishError as exc:
        if not (settings.dry_run and creds is None):
            raise
        log.warn(f"the index cannot be read without its password ({exc.what}); not checked")
        return PublishResult(target, dry_run=True)
    result = PublishResult(target, dry_run=settings.dry_run)
    _refuse_conflicts(plan, manifest, target)
    verb = "would upload" if settings.dry_run else "uploading"
    for f in plan.skip:
        log.result(f"skipped {f.name} (already in the index with the same sha256)")
        result.skipped.append(f.name)
    if settings.dry_run:
        for f in plan.upload:
            source = creds.source if creds else "credentials missing"
            log.result(f"{verb} {f.name} to {target.repository_url} ({source})")
        return result
    if not plan.upload:
        log.info(f"{manifest.name} {manifest.version}: every file is in the index already")
        return result

    paths = [settings.dist / f.name for f in plan.upload]
    assert creds is not None
    failure = upload(paths, target.repository_url, creds, env)
    if failure is not None:
        # Another pipeline may have uploaded the same bytes meanwhile: that is success.
        again = _plan(index, manifest)
        if again.ok and not again.upload:
            log.warn(f"upload failed ({failure}), but the index now holds exactly these files")
        else:
            raise _upload_error(failure, creds, target)
    for f in plan.upload:
        log.result(f"uploaded {f.name}")
        result.uploaded.append(f.name)
    return result


def _plan(index: Index, manifest: Manifest) -> UploadPlan:
    listed = index.files(manifest.name)
    relevant = {
        f.filename: f
        for f in listed
        if f.filename in {m.name for m in manifest.files}
        or _version_of(f.filename) == Version(manifest.version)
    }
    hashes = {name: index.sha256_of(f) for name, f in relevant.items()}
    return plan_uploads(manifest, hashes)


def _refuse_conflicts(plan: UploadPlan, manifest: Manifest, target: Target) -> None:
    if plan.conflicts:
        names = ", ".join(f"{f.name} (index sha256 {sha[:12]}…)" for f, sha in plan.conflicts)
        raise PublishError(
            f"{manifest.name} {manifest.version} is already in {target.repository_url} with "
            f"other bytes: {names}; nothing was uploaded",
            "a published version never changes: build a new version (tag the next patch)",
        )
    if plan.foreign:
        raise PublishError(
            f"{manifest.name} {manifest.version} is already in {target.repository_url} with "
            f"files this build did not produce: {', '.join(plan.foreign)}; nothing was uploaded",
            "a published version never changes: build a new version (tag the next patch)",
        )


#: Upload failures that a rerun can cure: the index or the network, not the request.
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
RETRYABLE_ERRORS = frozenset(
    {
        "ConnectionError",
        "ConnectTimeout",
        "ReadTimeout",
        "Timeout",
        "ChunkedEncodingError",
        "ProtocolError",
        "RemoteDisconnected",
        "ConnectionResetError",
        "SSLError",
    }
)
#: twine may wait forever for an index that never answers (it sets no timeout): a bound of
#: TWINE_WAIT plus the time the files take at TWINE_RATE bytes/s.
TWINE_WAIT = 60.0
TWINE_RATE = 1024 * 1024
_HTTP = re.compile(r"HTTPError: (\d{3})")
_EXCEPTION = re.compile(
    r"^(?:[\w.]+\.)?(?P<name>[A-Z]\w*(?:Error|Exception|Timeout|Distribution|Configuration))\b:?\s*(?P<rest>.*)"
)


@dataclass(frozen=True)
class UploadFailure:
    """Why ``twine upload`` failed: the index's answer or the exception, and whether a rerun
    can succeed."""

    status: int | None
    line: str
    retryable: bool = False

    def __str__(self) -> str:
        return self.line


def classify(output: str, returncode: int) -> UploadFailure:
    """The cause in twine's output: its ``ERROR`` line with the index's reason, else the last
    line of a traceback (the exception) — never a line of the traceback's code (``error =
    cli.dispatch(sys.argv[1:])`` read as the error before)."""
    raw = [ln.rstrip() for ln in output.splitlines() if ln.strip()]
    cause = ""
    for n, ln in enumerate(raw):
        if ln.startswith("ERROR"):
            reason = [
                r.strip()
                for r in raw[n + 1 :]
                if r.startswith(" ") and not r.strip().startswith('File "')
            ]
            cause = " ".join([ln.removeprefix("ERROR").strip(), *reason[:2]])
    if not cause:
        # a traceback: frames are "  File ..." and indented code; the exception comes last
        plain = [ln.strip() for ln in raw if not ln.startswith((" ", "\t", "Traceback"))]
        cause = plain[-1] if plain else f"twine exited {returncode}"
    cause = log.redact(cause)
    m = _HTTP.search(cause)
    status = int(m.group(1)) if m else None
    name_match = _EXCEPTION.match(cause)
    name = name_match.group("name") if name_match else ""
    retryable = status in RETRYABLE_STATUS if status else name in RETRYABLE_ERRORS
    return UploadFailure(status, cause, retryable)


def upload(
    paths: Sequence[Path], repository_url: str, creds: Credentials, env: Mapping[str, str]
) -> UploadFailure | None:
    """Run ``twine upload``; the credentials travel in its environment only."""
    child = {k: v for k, v in child_env(env).items() if not k.startswith("TWINE_")}
    child.update(
        TWINE_USERNAME=creds.username,
        TWINE_PASSWORD=creds.password,
        TWINE_NON_INTERACTIVE="1",
        NO_COLOR="1",
    )
    cmd = [
        sys.executable,
        "-m",
        "twine",
        "--no-color",
        "upload",
        "--non-interactive",
        "--disable-progress-bar",
        "--repository-url",
        repository_url,
        *map(str, paths),
    ]
    host = host_of(repository_url)
    limit = TWINE_WAIT + sum(p.stat().st_size for p in paths if p.is_file()) / TWINE_RATE
    try:
        with waiting(host):
            proc = subprocess.run(
                cmd, env=child, capture_output=True, text=True, check=False, timeout=limit
            )
    except subprocess.TimeoutExpired:
        return UploadFailure(
            None, f"{host} timed out: the upload got no answer within {limit:.0f} s", True
        )
    output = (proc.stdout + proc.stderr).strip()
    for line in output.splitlines():
        log.debug(f"twine: {line}")
    if proc.returncode == 0:
        return None
    return classify(output, proc.returncode)


def _upload_error(
    failure: UploadFailure, creds: Credentials, target: Target | None = None
) -> PublishError:
    status = failure.status
    if status in (401, 403):
        fix = f"check the credentials ({creds.source})"
        if target is not None and target.gitlab:
            fix += "; a job token needs the Developer role"
        else:
            fix += " and that this user may upload to the index"
    elif status in (400, 409):
        fix = (
            "not retryable: the index refused the file (it may exist with other bytes, or be "
            "invalid): build a new version, or fix what the index says"
        )
    elif status == 413:
        fix = "not retryable: the file is larger than the index accepts; raise its limit"
    elif failure.retryable:
        fix = "retryable: rerun the job (files already uploaded are skipped)"
    else:
        fix = "not retryable as is: fix what twine reports (run with WHEELSHIP_VERBOSE=1 for its output)"
    return PublishError(f"twine upload failed: {failure}", fix)
