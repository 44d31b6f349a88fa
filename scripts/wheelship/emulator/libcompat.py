"""Whether a library source may be installed on a compute: Databricks Runtime version, access
mode, and the installing identity's Unity Catalog privileges.

Each rule cites where the behaviour comes from. The answer is the driver-side error text the
service puts in a FAILED library status (and, wrapped, in a run's LIBRARY_INSTALLATION_ERROR).
A compute whose ``data_security_mode`` is not given gets no access-mode rule (seeds and tests
written before access modes existed keep working); an unparsable ``spark_version`` gets no
runtime rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from wheelship.emulator import libspec
from wheelship.emulator.auth import Principal

AccessMode = Literal["standard", "dedicated", "no_isolation", "unknown"]
_MODES: dict[str, AccessMode] = {
    "USER_ISOLATION": "standard",
    "DATA_SECURITY_MODE_STANDARD": "standard",
    "SINGLE_USER": "dedicated",
    "DATA_SECURITY_MODE_DEDICATED": "dedicated",
    "NONE": "no_isolation",
}
_DBR = re.compile(r"^(\d+)\.(\d+)")
#: DBFS library sources stop at this runtime. The docs say "disabled by default in Databricks
#: Runtime 15.1 and above" (English) and "15.0" (several translations); the service's own
#: message says "not supported on DBR 15 or above", so 15.0 is where it starts.
DBFS_LAST_SUPPORTED = (14, 3)
#: "Python egg files are deprecated and not supported in Databricks Runtime 14.0 and above"
#: (Libraries docs, cluster-scoped libraries)
EGG_LAST_SUPPORTED = (13, 3)
#: "requirements.txt ... Databricks Runtime 15.0 and above" (Libraries docs, cluster libraries)
REQUIREMENTS_FIRST_SUPPORTED = (15, 0)


@dataclass(frozen=True)
class Compute:
    """What decides library support: the cluster id in messages, runtime, access mode."""

    label: str
    runtime: tuple[int, int] | None
    mode: AccessMode

    @classmethod
    def of(cls, label: str, spec: dict[str, Any]) -> Compute:
        version = spec.get("spark_version")
        match = _DBR.match(version) if isinstance(version, str) else None
        runtime = (int(match.group(1)), int(match.group(2))) if match else None
        mode = _MODES.get(str(spec.get("data_security_mode", "")), "unknown")
        return cls(label, runtime, mode)


def _unsupported(compute: Compute, message: str) -> str:
    # the wording of the service's answer (databrickslabs/ucx#1096 and Azure-Samples/
    # modern-data-warehouse-dataops#1006 quote it in full)
    return (
        f"Library installation attempted on the driver node of cluster {compute.label} and "
        "failed. The library installation is unsupported on this compute. Please check the "
        "supported libraries for the compute type. Error code: "
        "FEATURE_UNSUPPORTED_ON_COMPUTE_ERROR. Error message: "
        f"com.databricks.api.base.DatabricksServiceException: BAD_REQUEST: {message}"
    )


def driver_error(label: str, code: str, message: str) -> str:
    """A failed install as the driver reports it (FAILED status message)."""
    return (
        f"Library installation attempted on the driver node of cluster {label} and "
        "failed. Please refer to the following error message to fix the library or contact "
        f"Databricks support. Error code: {code}, error message: {message}"
    )


def source_problem(
    compute: Compute,
    spec: dict[str, Any],
    *,
    identity: Principal | None,
    volume_problem: Any,
    allowlist: frozenset[str] = frozenset(),
) -> str | None:
    """Why ``spec`` cannot be installed on ``compute`` by ``identity`` (None: it can, as far
    as the source goes; a missing file is checked by the caller). ``volume_problem`` is
    ``Workspace.volume_problem``."""
    path = libspec.library_path(spec)
    ref = libspec.file_ref(path) if path else None
    runtime = compute.runtime
    if ref is not None and ref.store == "dbfs" and runtime and runtime > DBFS_LAST_SUPPORTED:
        # "Libraries stored in DBFS root are deprecated and disabled by default in Databricks
        # Runtime 15.1 and above" (Libraries docs); the answer users report on 15.x
        return _unsupported(
            compute, "DBFS library installations are not supported on DBR 15 or above."
        )
    if "requirements" in spec and runtime and runtime < REQUIREMENTS_FIRST_SUPPORTED:
        return _unsupported(
            compute,
            "requirements.txt libraries require Databricks Runtime 15.0 or above.",
        )
    if "egg" in spec and runtime and runtime > EGG_LAST_SUPPORTED:
        return _unsupported(
            compute, "Python egg libraries are not supported on Databricks Runtime 14.0 and above."
        )
    if ref is not None and ref.store == "volumes":
        if compute.mode == "no_isolation":
            # "No-isolation shared access mode does not support volumes" (compute
            # compatibility docs)
            return _unsupported(
                compute,
                "Unity Catalog volumes are not supported in no-isolation shared access mode.",
            )
        if runtime and runtime < (13, 3):
            # volumes as a library source: "Databricks Runtime 13.3 LTS and above"
            return _unsupported(
                compute,
                "Libraries in Unity Catalog volumes require Databricks Runtime 13.3 LTS or above.",
            )
    if compute.mode == "standard":
        # standard (shared) access mode: JARs and Maven coordinates must be on the metastore's
        # allowlist ("Allowlist libraries and init scripts on shared compute"); DBFS is not a
        # supported source there at all (compute compatibility table)
        if ref is not None and ref.store == "dbfs":
            return _unsupported(
                compute, "DBFS library installations are not supported in standard access mode."
            )
        coordinate = (spec.get("maven") or {}).get("coordinates") if "maven" in spec else None
        artifact = path if "jar" in spec else coordinate
        if artifact and not _allowlisted(str(artifact), allowlist):
            return driver_error(
                compute.label,
                "INVALID_PARAMETER_VALUE",
                "Jars and Maven libraries on shared clusters must be on the allowlist. Failed "
                f"Libraries: {artifact}",
            )
    if ref is not None and ref.store == "volumes" and path:
        root = "/".join(ref.path.split("/")[:5])
        problem = volume_problem(identity, root, "READ_VOLUME")
        if problem:
            # the installing identity reads the file with its own privileges: the run-as
            # identity for a job's task libraries, the installer on standard compute, the
            # assigned principal on dedicated compute (compute compatibility docs)
            return driver_error(compute.label, "PERMISSION_DENIED", f"PERMISSION_DENIED: {problem}")
    return None


def _allowlisted(artifact: str, allowlist: frozenset[str]) -> bool:
    """Prefix matching, as the allowlist does for paths; coordinates match by group, artifact
    or full version."""
    return any(artifact == item or artifact.startswith(item) for item in allowlist)
