"""The build stage: the version from git tags, the project's metadata, the PEP 517 build in a
cached build environment, reproducible archives, the distribution checks and the manifest that
every later stage reads.

``version`` (tags <-> versions) -> ``project`` (what pyproject declares) -> ``environments``
(cached build environments) -> ``builder`` (sdist, then the wheel from the sdist, via
``hookrunner``) -> ``reproducible`` (byte-identical archives) -> ``checks`` (twine-check
equivalent) -> ``manifest`` (what was built, for publish and deploy).
"""
