from __future__ import annotations

import pytest

from wheelship.emulator.services.jobs import _page_arrays, merged, validate_settings, with_defaults
from wheelship.emulator.wire import ApiError, page_token, read_page_token


def test_merge_by_key_replaces_whole_entries_and_appends_new_ones() -> None:
    current = {
        "name": "a",
        "tags": {"x": "1"},
        "tasks": [
            {"task_key": "one", "max_retries": 1, "libraries": [{"whl": "/a"}]},
            {"task_key": "two"},
        ],
        "job_clusters": [{"job_cluster_key": "c", "new_cluster": {"num_workers": 1}}],
    }
    new = {
        "tasks": [{"task_key": "one", "libraries": [{"whl": "/b"}]}, {"task_key": "three"}],
        "tags": {"y": "2"},
    }
    out = merged(current, new, ["job_clusters/c", "name"])
    assert out["tasks"] == [
        {"task_key": "one", "libraries": [{"whl": "/b"}]},
        {"task_key": "two"},
        {"task_key": "three"},
    ]
    assert out["tags"] == {"y": "2"}  # top-level fields replace, no deep merge
    assert out["job_clusters"] == [] and "name" not in out
    assert current["tasks"][0]["max_retries"] == 1  # inputs untouched
    with pytest.raises(ApiError, match="not a keyed array"):
        merged(current, {}, ["tags/x"])


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"tasks": [{"task_key": "a"}, {"task_key": "a"}]}, "not unique"),
        ({"tasks": [{}]}, "Missing required field: tasks[0].task_key"),
        ({"tasks": [{"task_key": "a", "depends_on": [{"task_key": "zz"}]}]}, "depends on a task"),
        ({"tasks": [{"task_key": "a", "environment_key": "e"}]}, "not in environments"),
        (
            {"tasks": [{"task_key": "a", "existing_cluster_id": "c", "new_cluster": {}}]},
            "at most one of",
        ),
        ({"tasks": [{"task_key": "a", "libraries": [{"whl": "x.whl"}]}]}, "absolute path"),
        ({"max_concurrent_runs": -1}, "non-negative"),
        ({"max_concurrent_runs": 1001}, "at most 1000"),
        ({"deployment": {"kind": "TERRAFORM"}}, "deployment.kind must be one of BUNDLE"),
        ({"deployment": "bundle"}, "expected an object for field 'deployment'"),
        ({"edit_mode": "LOCKED"}, "edit_mode must be one of EDITABLE, UI_LOCKED"),
        ({"git_source": {"git_provider": "gitLab", "git_branch": "m"}}, "git_source.git_url"),
        ({"git_source": {"git_url": "u", "git_provider": "svn", "git_tag": "t"}}, "git_provider"),
        (
            {
                "git_source": {
                    "git_url": "u",
                    "git_provider": "gitLab",
                    "git_tag": "t",
                    "git_branch": "b",
                }
            },
            "exactly one of git_branch, git_tag, git_commit; got git_branch, git_tag",
        ),
        ({"run_as": {}}, "run_as must name exactly one"),
        (
            {
                "tasks": [
                    {
                        "task_key": "a",
                        "python_wheel_task": {
                            "package_name": "p",
                            "entry_point": "m",
                            "parameters": ["x"],
                            "named_parameters": {"a": "b"},
                        },
                    }
                ]
            },
            "not both",
        ),
    ],
)
def test_validation_messages(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ApiError, match=message.replace("[", r"\[").replace("]", r"\]")):
        validate_settings(settings)


def test_defaults_depend_on_version() -> None:
    assert "queue" not in with_defaults({}, queue=False)
    filled = with_defaults(
        {"tasks": [{"task_key": "a", "depends_on": [{"task_key": "b"}]}]}, queue=True
    )
    assert filled["queue"] == {"enabled": True}
    assert filled["tasks"][0]["run_if"] == "ALL_SUCCESS"
    assert filled["max_concurrent_runs"] == 1 and filled["format"] == "MULTI_TASK"


def test_page_arrays_slices_each_array() -> None:
    source = {"name": "x", "tasks": list(range(150)), "parameters": list(range(20))}
    first, more = _page_arrays(source, ("tasks", "parameters", "environments"), 0)
    assert (len(first["tasks"]), len(first["parameters"]), more) == (100, 20, True)
    assert "environments" not in first
    second, more = _page_arrays(source, ("tasks", "parameters"), 1)
    assert (second["tasks"][0], "parameters" in second, more) == (100, False, False)


def test_page_tokens_are_opaque_and_checked() -> None:
    assert read_page_token(page_token(40, "jobs"), "jobs") == 40
    assert read_page_token(None, "jobs") == 0
    for bad in ("!!", page_token(3, "runs"), "am9iczotMQ"):
        with pytest.raises(ApiError, match="Invalid page token"):
            read_page_token(bad, "jobs")
