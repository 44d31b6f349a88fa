from __future__ import annotations

import copy

import pytest

from wheelship.deploy import references as r

OLD = "/Volumes/ml/tsff/wheels/tsff-1.2.0-py3-none-any.whl"
NEW = "/Volumes/ml/tsff/wheels/tsff-1.3.0-py3-none-any.whl"


def settings() -> dict:
    return {
        "name": "tsff-train",
        "tags": {"team": "forecasting"},
        "schedule": {"quartz_cron_expression": "0 0 * * * ?", "timezone_id": "UTC"},
        "tasks": [
            {
                "task_key": "train",
                "job_cluster_key": "main",
                "python_wheel_task": {"package_name": "tsff", "entry_point": "train"},
                "libraries": [{"whl": OLD}, {"pypi": {"package": "pandas==2.2.0"}}],
            },
            {
                "task_key": "notebook",
                "notebook_task": {"notebook_path": "/Shared/x"},
                "libraries": [
                    {"pypi": {"package": "tsff[plot]==1.2.0", "repo": "https://gl/simple"}}
                ],
            },
            {
                "task_key": "loop",
                "for_each_task": {
                    "inputs": "[1,2]",
                    "task": {
                        "task_key": "inner",
                        "python_wheel_task": {"package_name": "tsff", "entry_point": "score"},
                        "libraries": [{"whl": "dbfs:/FileStore/old/tsff-1.1.0-py3-none-any.whl"}],
                    },
                },
            },
            {
                "task_key": "other",
                "libraries": [{"whl": "/Volumes/x/y/z/other-1.0-py3-none-any.whl"}],
            },
            {"task_key": "serverless", "environment_key": "default"},
        ],
        "environments": [
            {
                "environment_key": "default",
                "spec": {
                    "environment_version": "2",
                    "dependencies": [
                        "--index-url https://example/simple",
                        OLD,
                        "tsff==1.2.0 ; python_version >= '3.10'",
                        "numpy>=1.26",
                        "tsff",
                    ],
                },
            },
            {"environment_key": "direct", "spec": {"dependencies": [f"tsff @ {OLD}"]}},
        ],
    }


def test_wheel_version_parses_names_of_the_package_only() -> None:
    assert r.wheel_version(OLD, "tsff") == "1.2.0"
    assert r.wheel_version("s3://b/k/TSFF-2.0.0rc1-py3-none-any.whl", "tsff") == "2.0.0rc1"
    assert r.wheel_version("/Volumes/a/b/c/tsffx-1.0-py3-none-any.whl", "tsff") is None
    assert r.wheel_version("/Volumes/a/b/c/tsff.whl", "tsff") is None
    assert r.wheel_version("/Volumes/a/b/c/tsff-1.0.tar.gz", "tsff") is None


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("tsff==1.2.0", (True, "1.2.0")),
        ("TSFF == 1.2.0", (True, "1.2.0")),
        ("tsff[plot]==1.2.0; python_version>'3'", (True, "1.2.0")),
        ("tsff===1.2.0", (True, "1.2.0")),
        ("tsff>=1.0", (True, None)),
        ("tsff==1.*", (True, None)),
        ("tsff", (True, None)),
        (f"tsff @ {OLD}", (True, "1.2.0")),
        (OLD, (True, "1.2.0")),
        ("numpy==1.0", (False, None)),
        ("--extra-index-url https://x", (False, None)),
        ("# comment", (False, None)),
        ("not a requirement !!", (False, None)),
        # names that start like the package: only the whole name is the package
        ("tsff-utils==1.2.0", (False, None)),
        ("tsff_==1.2.0", (False, None)),
        ("tsff.==1.2.0", (False, None)),
        ("tsff-==1.2.0", (False, None)),
        ("T.S.F.F==1.2.0", (False, None)),
        ("Tsff==1.2.0 ; python_version>'3'", (True, "1.2.0")),
        ("\ttsff == 1.2.0", (True, "1.2.0")),
        ("[plot]tsff==1.2.0", (False, None)),
    ],
)
def test_requirement_ref(line: str, expected: tuple[bool, str | None]) -> None:
    assert r.requirement_ref(line, "tsff") == expected


def test_find_refs_covers_libraries_pypi_for_each_and_environments() -> None:
    refs = r.find_refs(settings(), "tsff")
    assert [(x.location, x.version) for x in refs] == [
        ("tasks[train].libraries[0].whl", "1.2.0"),
        ("tasks[notebook].libraries[0].pypi.package", "1.2.0"),
        ("tasks[loop].for_each_task.task.libraries[0].whl", "1.1.0"),
        ("environments[default].spec.dependencies[1]", "1.2.0"),
        ("environments[default].spec.dependencies[2]", "1.2.0"),
        ("environments[default].spec.dependencies[4]", None),
        ("environments[direct].spec.dependencies[0]", "1.2.0"),
    ]
    assert r.referenced_versions(settings(), "tsff") == {"1.1.0", "1.2.0"}
    assert r.referenced_wheels(settings(), "tsff") == {
        OLD,
        "dbfs:/FileStore/old/tsff-1.1.0-py3-none-any.whl",
    }


