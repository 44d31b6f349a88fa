"""Index pages, the duplicate guard, targets and credentials (no sockets)."""

from __future__ import annotations

import base64
import io
import logging
import os
import subprocess
import tarfile
import zipfile
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import requests

from wheelship import log
from wheelship.building.manifest import DistFile, Manifest
from wheelship.errors import ConfigurationError, VersionError
from wheelship.gitlab import CiEnv, token_header
from wheelship.release.publish import (
    Credentials,
    IndexFile,
    PublishSettings,
    check_release_tag,
    check_version,
    credentials_of,
    parse_simple_html,
    parse_simple_json,
    plan_uploads,
    resolve_target,
    upload,
)
from wheelship.release.tag import push_invocation

WHL = DistFile("tsff-1.2.3-py3-none-any.whl", "wheel", 10, "a" * 64)
SDIST = DistFile("tsff-1.2.3.tar.gz", "sdist", 20, "b" * 64)
MANIFEST = Manifest("tsff", "1.2.3", files=(WHL, SDIST))
GITLAB_CI = CiEnv.from_env(
    {"CI": "true", "CI_API_V4_URL": "https://gitlab.example.com/api/v4", "CI_PROJECT_ID": "42"}
)
NO_CI = CiEnv.from_env({})

# Shape of GitLab's project simple page (docs.gitlab.com/api/packages/pypi).
GITLAB_HTML = """<!DOCTYPE html>
<html>
  <head><title>Links for tsff</title></head>
  <body>
    <h1>Links for tsff</h1>
    <a href="https://gitlab.example.com/api/v4/projects/42/packages/pypi/files/{a}/tsff-1.2.3-py3-none-any.whl#sha256={a}" data-requires-python="&gt;=3.9">tsff-1.2.3-py3-none-any.whl</a><br>
    <a href="https://gitlab.example.com/api/v4/projects/42/packages/pypi/files/{c}/tsff-1.2.2.tar.gz#sha256={c}" data-requires-python="">tsff-1.2.2.tar.gz</a><br>
  </body>
</html>
""".format(a="a" * 64, c="c" * 64)


def test_parse_gitlab_html_page() -> None:
    files = parse_simple_html(GITLAB_HTML, "https://gitlab.example.com/api/v4/projects/42/x/")
    assert [(f.filename, f.sha256) for f in files] == [
        ("tsff-1.2.3-py3-none-any.whl", "a" * 64),
        ("tsff-1.2.2.tar.gz", "c" * 64),
    ]
    assert files[0].url.endswith("/tsff-1.2.3-py3-none-any.whl")


def test_parse_relative_links_without_hashes() -> None:
    html = '<a href="../../packages/x-1.0.tar.gz">x-1.0.tar.gz</a>'
    (f,) = parse_simple_html(html, "http://127.0.0.1:9/simple/x/")
    assert f == IndexFile("x-1.0.tar.gz", "http://127.0.0.1:9/packages/x-1.0.tar.gz", None)


def test_parse_pep691_json_page() -> None:
    data = {
        "meta": {"api-version": "1.1"},
        "name": "tsff",
        "files": [
            {"filename": "tsff-1.2.3.tar.gz", "url": "f/tsff-1.2.3.tar.gz", "hashes": {}},
            {
                "filename": "tsff-1.2.3-py3-none-any.whl",
                "url": "https://h/f.whl",
                "hashes": {"sha256": "A" * 64},
            },
        ],
    }
    files = parse_simple_json(data, "https://h/simple/tsff/")
    assert files == [
        IndexFile("tsff-1.2.3.tar.gz", "https://h/simple/tsff/f/tsff-1.2.3.tar.gz", None),
        IndexFile("tsff-1.2.3-py3-none-any.whl", "https://h/f.whl", "a" * 64),
    ]


def test_plan_uploads_everything_when_the_index_is_empty() -> None:
    plan = plan_uploads(MANIFEST, {})
    assert plan.upload == (WHL, SDIST) and plan.ok


def test_plan_skips_same_bytes_and_uploads_the_rest() -> None:
    plan = plan_uploads(MANIFEST, {WHL.name: WHL.sha256, "tsff-1.2.2.tar.gz": "c" * 64})
    assert plan.skip == (WHL,)
    assert plan.upload == (SDIST,)
    assert plan.ok


