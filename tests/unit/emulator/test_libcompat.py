"""Library sources the real service refuses: DBFS from DBR 15, eggs from DBR 14, volumes on
no-isolation or old runtimes, JARs off the allowlist and DBFS on standard access mode, and an
installing identity without READ VOLUME."""

from __future__ import annotations

from typing import Any

import pytest

from wheelship.emulator.auth import Principal
from wheelship.emulator.libcompat import Compute, source_problem

WHL = {"whl": "/Volumes/main/ops/a/pkg-1.0-py3-none-any.whl"}


def problem(spec: dict[str, Any], **cluster: Any) -> str | None:
    compute = Compute.of("0101-abc", {"spark_version": "15.4.x-scala2.12", **cluster})
    return source_problem(
        compute,
        spec,
        identity=None,
        volume_problem=lambda *_: None,
        allowlist=frozenset({"/Volumes/main/ops/jars/", "com.acme:lib"}),
    )


@pytest.mark.parametrize(
    ("spec", "cluster", "expected"),
    [
        ({"whl": "dbfs:/FileStore/p-1-py3-none-any.whl"}, {}, "not supported on DBR 15 or above"),
        ({"whl": "/FileStore/p-1-py3-none-any.whl"}, {}, "not supported on DBR 15 or above"),
        (
            {"whl": "dbfs:/FileStore/p-1-py3-none-any.whl"},
            {"spark_version": "14.3.x-scala2.12"},
            None,
        ),
        ({"egg": "/Volumes/main/ops/a/p.egg"}, {}, "egg libraries are not supported"),
        ({"egg": "/Volumes/main/ops/a/p.egg"}, {"spark_version": "13.3.x-scala2.12"}, None),
        (WHL, {"data_security_mode": "NONE"}, "not supported in no-isolation"),
        (WHL, {"spark_version": "12.2.x-scala2.12"}, "require Databricks Runtime 13.3"),
        (WHL, {"data_security_mode": "USER_ISOLATION"}, None),
        (
            {"whl": "dbfs:/FileStore/p-1-py3-none-any.whl"},
            {"spark_version": "14.3.x-scala2.12", "data_security_mode": "USER_ISOLATION"},
            "not supported in standard access mode",
        ),
        ({"jar": "/Volumes/main/ops/jars/u.jar"}, {"data_security_mode": "USER_ISOLATION"}, None),
        (
            {"jar": "/Volumes/main/ops/a/u.jar"},
            {"data_security_mode": "DATA_SECURITY_MODE_STANDARD"},
            "must be on the allowlist. Failed Libraries: /Volumes/main/ops/a/u.jar",
        ),
        (
            {"maven": {"coordinates": "com.acme:lib:1.2"}},
            {"data_security_mode": "USER_ISOLATION"},
            None,
        ),
        (
            {"maven": {"coordinates": "org.x:y:1"}},
            {"data_security_mode": "USER_ISOLATION"},
            "Failed Libraries: org.x:y:1",
        ),
        ({"jar": "/Volumes/main/ops/a/u.jar"}, {"data_security_mode": "SINGLE_USER"}, None),
        ({"pypi": {"package": "six"}}, {"spark_version": "custom"}, None),
        (
            {"requirements": "/Workspace/r.txt"},
            {"spark_version": "14.3.x-scala2.12"},
            "require Databricks Runtime 15.0",
        ),
        ({"requirements": "/Workspace/r.txt"}, {}, None),
    ],
)
def test_source_rules(spec: dict[str, Any], cluster: dict[str, Any], expected: str | None) -> None:
    found = problem(spec, **cluster)
    if expected is None:
        assert found is None
    else:
        assert found is not None and expected in found
        assert "driver node of cluster 0101-abc" in found


def test_dbfs_answer_is_the_services_wording() -> None:
    assert problem({"whl": "dbfs:/FileStore/p-1-py3-none-any.whl"}) == (
        "Library installation attempted on the driver node of cluster 0101-abc and failed. The "
        "library installation is unsupported on this compute. Please check the supported "
        "libraries for the compute type. Error code: FEATURE_UNSUPPORTED_ON_COMPUTE_ERROR. "
        "Error message: com.databricks.api.base.DatabricksServiceException: BAD_REQUEST: DBFS "
        "library installations are not supported on DBR 15 or above."
    )


def test_the_installing_identity_needs_read_volume() -> None:
    seen: list[tuple[Any, ...]] = []

    def volume_problem(*args: Any) -> str:
        seen.append(args)
        return "User does not have READ VOLUME on Volume 'main.ops.a'."

    runner = Principal("sp-1", "user", kind="service_principal")
    compute = Compute.of("c", {"spark_version": "15.4.x-scala2.12"})
    found = source_problem(compute, WHL, identity=runner, volume_problem=volume_problem)
    assert seen == [(runner, "/Volumes/main/ops/a", "READ_VOLUME")]
    assert found is not None and found.endswith(
        "error message: PERMISSION_DENIED: User does not have READ VOLUME on Volume 'main.ops.a'."
    )
