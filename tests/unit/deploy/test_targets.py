from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from wheelship import config
from wheelship.deploy import targets
from wheelship.errors import ConfigurationError

FULL = """
package: tsff
targets:
  prod:
    host: https://adb-1234.5.azuredatabricks.net
    profile: PROD
    artifacts: /Volumes/ml/tsff/wheels
    keep: 3
    jobs:
      select: referencing
      ids: [123]
      names: ["tsff-*"]
      tags: {team: forecasting}
      exclude: [456, "tsff-legacy-*"]
    clusters:
      mode: automated
      ids: ["0923-164208-abcd1234"]
      restart: if-idle
      wait: 900
    smoke:
      job: tsff-smoke
      timeout: 1800
"""


def parse(text: str) -> targets.DeployConfig:
    return targets.parse(yaml.safe_load(text))


def test_full_example_parses() -> None:
    cfg = parse(FULL)
    t = cfg.target("prod")
    assert cfg.package == "tsff"
    assert t.host == "https://adb-1234.5.azuredatabricks.net" and t.profile == "PROD"
    assert t.artifacts == "/Volumes/ml/tsff/wheels" and t.storage_kind == "volumes"
    assert (
        t.jobs.ids == (123,)
        and t.jobs.names == ("tsff-*",)
        and t.jobs.exclude == (456, "tsff-legacy-*")
    )
    (group,) = t.clusters
    assert group.mode == "automated" and group.restart == "if-idle" and group.wait == 900
    assert t.smoke == targets.Smoke(job="tsff-smoke", timeout=1800)


def test_defaults() -> None:
    t = parse("targets: {dev: {artifacts: /Workspace/Shared/wheels/}}").target(None)
    assert t.artifacts == "/Workspace/Shared/wheels" and t.keep == 3
    assert t.jobs.select == "referencing" and t.clusters == () and t.cluster_modes == "off"
    assert t.smoke is None
    assert t.host is None