def test_plan_flags_other_bytes_under_the_same_name() -> None:
    plan = plan_uploads(MANIFEST, {WHL.name: "d" * 64})
    assert plan.conflicts == ((WHL, "d" * 64),)
    assert not plan.ok


def test_plan_flags_files_of_the_version_that_this_build_did_not_produce() -> None:
    plan = plan_uploads(MANIFEST, {"tsff-1.2.3-cp311-cp311-linux_x86_64.whl": "e" * 64})
    assert plan.foreign == ("tsff-1.2.3-cp311-cp311-linux_x86_64.whl",)
    assert not plan.ok


def test_gitlab_registry_is_the_default_target_in_ci() -> None:
    t = resolve_target(PublishSettings(), GITLAB_CI)
    assert t.repository_url == "https://gitlab.example.com/api/v4/projects/42/packages/pypi"
    assert t.simple_url == "https://gitlab.example.com/api/v4/projects/42/packages/pypi/simple"
    assert (t.username, t.username_var, t.password_var) == ("gitlab-ci-token", None, "CI_JOB_TOKEN")


def test_other_index_defaults_to_twine_variables() -> None:
    t = resolve_target(PublishSettings(repository_url="https://pkgs.example.com/upload/"), NO_CI)
    assert t.repository_url == "https://pkgs.example.com/upload"
    assert (t.username, t.username_var, t.password_var) == (
        None,
        "TWINE_USERNAME",
        "TWINE_PASSWORD",
    )


def test_no_target_outside_ci_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError) as err:
        resolve_target(PublishSettings(), NO_CI)
    assert str(err.value) == (
        "no package index to publish to — pass --repository-url (inside GitLab CI the "
        "project's registry is the default)"
    )


def test_plain_http_to_a_remote_index_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"uses plain http to a non-loopback host"):
        resolve_target(PublishSettings(repository_url="http://pkgs.example.com/"), NO_CI)


def test_missing_password_variable_names_the_variable() -> None:
    t = resolve_target(PublishSettings(), GITLAB_CI)
    with pytest.raises(ConfigurationError) as err:
        credentials_of(t, {})
    assert str(err.value) == (
        "environment variable CI_JOB_TOKEN (named by --password-var) is not set — set it to "
        "the index token or password (a masked CI/CD variable)"
    )


def test_credentials_come_from_the_named_variables() -> None:
    t = resolve_target(
        PublishSettings(
            repository_url="https://pkgs.example.com/",
            username_var="DEPLOY_USER",
            password_var="DEPLOY_TOKEN",
        ),
        NO_CI,
    )
    creds = credentials_of(t, {"DEPLOY_USER": "bot", "DEPLOY_TOKEN": "tok-123456"})
    assert (creds.username, creds.password) == ("bot", "tok-123456")
    assert creds.source == "user from $DEPLOY_USER, password from $DEPLOY_TOKEN"


def test_local_versions_are_refused_by_default_and_always_for_pypi() -> None:
    local = Manifest("tsff", "1.2.4.dev3+g1234abc", files=(WHL,))
    gitlab = resolve_target(PublishSettings(), GITLAB_CI)
    with pytest.raises(VersionError, match=r"has a local part \(\+g1234abc\)"):
        check_version(local, gitlab, "refuse")
    check_version(local, gitlab, "allow")
    pypi = resolve_target(PublishSettings(repository_url="https://upload.pypi.org/legacy/"), NO_CI)
    with pytest.raises(VersionError) as err:
        check_version(local, pypi, "allow")
    assert str(err.value) == (
        "version 1.2.4.dev3+g1234abc has a local part (+g1234abc) and upload.pypi.org rejects "
        "those — publish a version built without a local part (in CI, or from a clean tag)"
    )


def test_token_headers() -> None:
    assert token_header("CI_JOB_TOKEN") == "JOB-TOKEN"
    assert token_header("GITLAB_RELEASE_TOKEN") == "PRIVATE-TOKEN"
    assert token_header("MY_JOB_TOKEN_COPY", "job") == "JOB-TOKEN"