def test_rewrite_changes_only_references_and_returns_complete_task_entries() -> None:
    before = settings()
    original = copy.deepcopy(before)
    rw = r.rewrite(before, "tsff", "1.3.0", NEW)
    assert before == original  # input untouched
    assert [t["task_key"] for t in rw.tasks] == ["train", "notebook", "loop"]
    train = rw.tasks[0]
    assert train["libraries"] == [{"whl": NEW}, {"pypi": {"package": "pandas==2.2.0"}}]
    assert train["python_wheel_task"] == original["tasks"][0]["python_wheel_task"]
    assert rw.tasks[1]["libraries"][0]["pypi"] == {
        "package": "tsff[plot]==1.3.0",
        "repo": "https://gl/simple",
    }
    assert rw.tasks[2]["for_each_task"]["task"]["libraries"] == [{"whl": NEW}]
    deps = rw.environments[0]["spec"]["dependencies"]
    assert deps == [
        "--index-url https://example/simple",
        NEW,
        'tsff==1.3.0 ; python_version >= "3.10"',
        "numpy>=1.26",
        "tsff",
    ]
    assert rw.environments[1]["spec"]["dependencies"] == [f"tsff @ {NEW}"]
    assert set(rw.new_settings) == {"tasks", "environments"}
    after = r.apply_rewrite(before, rw)
    # Everything but the references is identical.
    assert {k: v for k, v in after.items() if k not in {"tasks", "environments"}} == {
        k: v for k, v in original.items() if k not in {"tasks", "environments"}
    }
    assert after["tasks"][3] == original["tasks"][3] and after["tasks"][4] == original["tasks"][4]
    assert r.referenced_versions(after, "tsff") == {"1.3.0"}


def test_rewritten_reads_as_apply_rewrite_and_leaves_both_inputs_alone() -> None:
    before = settings()
    original = copy.deepcopy(before)
    rw = r.rewrite(before, "tsff", "1.3.0", NEW)
    tasks = copy.deepcopy(rw.tasks)
    view = r.rewritten(before, rw)
    assert view == r.apply_rewrite(before, rw)
    assert before == original and rw.tasks == tasks
    # a job whose only reference is in an environment keeps its task entries as they are
    env_only = {
        "tasks": [{"task_key": "t", "environment_key": "e"}],
        "environments": [{"environment_key": "e", "spec": {"dependencies": [OLD, "numpy==2.1.0"]}}],
    }
    rw = r.rewrite(env_only, "tsff", "1.3.0", NEW)
    assert rw.tasks == () and rw.environments is not None
    assert r.rewritten(env_only, rw)["environments"][0]["spec"]["dependencies"] == [
        NEW,
        "numpy==2.1.0",
    ]
    assert env_only["environments"][0]["spec"]["dependencies"][0] == OLD


def test_rewrite_is_idempotent() -> None:
    once = r.apply_rewrite(settings(), r.rewrite(settings(), "tsff", "1.3.0", NEW))
    again = r.rewrite(once, "tsff", "1.3.0", NEW)
    assert not again and again.new_settings == {}


def test_rewrite_keeps_a_pin_already_at_the_version_however_spelled() -> None:
    s = {"tasks": [{"task_key": "a", "libraries": [{"pypi": {"package": "tsff == 1.3.0"}}]}]}
    assert not r.rewrite(s, "tsff", "1.3.0", NEW)


def test_rewrite_moves_same_version_from_another_folder() -> None:
    s = {
        "tasks": [
            {"task_key": "a", "libraries": [{"whl": "/Workspace/old/tsff-1.3.0-py3-none-any.whl"}]}
        ]
    }
    rw = r.rewrite(s, "tsff", "1.3.0", NEW)
    assert rw.changes[0].new == NEW


def test_library_ref() -> None:
    assert r.library_ref({"whl": OLD}, "tsff") == ("whl", OLD, "1.2.0")
    assert r.library_ref({"pypi": {"package": "tsff>1"}}, "tsff") == ("pypi", "tsff>1", None)
    assert r.library_ref({"jar": "/x.jar"}, "tsff") is None
    assert r.library_ref({"whl": "/Volumes/a/b/c/other-1.0-py3-none-any.whl"}, "tsff") is None


def test_installs_compares_wheel_files_however_the_path_is_spelled() -> None:
    dbfs = "dbfs:/FileStore/wheels/tsff-1.2.0-py3-none-any.whl"
    assert r.installs({"whl": "/dbfs/FileStore/wheels/tsff-1.2.0-py3-none-any.whl"}, dbfs)
    assert r.installs(
        {"whl": "/Shared/w/tsff-1.2.0-py3-none-any.whl"},
        "/Workspace/Shared/w/tsff-1.2.0-py3-none-any.whl",
    )
    assert r.installs({"whl": OLD}, OLD)
    assert not r.installs({"whl": OLD}, NEW)
    assert not r.installs({"pypi": {"package": "tsff==1.2.0"}}, OLD)
