"""The environment a child process gets: wheelship's own, minus the secrets.

Build backends, their installers, the project's tests (``wheelship test``) and git are code
wheelship runs but did not write: a setup.py, a build hook or a test can read every variable of
the job. When the stages share a job (or a runner passes the whole CI environment), that would hand
``DATABRICKS_TOKEN``, the OIDC ID token, ``CI_JOB_TOKEN`` and the index password to third-party
code. :func:`child_env` removes

* the variables named in :data:`SECRET_NAMES` (the credentials wheelship itself reads),
* every variable whose name says it is a credential (:data:`SECRET_NAME` — GitLab masks such
  CI/CD variables by the same convention: ``*_TOKEN``, ``*_SECRET``, ``*_PASSWORD``, ...),
* every variable whose value wheelship registered as a secret (:func:`wheelship.log.register_secret`:
  the token named by ``--token-var``, the index password named by ``--password-var``, ...),
* every variable that carries one of those secrets inside its value, or a URL with a password
  (``scheme://user:password@``): a private index's URL usually holds the job token
  (``PIP_INDEX_URL=https://gitlab-ci-token:${CI_JOB_TOKEN}@…``, as GitLab documents it).

A child that needs one credential gets it back explicitly (twine its password, git its header).
Loopback hosts are added to ``NO_PROXY``: a plain-http call may only go to loopback, and never
through a proxy (a child's own HTTP client honours the proxy variables).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

from wheelship import log

#: Credentials wheelship reads (Databricks unified auth, GitLab, twine, the emulator).
SECRET_NAMES = frozenset(
    {
        "DATABRICKS_TOKEN",
        "DATABRICKS_CLIENT_SECRET",
        "DATABRICKS_PASSWORD",
        "DATABRICKS_OIDC_TOKEN",
        "ARM_CLIENT_SECRET",
        "AZURE_CLIENT_SECRET",
        "GOOGLE_CREDENTIALS",
        "CI_JOB_TOKEN",
        "CI_JOB_JWT",
        "CI_JOB_JWT_V2",
        "CI_REGISTRY_PASSWORD",
        "CI_DEPENDENCY_PROXY_PASSWORD",
        "CI_DEPLOY_PASSWORD",
        "GITLAB_TOKEN",
        "WHEELSHIP_GITLAB_TOKEN",
        "WHEELSHIP_EMULATOR_TOKEN",
        "TWINE_PASSWORD",
    }
)
#: Names that say "credential". Matched on the whole name, case-insensitively.
SECRET_NAME = re.compile(
    r"(^|_)(TOKEN|SECRET|PASSWORD|PASSWD|PASS|JWT|API_?KEY|PRIVATE_KEY|CREDENTIALS?)(_|$)",
    re.IGNORECASE,
)
#: Variables with credential-like names that are not secrets (paths to files, switches).
NOT_SECRET = frozenset({"DATABRICKS_OIDC_TOKEN_ENV", "DATABRICKS_OIDC_TOKEN_FILEPATH"})
LOOPBACK = ("localhost", "127.0.0.1", "::1")
#: A URL with a password in it (``scheme://user:password@host``).
URL_WITH_PASSWORD = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:[^/\s@]+@")
#: Secrets at least this long are also looked for inside other variables' values (a shorter one
#: would match ordinary words).
MIN_EMBEDDED = 8


def is_secret(name: str, value: str) -> bool:
    if name in NOT_SECRET:
        return False
    if name in SECRET_NAMES or SECRET_NAME.search(name):
        return True
    return bool(value) and log.is_registered(value)


def child_env(
    base: Mapping[str, str] | None = None,
    *,
    also: Iterable[str] = (),
    keep: Iterable[str] = (),
) -> dict[str, str]:
    """``base`` (default: this process's environment) without its secrets. ``also`` names more
    variables to drop (e.g. the one ``--token-var`` names, whatever its name); ``keep`` names
    variables the child needs and gets (an installer's own index credentials)."""
    env = dict(os.environ if base is None else base)
    kept = set(keep)
    dropped = set(also) | {k for k, v in env.items() if is_secret(k, v)}
    hidden = [env[k] for k in dropped if len(env.get(k, "")) >= MIN_EMBEDDED]
    out = {
        k: v
        for k, v in env.items()
        if k in kept
        or not (k in dropped or URL_WITH_PASSWORD.search(v) or any(h in v for h in hidden))
    }
    for name in ("NO_PROXY", "no_proxy"):
        hosts = [h.strip() for h in out.get(name, "").split(",") if h.strip()]
        out[name] = ",".join([*hosts, *(h for h in LOOPBACK if h not in hosts)])
    return out


def installer_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """For an installer (pip, uv): no secret but its own index settings (``PIP_*``, ``UV_*``)."""
    env = os.environ if base is None else base
    return child_env(env, keep=[k for k in env if k.startswith(("PIP_", "UV_"))])


@contextmanager
def scrubbed() -> Iterator[None]:
    """This process's environment without secrets for the block, for code that starts children
    itself from ``os.environ`` (the ``build`` library's isolated environments run pip or uv so).
    The build stage needs no credential meanwhile; the environment is restored after."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(installer_env(saved))
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
