"""wheelship: ship a Python wheel from a GitLab repository to Databricks.

The public interface is the ``wheelship`` command line and the GitLab CI/CD components in
``templates/``; the modules below are not a stable API. One package per pipeline stage —
``building`` (version, build, checks, manifest), ``testrun``, ``compat``, ``release`` (tag,
publish), ``deploy`` (plan, apply) — plus ``databricks`` (the one door to a workspace),
``emulator``, ``demo`` and ``commands`` (one module per subcommand), over a small core:
``errors``, ``log``, ``net``, ``git``, ``gitlab``, ``config``, ``options``, ``files``, ``dotenv``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version

try:
    __version__: str = _dist_version("wheelship")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