def base(**overrides: Any) -> dict[str, Any]:
    target: dict[str, Any] = {"artifacts": "/Volumes/ml/tsff/wheels"}
    target.update(overrides)
    return {"targets": {"prod": target}}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            base(clusters={"mode": "automated", "ids": ["x"], "restart": "sometimes"}),
            "targets.prod.clusters.restart: expected one of never, if-idle, always, got 'sometimes'",
        ),
        (base(keep=-1), "targets.prod.keep: must be at least 0, got -1"),
        (base(keep="three"), "targets.prod.keep: expected an integer, got a string"),
        (base(colour="blue"), "targets.prod.colour: unknown key"),
        (
            base(jobs={"select": "all"}),
            "targets.prod.jobs.select: expected one of referencing, listed, got 'all'",
        ),
        (
            base(jobs={"ids": ["abc"]}),
            "targets.prod.jobs.ids[0]: expected a job id (a positive integer), got 'abc'",
        ),
        (
            base(jobs={"select": "listed"}),
            "targets.prod.jobs.select: 'listed' needs ids, names or tags to list the jobs",
        ),
        (
            base(clusters={"mode": "manual"}),
            "targets.prod.clusters.mode: mode manual needs ids, names or tags to select the clusters",
        ),
        (
            base(clusters={"mode": "automated", "tags": {"a": "b"}, "wait": True}),
            "targets.prod.clusters.wait: expected an integer, got a boolean",
        ),
        (
            base(artifacts="/tmp/wheels"),
            "targets.prod.artifacts: expected a /Volumes/..., /Workspace/... or dbfs:/... path, got '/tmp/wheels'",
        ),
        (
            base(artifacts="/Volumes/ml/tsff"),
            "targets.prod.artifacts: '/Volumes/ml/tsff' is not inside a volume",
        ),
        (
            base(artifacts="/Volumes/ml/tsff/w/../x"),
            "targets.prod.artifacts: '/Volumes/ml/tsff/w/../x' contains '.' or '..'",
        ),
        (base(smoke={"timeout": 5}), "targets.prod.smoke.job: missing"),
        (
            base(smoke={"job": "x", "timeout": 0}),
            "targets.prod.smoke.timeout: must be at least 1, got 0",
        ),
        (base(jobs={"tags": ["a"]}), "targets.prod.jobs.tags: expected a mapping, got a list"),
        (
            # a lock that goes stale while the deploy still waits would let a second one in
            base(
                clusters={"mode": "automated", "tags": {"a": "b"}, "wait": 3000},
                smoke={"job": "s", "timeout": 1800},
                lock={"ttl": 3600},
            ),
            "targets.prod.lock.ttl: 3600 s is less than a deploy of this target may spend "
            "waiting (4800 s for clusters and smoke runs) plus 600 s",
        ),
        (base(host="https://a b"), "targets.prod.host: 'https://a b' is not a workspace URL"),
        ({"targets": {"prod": {}}}, "targets.prod.artifacts: missing"),
        ({"targets": ["prod"]}, "targets: expected a mapping, got a list"),
        ({"package": "tsff!", "targets": {}}, "package: 'tsff!' is not a valid distribution name"),
    ],
)
def test_bad_values_name_the_key_path(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        targets.parse(data)
    assert info.value.what == message


def test_env_expansion_yields_strings_that_still_validate(tmp_path: Path) -> None:
    path = tmp_path / "wheelship.yml"
    path.write_text("targets:\n  prod:\n    artifacts: ${ART}\n    keep: ${KEEP}\n")
    data = config.load(path, environ={"ART": "dbfs:/FileStore/wheels", "KEEP": "5"})
    t = targets.parse(data).target("prod")
    assert t.keep == 5 and t.storage_kind == "dbfs"


def test_target_lookup_errors() -> None:
    cfg = targets.parse(
        {"targets": {"a": {"artifacts": "/Workspace/x"}, "b": {"artifacts": "/Workspace/y"}}}
    )
    with pytest.raises(ConfigurationError, match="unknown target 'c'") as info:
        cfg.target("c")
    assert info.value.fix == "use one of: a, b"
    with pytest.raises(ConfigurationError, match="no target given"):
        cfg.target(None)
    with pytest.raises(ConfigurationError, match="the configuration has no targets:"):
        targets.parse({}).target("prod")


def test_package_defaults_to_pyproject_name(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "TSFF_Forecast"\n')
    assert targets.resolve_package(targets.parse({}), tmp_path) == "tsff-forecast"
    with pytest.raises(ConfigurationError, match="the package to deploy is unknown"):
        targets.resolve_package(targets.parse({}), tmp_path / "nowhere")


def test_bare_off_is_off_not_false() -> None:
    t = parse(
        "targets:\n  p:\n    artifacts: /Workspace/x\n    clusters:\n      mode: off\n"
    ).target("p")
    assert t.cluster_groups == () and t.cluster_modes == "off"


def test_cluster_groups_with_their_own_modes() -> None:
    t = parse(
        """
targets:
  prod:
    artifacts: /Volumes/a/b/c
    clusters:
      - {mode: automated, tags: {team: ml}, restart: always}
      - {mode: manual, ids: [x]}
"""
    ).target("prod")
    assert [g.mode for g in t.clusters] == ["automated", "manual"]
    assert t.cluster_modes == "automated, manual"
    with pytest.raises(ConfigurationError) as info:
        targets.parse(base(clusters=[{"mode": "manual", "ids": ["x"]}, {"mode": "sometimes"}]))
    assert (
        info.value.what
        == "targets.prod.clusters[1].mode: expected one of automated, manual, off, got 'sometimes'"
    )


def test_canary_and_groups_parse() -> None:
    cfg = targets.parse(
        {
            "targets": {
                "eu": {
                    "artifacts": "/Workspace/x",
                    "smoke": {"job": "tsff-smoke"},
                    "canary": {"jobs": [101, "tsff-train"], "clusters": "ml-canary"},
                },
                "us": {
                    "artifacts": "/Workspace/x",
                    "canary": {"jobs": "tsff-train", "smoke": 7, "timeout": 60},
                },
            },
            "groups": {"everywhere": ["eu", "us"]},
        }
    )
    eu, us = cfg.target("eu"), cfg.target("us")
    assert eu.canary == targets.Canary((101, "tsff-train"), ("ml-canary",), None, 1800)
    assert us.canary == targets.Canary(("tsff-train",), (), 7, 60)
    assert cfg.members("everywhere") == ("eu", "us") and cfg.members("eu") is None
    with pytest.raises(ConfigurationError, match="'everywhere' is a group of targets") as info:
        cfg.target("everywhere")
    assert info.value.fix == "this command works on one target: pass one of them with --target"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"targets": {"p": {"artifacts": "/Workspace/x", "canary": {"jobs": [1]}}}},
            "targets.p.canary.smoke: missing, and the target has no smoke job either",
        ),
        (
            {"targets": {"p": {"artifacts": "/Workspace/x", "canary": {"smoke": 1}}}},
            "targets.p.canary: a canary needs jobs or clusters",
        ),
        (
            {"targets": {"p": {"artifacts": "/Workspace/x", "canary": {"jobs": [1], "x": 1}}}},
            "targets.p.canary.x: unknown key",
        ),
        (
            {"targets": {"p": {"artifacts": "/Workspace/x"}}, "groups": {"g": ["p", "q"]}},
            "groups.g[1]: unknown target 'q'",
        ),
        (
            {"targets": {"p": {"artifacts": "/Workspace/x"}}, "groups": {"p": ["p"]}},
            "groups.p: 'p' is also a target",
        ),
        (
            {"targets": {"p": {"artifacts": "/Workspace/x"}}, "groups": {"g": []}},
            "groups.g: an empty group",
        ),
        (
            {"targets": {"p": {"artifacts": "/Workspace/x"}}, "groups": {"g": ["p", "p"]}},
            "groups.g: a target is listed twice",
        ),
    ],
)
def test_bad_canaries_and_groups_name_the_key_path(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        targets.parse(data)
    assert info.value.what == message
