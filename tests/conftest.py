"""Shared test configuration.

Tiers: ``tests/unit`` (fast, no sockets: enforced), ``tests/integration`` (real servers on
loopback, real git repositories), ``tests/e2e`` (real pipelines with gitlab-ci-local).
Tests under ``integration``/``e2e`` are marked automatically.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).parent

#: fixture projects carry test suites of their own (what `wheelship test` runs), not ours
collect_ignore = ["fixtures"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).relative_to(TESTS).parts
        if parts[0] == "integration":
            item.add_marker(pytest.mark.integration)
        elif parts[0] == "e2e":
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(autouse=True)
def _secrets_of_this_test_only() -> Iterator[None]:
    """Secrets registered for redaction live for the process; a test must not see (or rely on)
    those of the tests that ran before it in the same worker, whatever the order or -n."""
    from wheelship import log

    before = set(log._secrets)
    yield
    log._secrets.clear()
    log._secrets.update(before)
