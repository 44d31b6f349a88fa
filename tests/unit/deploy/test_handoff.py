"""The hand-off issue's deciders: what status does to the issue, and the state it reads back."""

from __future__ import annotations

import pytest

from wheelship.deploy.handoff import Handoff, assess, decide, read_state, tick
from wheelship.deploy.plan import ObjectStatus, Status

H = Handoff("prod", "tsff", "1.3.0", ("c1", "c2"))


def _status(c1: tuple[str, ...], c2: tuple[str, ...], extra: ObjectStatus | None = None) -> Status:
    objects = [
        ObjectStatus("job", "101", "train", ("1.3.0",)),
        ObjectStatus("cluster", "c1", "one", c1, "RUNNING", "manual"),
        ObjectStatus("cluster", "c2", "two", c2, "TERMINATED", "manual"),
        ObjectStatus("cluster", "c9", "auto", ("1.0.0",), "RUNNING", "automated"),
    ]
    if extra:
        objects.append(extra)
    return Status("prod", "https://ws", "tsff", tuple(objects), ())


def test_state_line_round_trips_and_junk_is_not_a_handoff() -> None:
    assert read_state(H.line() + "\nbody") == H
    assert read_state("text\n" + H.line()) is None  # only the first line counts
    assert read_state('<!-- wheelship-handoff {"target": "x"} -->') is None
    assert read_state("<!-- wheelship-handoff {not json} -->") is None


@pytest.mark.parametrize(
    ("state", "c1", "c2", "outcome", "event"),
    [
        ("opened", ("1.3.0",), ("1.3.0",), "complete", "close"),
        ("closed", ("1.3.0",), ("1.3.0",), "unchanged", None),
        ("opened", ("1.2.0",), ("1.3.0",), "pending", None),
        ("opened", ("1.3.0", "1.2.0"), ("1.3.0",), "pending", None),  # old one still loaded
        ("closed", ("1.2.0",), ("1.3.0",), "drift", "reopen"),
        ("closed", (), ("1.3.0",), "drift", "reopen"),  # removed altogether
    ],
)
def test_decide(
    state: str, c1: tuple[str, ...], c2: tuple[str, ...], outcome: str, event: str | None
) -> None:
    a = assess(H, _status(c1, c2))
    d = decide(state, a, None)  # type: ignore[arg-type]
    assert (d.outcome, d.state_event) == (outcome, event)
    assert (d.comment is None) == (outcome == "unchanged")


def test_an_unchanged_pending_state_is_not_commented_twice() -> None:
    a = assess(H, _status(("1.2.0",), ("1.3.0",)))
    assert decide("opened", a, a.digest()).outcome == "unchanged"
    b = assess(H, _status(("1.2.0", "1.3.0"), ("1.3.0",)))
    assert decide("opened", b, a.digest()).outcome == "pending"


def test_manual_clusters_outside_the_checklist_count_and_gone_ones_are_named() -> None:
    late = ObjectStatus("cluster", "c3", "new", ("1.2.0",), "RUNNING", "manual")
    a = assess(
        Handoff("prod", "tsff", "1.3.0", ("c1", "gone")), _status(("1.3.0",), ("1.3.0",), late)
    )
    assert [c.cluster_id for c in a.clusters] == ["c1", "c2", "c3"]  # not the automated c9
    assert a.missing == ("gone",) and not a.complete
    note = decide("opened", a, None).comment or ""
    assert "No longer selected or gone from the workspace: gone." in note
    assert "| new (`c3`) | 1.2.0 | RUNNING | no |" in note


def test_tick_sets_and_clears_only_cluster_boxes() -> None:
    text = (
        "- [ ] **one** (`c1`): install <!-- cluster:c1 -->\n"
        "- [x] **two** (`c2`): install <!-- cluster:c2 -->\n"
        "- [ ] a box of the admins' own"
    )
    assert tick(text, ["c1"]) == (
        "- [x] **one** (`c1`): install <!-- cluster:c1 -->\n"
        "- [ ] **two** (`c2`): install <!-- cluster:c2 -->\n"
        "- [ ] a box of the admins' own"
    )
