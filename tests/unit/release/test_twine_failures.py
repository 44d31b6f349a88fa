"""Honest upload failures: twine's output classified (retryable or not), its real cause, a fix."""

from __future__ import annotations

import pytest

from wheelship import net
from wheelship.databricks.client import RetryPolicy
from wheelship.release.publish import Credentials, _upload_error, classify

CONNECTION_TRACEBACK = """\
Uploading distributions to http://127.0.0.1:9/
Uploading tsff-1.0.0-py3-none-any.whl
Traceback (most recent call last):
  File "/usr/lib/python3.11/site-packages/urllib3/connection.py", line 198, in _new_conn
    sock = connection.create_connection(
ConnectionRefusedError: [Errno 111] Connection refused

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "<frozen runpy>", line 198, in _run_module_as_main
  File "/usr/lib/python3.11/site-packages/twine/__main__.py", line 33, in main
    error = cli.dispatch(sys.argv[1:])
            ^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/usr/lib/python3.11/site-packages/requests/adapters.py", line 700, in send
    raise ConnectionError(e, request=request)
requests.exceptions.ConnectionError: HTTPConnectionPool(host='127.0.0.1', port=9): Max retries \
exceeded with url: / (Caused by NewConnectionError('Failed to establish a new connection: \
[Errno 111] Connection refused'))
"""
HTTP_400 = """\
Uploading distributions to https://pypi.example.com/legacy/
Uploading tsff-1.0.0-py3-none-any.whl
WARNING  Error during upload. Retry with the --verbose option for more details.
ERROR    HTTPError: 400 Bad Request from https://pypi.example.com/legacy/
         File already exists ('tsff-1.0.0-py3-none-any.whl', with blake2_256 hash 'ab').
"""
HTTP_503 = """\
ERROR    HTTPError: 503 Service Unavailable from https://pypi.example.com/legacy/
         Service Unavailable
"""
INVALID = "ERROR    InvalidDistribution: Invalid distribution metadata: unrecognized field\n"
CREDS = Credentials("ci", "pw", "user from $TWINE_USERNAME, password from $TWINE_PASSWORD")


@pytest.mark.parametrize(
    ("output", "cause", "retryable", "fix"),
    [
        (
            CONNECTION_TRACEBACK,
            "requests.exceptions.ConnectionError: HTTPConnectionPool(host='127.0.0.1', port=9)",
            True,
            "retryable: rerun the job",
        ),
        (
            HTTP_400,
            "HTTPError: 400 Bad Request from https://pypi.example.com/legacy/ File already exists",
            False,
            "not retryable: the index refused the file",
        ),
        (HTTP_503, "HTTPError: 503 Service Unavailable", True, "retryable: rerun the job"),
        (INVALID, "InvalidDistribution: Invalid distribution metadata", False, "not retryable"),
    ],
)
def test_twine_failures_name_the_cause_and_whether_a_rerun_helps(
    output: str, cause: str, retryable: bool, fix: str
) -> None:
    failure = classify(output, 1)
    assert failure.line.startswith(cause), failure.line
    assert failure.retryable is retryable
    assert "cli.dispatch" not in failure.line
    error = _upload_error(failure, CREDS)
    assert (error.fix or "").startswith(fix)


def test_an_unresponsive_host_is_given_up_within_a_minute() -> None:
    """The defaults: a host that accepts and never answers costs a read timeout per attempt,
    one that drops connections a connect timeout per attempt; with the backoffs in between,
    both fail within a minute."""
    connect, read = net.DEFAULT_TIMEOUT
    policy = RetryPolicy()
    backoff = sum(min(policy.cap, policy.base * 2**n) for n in range(policy.connect_attempts))
    # read timeouts are retried while their total stays within net.TIMEOUT_BUDGET
    read_attempts = min(policy.timeout_attempts, int(net.TIMEOUT_BUDGET // read))
    assert read_attempts * read <= net.TIMEOUT_BUDGET
    assert read_attempts * read + backoff < 60
    assert policy.connect_attempts * connect + backoff < 60
    # index and GitLab clients: urllib3 retries (with_retries) a read timeout once
    assert net.TIMEOUT_ATTEMPTS * read + 2 * 0.5 < 60