def test_push_over_https_sends_the_token_in_a_header_from_the_environment() -> None:
    token = "glpat-push-token-123"
    args, env = push_invocation(
        "origin",
        "https://gitlab-ci-token:job-token-999@gitlab.example.com/g/p.git",
        "v1.2.4",
        "oauth2",
        token,
        {},
    )
    assert args == [
        "push",
        "--quiet",
        "--no-verify",
        "https://gitlab.example.com/g/p.git",
        "refs/tags/v1.2.4:refs/tags/v1.2.4",
    ]
    assert all(token not in a and "job-token-999" not in a for a in args)
    basic = base64.b64encode(f"oauth2:{token}".encode()).decode()
    # the header is for the remote's URL only, and no hook runs while it is set
    assert env == {
        "GIT_CONFIG_COUNT": "2",
        "GIT_CONFIG_KEY_0": "http.https://gitlab.example.com/g/p.git.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
        "GIT_CONFIG_KEY_1": "core.hooksPath",
        "GIT_CONFIG_VALUE_1": os.devnull,
    }


def test_push_appends_to_existing_git_config_environment() -> None:
    _, env = push_invocation(
        "origin", "https://h.example.com/p.git", "v1", "u", "tok-abcdef", {"GIT_CONFIG_COUNT": "2"}
    )
    assert env["GIT_CONFIG_COUNT"] == "4"
    assert env["GIT_CONFIG_KEY_2"] == "http.https://h.example.com/p.git.extraHeader"


def test_push_to_a_path_remote_needs_no_token() -> None:
    args, env = push_invocation("origin", "/srv/git/p.git", "v1.0.0", "u", None, {})
    assert args == ["push", "--quiet", "origin", "refs/tags/v1.0.0:refs/tags/v1.0.0"]
    assert env == {}


def test_push_over_https_without_token_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"the token for pushing the tag over HTTPS"):
        push_invocation("origin", "https://h.example.com/p.git", "v1", "u", None, {})


def test_push_over_plain_http_to_a_remote_host_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"plain http to a non-loopback host"):
        push_invocation("origin", "http://h.example.com/p.git", "v1", "u", "tok-abcdef", {})


def test_a_tag_pipeline_publishes_only_its_release() -> None:
    ci = CiEnv.from_env({"CI": "true", "CI_COMMIT_TAG": "v1.2.3"})
    check_release_tag(MANIFEST, ci)
    check_release_tag(MANIFEST, CiEnv.from_env({"CI_COMMIT_TAG": "nightly"}))
    with pytest.raises(VersionError) as err:
        check_release_tag(Manifest("tsff", "1.2.4.dev7", files=(WHL,)), ci)
    assert str(err.value) == (
        "the build is version 1.2.4.dev7, but this pipeline is for release tag v1.2.3 (1.2.3) — "
        "publish the files built by this tag pipeline's build job"
    )
    rc = CiEnv.from_env({"CI_COMMIT_TAG": "v2.0.0-rc.1"})
    check_release_tag(Manifest("tsff", "2.0.0rc1", files=(WHL,)), rc)
    # the project's own tag pattern (a monorepo's fk-vX.Y.Z) decides what a release tag is
    fk = CiEnv.from_env({"CI_COMMIT_TAG": "fk-v1.2.3"})
    check_release_tag(Manifest("tsff", "1.2.4.dev7", files=(WHL,)), fk)  # not a release tag
    pattern = r"^fk-v(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)$"
    check_release_tag(MANIFEST, fk, pattern)
    with pytest.raises(VersionError, match=r"^the build is version 1\.2\.4\.dev7, but this "):
        check_release_tag(Manifest("tsff", "1.2.4.dev7", files=(WHL,)), fk, pattern)


@pytest.mark.parametrize("flag", ["repository_url", "simple_url"])
def test_credentials_in_an_index_url_are_refused_and_never_shown(flag: str) -> None:
    url = "https://deploy:url-secret-42@pkgs.example.com/upload/"
    settings = PublishSettings(**{"repository_url": "https://pkgs.example.com/upload/", flag: url})
    with pytest.raises(ConfigurationError) as err:
        resolve_target(settings, NO_CI)
    option = "--" + flag.replace("_", "-")
    assert str(err.value) == (
        f"{option} contains credentials (user:password@) — remove them from the URL and name "
        "the variables that hold them with --username-var/--password-var"
    )
    assert log.redact(url) == "https://deploy:[MASKED]@pkgs.example.com/upload/"


