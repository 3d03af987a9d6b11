"""What counts as a completion, read from a project's reports list (pure).

``GET /projects/{id}/reports`` lists every report of a project, newest first, each with
its status. A report *completes* between two looks when it is ``completed`` in the second
list and was not in the first one's completed set. Both ``wait_for_completion`` and the
report watcher use this rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final, Protocol, TypeVar

COMPLETED: Final = "completed"
FAILED: Final = "failed"
RUNNING: Final = "running"
PENDING: Final = "pending"


class ReportLike(Protocol):
    """What the rule reads of a report (a :class:`~trakk_async.Report`)."""

    @property
    def id(self) -> int: ...

    @property
    def report_number(self) -> int: ...

    @property
    def status(self) -> str: ...


R = TypeVar("R", bound=ReportLike)


def is_completed(report: ReportLike) -> bool:
    """Whether a report's status is ``completed`` (an unknown status is not)."""
    return str(report.status) == COMPLETED


def completed_ids(reports: Iterable[ReportLike]) -> frozenset[int]:
    """The ids of the completed reports of a list."""
    return frozenset(r.id for r in reports if is_completed(r))


def completions_since(known: frozenset[int], reports: Sequence[R]) -> list[R]:
    """The completed reports of ``reports`` (newest first) not in ``known``, oldest first."""
    found: list[R] = []
    seen: set[int] = set(known)
    for report in reversed(reports):
        if is_completed(report) and report.id not in seen:
            seen.add(report.id)
            found.append(report)
    return found
