"""Which projects a sync run looks at: hints, new projects, the reconciliation rotation."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trakk_async.export._plan import (
    DEFAULT_RECONCILE_SHARE,
    Planned,
    check_share,
    cycle_runs,
    pick_reconciliations,
    plan_run,
    reconcile_slots,
)
from trakk_async.export._state import STATE_FILE, ProjectState, SyncState


def _row(name: str = "p", *, keywords: int = 10, latest: int | None = 7) -> tuple[Any, ...]:
    return (name, "active", keywords, latest, 1, "completed", "2026-03-01T00:00:00+00:00")


def _plan(**kwargs: Any) -> list[Planned]:
    defaults: dict[str, Any] = {
        "state": {},
        "baseline": lambda pid: None,
        "share": 0.5,
        "full": False,
    }
    return plan_run(**{**defaults, **kwargs})


def test_new_hinted_and_quiet_projects() -> None:
    listed = {1: _row(), 2: _row("renamed"), 3: _row(keywords=11), 4: _row(), 5: _row()}
    state = {pid: ProjectState(_row(), verified=1) for pid in (1, 2, 3, 4)}
    planned = _plan(
        listed=listed, complete={1: True, 2: True, 3: True, 4: True}, state=state, share=0.2
    )
    assert planned == [
        Planned(2, "hinted", keywords=False),
        Planned(3, "hinted", keywords=True),  # the keyword count changed: fetch keywords
        Planned(5, "new"),
        Planned(1, "reconciled"),  # ceil(0.2 * 5) = 1 slot, the oldest look (ties: by id)
    ]


def test_an_incomplete_project_is_new_and_full_takes_every_project() -> None:
    listed = {1: _row(), 2: _row()}
    state = {1: ProjectState(_row(), 1), 2: ProjectState(_row(), 1)}
    assert _plan(listed=listed, complete={1: True, 2: False}, state=state, share=0.01) == [
        Planned(2, "new"),
        Planned(1, "reconciled"),
    ]
    assert _plan(listed=listed, complete={1: True, 2: True}, state=state, full=True) == [
        Planned(1, "full"),
        Planned(2, "full"),
    ]


def test_without_a_state_row_the_project_json_is_the_baseline() -> None:
    listed = {1: _row(), 2: _row("new name"), 3: _row()}
    complete = dict.fromkeys(listed, True)
    baselines = {1: _row(), 2: _row()}  # 3: project.json unreadable
    planned = _plan(listed=listed, complete=complete, baseline=baselines.get, share=0.01)
    assert planned == [
        Planned(2, "hinted"),
        Planned(3, "hinted", keywords=True),  # nothing to compare with: look at everything
        Planned(1, "reconciled"),
    ]


def test_rotation_takes_the_oldest_looks_and_then_projects_at_risk() -> None:
    verified = {1: 5, 2: 1, 3: 4, 4: 2, 5: 3, 6: 6}
    risky = {5, 6}
    picked = pick_reconciliations(verified, 4, verified, lambda pid: pid in risky)
    # Two slots for the oldest (2, 4), two for the at-risk ones, oldest first (5, 6).
    assert picked == [2, 4, 5, 6]
    # Without projects at risk every slot goes to the oldest looks.
    assert pick_reconciliations(verified, 4, verified, lambda pid: False) == [2, 4, 5, 3]
    assert pick_reconciliations(verified, 99, verified, lambda pid: False) == [2, 4, 5, 3, 1, 6]
    assert pick_reconciliations([], 3, {}, lambda pid: True) == []


def test_at_risk_means_a_not_completed_report_other_than_the_row() -> None:
    listed = {pid: _row(latest=70) for pid in range(1, 7)}
    state = {pid: ProjectState(_row(latest=70), verified=10) for pid in listed}
    state[1] = ProjectState(_row(latest=70), verified=1)  # the oldest look
    state[5] = ProjectState(_row(latest=70), 10, frozenset({70}))  # only the row: visible
    state[6] = ProjectState(_row(latest=70), 10, frozenset({70, 71}))  # 71 may complete unseen
    planned = _plan(listed=listed, complete=dict.fromkeys(listed, True), state=state, share=0.3)
    assert [p.project_id for p in planned] == [1, 6]


def test_share_and_bounds() -> None:
    assert check_share(1) == 1.0
    for bad in (0, -0.1, 1.01, True, "0.5", None):
        with pytest.raises(ValueError, match="reconcile_share"):
            check_share(bad)
    assert reconcile_slots(DEFAULT_RECONCILE_SHARE, 10_000) == 100
    assert reconcile_slots(DEFAULT_RECONCILE_SHARE, 50) == 1
    assert cycle_runs(10_000, 100) == 200
    assert cycle_runs(0, 0) == 0
    assert cycle_runs(5, 5) == 2


@given(
    projects=st.integers(1, 300),
    share=st.floats(0.005, 1.0),
    risky=st.sets(st.integers(1, 300)),
    hinted_per_run=st.lists(st.sets(st.integers(1, 300), max_size=5), max_size=40),
)
def test_every_project_is_looked_at_within_the_documented_runs(
    projects: int, share: float, risky: set[int], hinted_per_run: list[set[int]]
) -> None:
    """Whatever the hints and the risks, no project waits longer than cycle_runs runs."""
    ids = list(range(1, projects + 1))
    complete = dict.fromkeys(ids, True)
    state = {pid: ProjectState(_row(), 0, frozenset({99} if pid in risky else ())) for pid in ids}
    bound = cycle_runs(projects, reconcile_slots(share, projects))
    assert bound <= math.ceil(2 / share)
    last_look = dict.fromkeys(ids, 0)
    for run in range(1, 2 * bound + 3):
        hints = hinted_per_run[run % len(hinted_per_run)] if hinted_per_run else set()
        rows = {pid: _row("moved" if pid in hints else "p") for pid in ids}
        planned = _plan(listed=rows, complete=complete, state=state, share=share)
        for job in planned:
            last_look[job.project_id] = run
            previous = state[job.project_id]
            state[job.project_id] = ProjectState(rows[job.project_id], run, previous.open)
        for pid in ids:  # the rows are remembered; a hint is over once looked at
            state[pid] = ProjectState(_row(), state[pid].verified, state[pid].open)
        assert all(run - seen < bound for seen in last_look.values()), run


def test_state_round_trip_and_bad_files(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    state = SyncState(3, {5: ProjectState(_row(), 2, frozenset({9, 8})), 4: ProjectState(None, 0)})
    state.save(tmp_path)
    assert SyncState.load(tmp_path) == state
    assert SyncState.load(tmp_path / "elsewhere") == SyncState()

    (tmp_path / STATE_FILE).write_bytes(b'{"format": 2, "run": 1, "projects": {}}')
    with caplog.at_level("WARNING", logger="trakk_async"):
        assert SyncState.load(tmp_path) == SyncState()
    assert "format 2" in caplog.text
    (tmp_path / STATE_FILE).write_bytes(
        b'{"format": 1, "run": 1, "projects": {"x": [null, 1, []]}}'
    )
    assert SyncState.load(tmp_path) == SyncState()
    (tmp_path / STATE_FILE).write_bytes(b"not json")
    assert SyncState.load(tmp_path) == SyncState()
