"""Bounded waits: a host that accepts connections and never answers is given up with a message
that names it and says "timed out", with progress lines meanwhile — the workspace, the package
index (read by wheelship) and the upload (twine).

The timeouts here are test knobs (short, so the suite stays fast); the defaults' bound is
checked by arithmetic in tests/unit/release/test_twine_failures.py.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from support.wheels import make_dist
from wheelship import net
from wheelship.databricks.auth import PatAuth
from wheelship.databricks.client import Client, RetryPolicy
from wheelship.errors import DatabricksError, PublishError
from wheelship.release import publish
from wheelship.release.publish import Credentials, Index


@contextmanager
def silent_host() -> Iterator[str]:
    """A loopback port whose connections complete (the kernel's backlog) and never get an
    answer: nothing calls accept()."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        yield f"127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture
def fast_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(net.WAITS, "every", 0.5)


def test_the_workspace_client_gives_up_a_silent_host(
    fast_progress: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with silent_host() as host:
        client = Client(
            f"http://{host}",
            PatAuth("dapi-timeout"),
            timeout=(1.0, 1.0),
            retry=RetryPolicy(timeout_attempts=2),  # test knob: the default's two attempts
        )
        started = time.perf_counter()
        with pytest.raises(DatabricksError) as err:
            client.request("GET", "/api/2.1/jobs/list")
        seconds = time.perf_counter() - started
        client.close()
    assert str(err.value).startswith(
        f"cannot reach http://{host}: timed out (no answer within 1 s) — "
    )
    # two attempts of one second each, and a backoff between them
    assert 2.0 <= seconds < 2.0 + RetryPolicy().cap
    assert f"waiting for {host}, 0.5 s" in capsys.readouterr().err


def test_the_index_lookup_gives_up_a_silent_host(fast_progress: None) -> None:
    with silent_host() as host:
        index = Index(f"http://{host}/simple", None, timeout=(1.0, 1.0))
        started = time.perf_counter()
        with pytest.raises(PublishError, match=rf"at http://{host}/simple: timed out"):
            index.files("tsff")
    assert time.perf_counter() - started < 10


def test_twine_is_given_up_with_a_timed_out_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(publish, "TWINE_WAIT", 3.0)  # test knob: the default is a minute
    monkeypatch.setattr(net.WAITS, "every", 1.0)
    dist = make_dist(tmp_path / "dist", "tsff", "1.0.0")
    with silent_host() as host:
        started = time.perf_counter()
        failure = publish.upload(
            sorted(dist.glob("*.whl")),
            f"http://{host}/",
            Credentials("ci", "pw-timeout", "test"),
            {"PATH": "/usr/bin:/bin"},
        )
    assert failure is not None and failure.retryable
    assert str(failure).startswith(f"{host} timed out")
    assert time.perf_counter() - started < 10
    assert f"waiting for {host}, 1 s" in capsys.readouterr().err
