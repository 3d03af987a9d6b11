"""What a watcher remembers of one project, and which completions one look reveals.

Pure functions over a project's reports list (``GET /projects/{id}/reports``, newest
first), with no I/O: that list tells every report and its status, so it is the exact
source of truth. A *completion* is a report whose status is ``completed`` now and was not
``completed`` (or not known) at the previous look. One look can reveal several: each is
one :class:`Completion`, oldest first, carrying the project's state after it, so that
committing events one by one never skips one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final, Generic

import attrs

from trakk_async._protocol.reports import (
    R,
    ReportLike,
    completed_ids,
    completions_since,
    is_completed,
)

_NONE: Final = "-"


@attrs.frozen
class Seen:
    """A watcher's record of one project, as its checkpoint stores it.

    ``report_id`` and ``report_number`` name the report last delivered for the project
    (at the first look: its newest completed report), both None when there was none: they
    become the next event's ``previous_*``. ``known`` holds the ids of the project's
    reports that were completed at the last look or delivered since; a report is an event
    when it is completed and not in ``known``. ``known`` is None in a record written by an
    earlier version, which kept only the last report: its first look then treats the
    completed reports at or below that one in the list as known.
    """

    report_id: int | None
    report_number: int | None
    known: frozenset[int] | None = None

    @classmethod
    def nothing(cls) -> Seen:
        """The record of a project seen without any completed report."""
        return cls(None, None, frozenset())

    def encode(self) -> str:
        """``"<id>:<number>:<known ids, comma-separated>"`` (``-`` for None): how the
        Redis store keeps a record. Without ``known``, the old ``"<id>:<number>"``."""
        rid = _NONE if self.report_id is None else str(self.report_id)
        num = _NONE if self.report_number is None else str(self.report_number)
        if self.known is None:
            return f"{rid}:{num}"
        return f"{rid}:{num}:{encode_ids(self.known)}"

    @classmethod
    def decode(cls, text: str | bytes) -> Seen:
        """The inverse of :meth:`encode` (old two-part records too); raises ValueError
        on anything else."""
        if isinstance(text, bytes):
            text = text.decode("ascii")
        rid, num, *rest = text.split(":")
        if len(rest) > 1:
            raise ValueError(f"not a watcher record: {text!r}")
        return cls(
            None if rid == _NONE else int(rid),
            None if num in (_NONE, "") else int(num),
            decode_ids(rest[0]) if rest else None,
        )


def encode_ids(ids: Iterable[int]) -> str:
    """Report ids as ``"3,7,12"`` (sorted), for the stores that keep text."""
    return ",".join(str(i) for i in sorted(ids))


def decode_ids(text: str) -> frozenset[int]:
    """The inverse of :func:`encode_ids`; raises ValueError on anything else."""
    return frozenset(int(part) for part in text.split(",")) if text else frozenset()


@attrs.frozen
class Completion(Generic[R]):
    """One newly completed report: the event to deliver and the state to commit after it."""

    report: R
    before: Seen
    after: Seen


def first_look(reports: Sequence[ReportLike]) -> Seen:
    """The baseline of a project: its completed reports are known, none is an event."""
    newest = newest_completed(reports)
    return Seen(
        newest.id if newest else None,
        newest.report_number if newest else None,
        completed_ids(reports),
    )


def newest_completed(reports: Sequence[R]) -> R | None:
    """The newest completed report of a list (newest first), as ``/last-generated``."""
    return next((r for r in reports if is_completed(r)), None)


def known_of(seen: Seen, reports: Sequence[ReportLike]) -> frozenset[int]:
    """The completed ids ``seen`` already accounts for, old-format records included.

    An old record names only the last report it delivered: the completed reports at or
    below it in the list (older) are known, the ones above it are new. If that report
    is no longer listed nothing can be told apart, so every completed report is taken as
    known rather than delivered a second time.
    """
    if seen.known is not None:
        return seen.known
    if seen.report_id is None:
        return frozenset()
    ids = [r.id for r in reports]
    if seen.report_id not in ids:
        return completed_ids(reports)
    return completed_ids(reports[ids.index(seen.report_id) :])


def next_look(seen: Seen, reports: Sequence[R]) -> tuple[list[Completion[R]], Seen]:
    """The completions since ``seen`` (oldest first) and the project's state after them.

    ``known`` of the result is exactly the completed ids of ``reports``: ids no longer
    listed or no longer completed are dropped (a report that completes again later is
    then a new event), so a record stays as small as the project's history.
    """
    known = known_of(seen, reports) & completed_ids(reports)
    state = Seen(seen.report_id, seen.report_number, known)
    completions: list[Completion[R]] = []
    for report in completions_since(known, reports):
        known = known | {report.id}
        after = Seen(report.id, report.report_number, known)
        completions.append(Completion(report, state, after))
        state = after
    return completions, state
