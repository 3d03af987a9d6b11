"""Which projects a sync run looks at, and why (pure: no I/O, no clock).

* **new**: listed, but not complete in the destination: fetched whole, like an export.
* **hinted**: its listing row (name, status, keyword count, ``latest_report_*``) differs
  from the one it had when it was last brought up to date. Its ``project.json`` repeats
  those fields, so it is fetched again; its reports list says whether reports changed.
* **reconciled**: the listing proves no project unchanged (a report can complete without
  moving the ``/reports/latest`` row the listing shows), so ``ceil(share * N)`` of the
  other projects have their reports list compared each run: half of those slots go to the
  projects whose last look is oldest, the others first to projects *at risk* (their last
  reports list showed a not-completed report other than the listing row: one that could
  complete unseen), oldest look first, then again to the oldest. Every project is looked
  at within :func:`cycle_runs` runs.
* ``--full``: every listed project is fetched whole (detail, keywords, reports).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Final, Literal

import attrs

from trakk_async.export._state import ProjectState, Row

__all__ = [
    "DEFAULT_RECONCILE_SHARE",
    "Planned",
    "check_share",
    "cycle_runs",
    "pick_reconciliations",
    "plan_run",
    "reconcile_slots",
]

#: Share of the listed projects reconciled per run by default: 1% keeps an unchanged
#: sync of 10,000 projects at 200 requests (100 pages + 100 reconciliations), 50x fewer
#: than a resumed export, and looks at every project within 200 runs.
DEFAULT_RECONCILE_SHARE: Final = 0.01

Reason = Literal["new", "hinted", "reconciled", "full"]

#: Index of ``keyword_count`` in a :data:`Row`.
_KEYWORD_COUNT: Final = 2
#: Index of ``latest_report_id`` in a :data:`Row`.
_LATEST_REPORT_ID: Final = 3


def check_share(share: object) -> float:
    """Return ``share`` if it is a number in (0, 1], else raise ValueError."""
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1:
        raise ValueError(f"reconcile_share must be a number in (0, 1], got {share!r}")
    return float(share)


@attrs.frozen
class Planned:
    """One project to look at in this run: why, and whether its keywords must be fetched
    whatever its reports say (its keyword count changed)."""

    project_id: int
    reason: Reason
    keywords: bool = False


def reconcile_slots(share: float, listed: int) -> int:
    """Projects reconciled per run: ``ceil(share * listed)``."""
    return math.ceil(share * listed)


def cycle_runs(listed: int, slots: int) -> int:
    """Runs within which every listed project is looked at, at ``slots`` a run: at most
    ``ceil(listed / ceil(slots / 2))`` (half the slots always go to the oldest looks),
    hence at most ``ceil(2 / share)``. 0 without projects."""
    if listed <= 0:
        return 0
    return math.ceil(listed / max(1, math.ceil(slots / 2)))


def is_at_risk(state: ProjectState | None, row: Row) -> bool:
    """Whether a project's last reports list showed a not-completed report other than its
    listing row (the row's own completion would move the row)."""
    if state is None:
        return False
    return bool(state.open - {row[_LATEST_REPORT_ID]})


def pick_reconciliations(
    candidates: Iterable[int],
    count: int,
    verified: Mapping[int, int],
    at_risk: Callable[[int], bool],
) -> list[int]:
    """``count`` of ``candidates`` to reconcile (see the module docstring)."""
    oldest = sorted(candidates, key=lambda pid: (verified.get(pid, 0), pid))
    count = min(count, len(oldest))
    rotation = math.ceil(count / 2)
    chosen = oldest[:rotation]
    rest = oldest[rotation:]
    risky = [pid for pid in rest if at_risk(pid)][: count - rotation]
    chosen += risky
    if len(chosen) < count:
        taken = set(risky)
        chosen += [pid for pid in rest if pid not in taken][: count - len(chosen)]
    return chosen


def plan_run(
    *,
    listed: Mapping[int, Row],
    complete: Mapping[int, bool],
    state: Mapping[int, ProjectState],
    baseline: Callable[[int], Row | None],
    share: float,
    full: bool,
) -> list[Planned]:
    """The projects of one run, new and hinted first, then the reconciliations.

    ``listed``: the listing's rows; ``complete``: the projects in the destination and
    whether each is complete; ``baseline(pid)``: the row a project had when it was last
    brought up to date when the state has none (read from its ``project.json``).
    """
    planned: list[Planned] = []
    quiet: list[int] = []
    for pid, row in sorted(listed.items()):
        if not complete.get(pid, False):
            planned.append(Planned(pid, "new"))
            continue
        if full:
            planned.append(Planned(pid, "full"))
            continue
        record = state.get(pid)
        before = record.row if record is not None and record.row is not None else baseline(pid)
        if before == row:
            quiet.append(pid)
        else:
            count_changed = before is None or before[_KEYWORD_COUNT] != row[_KEYWORD_COUNT]
            planned.append(Planned(pid, "hinted", keywords=count_changed))
    slots = reconcile_slots(share, len(listed))
    verified = {pid: s.verified for pid, s in state.items()}
    picked = pick_reconciliations(
        quiet, slots, verified, lambda pid: is_at_risk(state.get(pid), listed[pid])
    )
    planned.extend(Planned(pid, "reconciled") for pid in picked)
    return planned