def _wheel(path: Path, name: str, version: str) -> Path:
    """A minimal wheel twine accepts: core metadata and the WHEEL file."""
    info = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(
            f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        )
        zf.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        zf.writestr(f"{info}/RECORD", "")
    return path


def _sdist(path: Path, name: str, version: str) -> Path:
    data = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    with tarfile.open(path, "w:gz") as tf:
        top = tarfile.TarInfo(f"{name}-{version}")
        top.type = tarfile.DIRTYPE
        tf.addfile(top)
        member = tarfile.TarInfo(f"{name}-{version}/PKG-INFO")
        member.size = len(data)
        tf.addfile(member, io.BytesIO(data))
    return path


def test_twine_gets_the_credentials_in_its_environment_never_its_command_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command wheelship runs, handed to the real twine (its own argument parsing and
    settings, only the HTTP upload replaced): twine uploads exactly the given files to the
    given URL with the given credentials, without prompting — and neither the user nor the
    password is on the command line."""
    import twine.cli
    import twine.repository

    calls: list[tuple[list[str], dict[str, str]]] = []

    def fake_run(cmd: list[str], *, env: dict[str, str], **_: Any) -> Any:
        calls.append((cmd, env))
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr("wheelship.release.publish.subprocess.run", fake_run)
    creds = Credentials("gitlab-ci-token", "job-token-secret-77", "user gitlab-ci-token")
    files = [
        _wheel(tmp_path / WHL.name, "tsff", "1.2.3"),
        _sdist(tmp_path / SDIST.name, "tsff", "1.2.3"),
    ]
    url = "https://gitlab.example.com/api/v4/projects/42/packages/pypi"
    environ = {"PATH": "/usr/bin", "TWINE_PASSWORD": "stale", "TWINE_REPOSITORY": "pypi"}
    assert upload(files, url, creds, environ) is None
    ((cmd, env),) = calls
    assert not any("job-token-secret-77" in arg or "gitlab-ci-token" in arg for arg in cmd)
    assert "TWINE_REPOSITORY" not in env  # the caller's twine settings do not leak in
    assert cmd[cmd.index("twine") - 1 :][:2] == ["-m", "twine"]  # python -m twine ...

    uploaded: list[dict[str, Any]] = []

    def record(self: twine.repository.Repository, package: Any) -> Any:
        uploaded.append(
            {
                "file": Path(package.filename).name,
                "url": self.url,
                "auth": self.session.auth,
                "version": package.metadata["version"],
            }
        )
        response = requests.Response()
        response.status_code, response.url = 200, self.url
        return response

    monkeypatch.setattr(twine.repository.Repository, "upload", record)
    monkeypatch.setattr("builtins.input", lambda *_: pytest.fail("twine prompted for input"))
    # twine configures the root logger (a rich handler on stdout): undo it for later tests
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        with mock.patch.dict("os.environ", env, clear=True):
            assert twine.cli.dispatch(cmd[cmd.index("twine") + 1 :]) is None
    finally:
        root.handlers[:], root.level = handlers, level
    assert uploaded == [
        {"file": name, "url": url, "auth": (creds.username, creds.password), "version": "1.2.3"}
        for name in (WHL.name, SDIST.name)
    ]
    capsys.readouterr()


@pytest.mark.parametrize(
    ("url", "user"),
    [
        ("https://upload.pypi.org/legacy/", "__token__"),
        ("https://test.pypi.org/legacy/", "__token__"),
    ],
)
def test_pypi_tokens_go_with_the_user_pypi_documents(url: str, user: str) -> None:
    t = resolve_target(PublishSettings(repository_url=url), NO_CI)
    assert (t.username, t.username_var, t.password_var) == (user, None, "TWINE_PASSWORD")
    gitlab = resolve_target(PublishSettings(), GITLAB_CI)
    assert (gitlab.username, gitlab.password_var) == ("gitlab-ci-token", "CI_JOB_TOKEN")
    other = resolve_target(PublishSettings(repository_url="https://pkgs.example.com/"), NO_CI)
    assert (other.username, other.username_var) == (None, "TWINE_USERNAME")
