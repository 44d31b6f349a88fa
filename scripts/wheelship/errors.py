"""The one exception hierarchy of wheelship.

Only :func:`wheelship.cli.main` catches these: it prints ``error: <what> — <fix>`` on one line on
stderr and exits with :attr:`WheelshipError.exit_code`. Everything else raises.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_DRIFT = 3
EXIT_BREAKING = 4


class WheelshipError(Exception):
    """Base class: an expected failure with a message that says what to do."""

    exit_code: int = EXIT_FAILURE

    def __init__(self, what: str, fix: str | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.what} — {self.fix}" if self.fix else self.what


class UsageError(WheelshipError):
    """Bad command-line usage (unknown flag, missing argument)."""

    exit_code = EXIT_BAD_INPUT


class ConfigurationError(WheelshipError):
    """A setting, environment variable or configuration file is wrong."""

    exit_code = EXIT_BAD_INPUT


class VersionError(WheelshipError):
    """The version cannot be derived, or it breaks the version/tag policy."""

    exit_code = EXIT_BAD_INPUT


class TagPolicyError(VersionError):
    """A release tag would break the release policy (wrong line, moved tag, backwards)."""


class GitError(WheelshipError):
    """A git command failed in a way the user has to fix."""


class BuildError(WheelshipError):
    """Building or checking the distribution failed."""


class ArtifactError(WheelshipError):
    """A built file is not what it claims to be (corrupt, altered, misnamed); found before it
    is uploaded anywhere."""

    exit_code = EXIT_BAD_INPUT


class PublishError(WheelshipError):
    """Uploading to the package index failed or was refused."""


class GitLabError(WheelshipError):
    """A GitLab API call failed."""


class DatabricksError(WheelshipError):
    """A Databricks API call failed.

    ``step`` and ``obj`` name the deploy step and the object it was working on, so the line reads
    ``deploy: repoint job 123 (tsff-train): PERMISSION_DENIED ...``.
    """

    def __init__(
        self,
        what: str,
        fix: str | None = None,
        *,
        status: int | None = None,
        error_code: str | None = None,
        step: str | None = None,
        obj: str | None = None,
    ) -> None:
        super().__init__(what, fix)
        self.status = status
        self.error_code = error_code
        self.step = step
        self.obj = obj

    def __str__(self) -> str:
        prefix = ""
        if self.step:
            prefix = f"{self.step} {self.obj}: " if self.obj else f"{self.step}: "
        return prefix + super().__str__()


class PlanError(WheelshipError):
    """The deploy plan refuses: the target, the release and the workspace do not fit together
    (an unknown id, a wheel that exists with other bytes, a version that is not retained, an
    object the identity may not change). Raised before anything changes."""

    exit_code = EXIT_BAD_INPUT


class AccessDenied(WheelshipError):
    """The deploy identity may not make a change the deploy needs; found before any change."""

    exit_code = EXIT_BAD_INPUT


class NotConverged(WheelshipError):
    """A deploy made its changes, but reading the target back finds objects not on the version
    (an install that failed, a cluster still restarting, a job changed meanwhile)."""


class DriftDetected(WheelshipError):
    """More than one version is live (``status --fail-on-drift``)."""

    exit_code = EXIT_DRIFT


class BreakingChangesFound(WheelshipError):
    """The public API broke in a way the release's semver level does not allow."""

    exit_code = EXIT_BREAKING


class CanaryFailed(WheelshipError):
    """The canary wave of a deploy failed; the canary was rolled back and nothing else changed."""


class GroupFailed(WheelshipError):
    """Some targets of a group failed; the others went through (their summary names each)."""

    def __init__(self, what: str, fix: str, exit_code: int) -> None:
        super().__init__(what, fix)
        self.exit_code = exit_code


class ChecksFailed(WheelshipError):
    """``wheelship doctor`` found something that will make a deploy fail."""
