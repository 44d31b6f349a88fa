"""Access-list ranks: inheritance from groups, ``users`` and ``admins``; the legacy standings;
seed errors that name the key path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wheelship.emulator import acl
from wheelship.emulator.auth import Principal
from wheelship.emulator.seed import SeedError, apply_seed
from wheelship.emulator.state import Workspace

JOB = {"user:own@x": "IS_OWNER", "group:eng": "CAN_MANAGE_RUN", "group:users": "CAN_VIEW"}


@pytest.mark.parametrize(
    ("principal", "rank"),
    [
        (Principal("own@x", "user"), 4),
        (Principal("dev@x", "user", groups=("eng",)), 2),  # the group's grant
        (Principal("anyone@x", "user"), 1),  # every identity is in "users"
        (Principal("boss@x", "admin"), 3),  # admins inherit CAN_MANAGE
        (Principal("own@x", "admin"), 4),  # an admin who owns keeps IS_OWNER
        (Principal("ops@x", "user", groups=("admins",)), 3),  # admins by membership
        (Principal("r@x", "read-only"), 1),
        (Principal("n@x", "none"), 0),
        (Principal("own@x", "user", kind="service_principal"), 1),  # keys carry the kind
    ],
)
def test_effective_job_rank(principal: Principal, rank: int) -> None:
    assert acl.level(principal, JOB, "job") == rank


def test_highest_grant_wins_and_denial_names_the_levels() -> None:
    dev = Principal("dev@x", "user", groups=("eng", "ops"))
    grants = {"group:eng": "CAN_ATTACH_TO", "group:ops": "CAN_RESTART"}
    assert acl.can(dev, grants, "cluster", "CAN_RESTART")
    with pytest.raises(Exception, match="dev@x does not have Manage permissions on cluster c1"):
        acl.require(dev, grants, "cluster", "c1", "CAN_MANAGE")


@pytest.mark.parametrize(
    ("seed", "message"),
    [
        (
            {
                "jobs": [
                    {
                        "name": "a",
                        "access_control_list": [
                            {"user_name": "ghost@x", "permission_level": "CAN_VIEW"}
                        ],
                    }
                ]
            },
            "seed jobs[0].access_control_list: Principal: UserName(ghost@x) does not exist",
        ),
        (
            {
                "clusters": [
                    {"access_control_list": [{"group_name": "eng", "permission_level": "CAN_VIEW"}]}
                ]
            },
            "seed clusters[0].access_control_list: Invalid permission level 'CAN_VIEW'",
        ),
        (
            {"users": [{"user_name": "a@x"}, {"user_name": "a@x"}]},
            "seed users[1].user_name: duplicate user 'a@x'",
        ),
        (
            {"users": [{"user_name": "a@x", "groups": "eng"}]},
            "seed users[0].groups: expected a list",
        ),
        ({"users": [{"user_name": "a@x", "permission": "root"}]}, "seed users[0].permission"),
    ],
)
def test_seed_errors(ws: Workspace, seed: dict[str, Any], message: str) -> None:
    with pytest.raises(SeedError) as info:
        apply_seed(ws, seed, Path.cwd())
    assert message in str(info.value)


def test_seed_identities_and_owner(ws: Workspace) -> None:
    apply_seed(
        ws,
        {
            "users": [{"user_name": "a@x", "groups": ["eng"], "token": "dapi-a"}],
            "service_principals": [
                {"application_id": "sp-1", "permission": "user", "token": "dapi-sp"}
            ],
            "jobs": [
                {
                    "job_id": 1,
                    "name": "j",
                    "creator_user_name": "a@x",
                    "access_control_list": [
                        {"service_principal_name": "sp-1", "permission_level": "IS_OWNER"}
                    ],
                }
            ],
        },
        Path.cwd(),
    )
    job = ws.jobs[1]
    assert job.acl == {"service_principal:sp-1": "IS_OWNER"}  # the list named the owner
    assert job.creator_user_name == "a@x" and job.run_as_user_name == "sp-1"
    assert ws.auth.tokens["dapi-a"] == ("a@x", ws.auth.users["a@x"])
    assert ws.auth.groups == {"admins", "users", "eng"}
    assert ws.auth.tokens["dapi-sp"][1].kind == "service_principal"
