#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh machine, then run all of it:
# lint, types, unit, integration (emulator, pypiserver, git) and e2e (gitlab-ci-local) tests.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'

# gitlab-ci-local (pinned; 4.73.0 is the newest that runs on node 20) needs rsync.
if [ -f ci/node/package.json ]; then
  (cd ci/node && npm ci --silent --no-audit --no-fund)
fi
if ! command -v rsync >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get install -y -qq rsync >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq rsync; }) >/dev/null
  else
    echo "error: rsync is missing — install it (apt-get install rsync); gitlab-ci-local needs it" >&2
    exit 1
  fi
fi

.venv/bin/ruff check scripts tests ci
.venv/bin/ruff format --check scripts tests ci
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
