"""The events and counters of a report watcher."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import attrs
import orjson

if TYPE_CHECKING:
    from trakk_async._models.objects import Report

__all__ = ["ReportAdvanced", "WatchStats"]


@attrs.frozen(kw_only=True)
class ReportAdvanced:
    """A report of a project completed: ``report`` (its status is ``completed``).

    One event per completed report, oldest first when one look finds several.
    ``previous_number`` and ``previous_report_id`` name the report delivered just before
    it for the same project (at the watcher's first look: the project's newest completed
    report then); both are None for a project's first completed report. ``baseline`` is
    True only for the first-look events of ``emit_baselines=True``. ``detected_at`` is
    when the watcher learned of it (UTC).
    """

    project_id: int
    previous_number: int | None
    previous_report_id: int | None
    report: Report
    baseline: bool = False
    detected_at: datetime = attrs.field(factory=lambda: datetime.now(UTC), eq=False)

    def __str__(self) -> str:
        """``project 42 report #7 (id 1081)``: the event in a log line or a message."""
        return (
            f"project {self.project_id} report #{self.report.report_number} (id {self.report.id})"
        )

    def to_json(self) -> dict[str, Any]:
        """The event as JSON data: what ``trakk watch`` prints and ``--exec`` reads."""
        report = attrs.asdict(self.report, filter=lambda a, _: a.name != "cache_refreshed_at")
        return {
            "project_id": self.project_id,
            "previous_number": self.previous_number,
            "previous_report_id": self.previous_report_id,
            "baseline": self.baseline,
            "detected_at": self.detected_at.isoformat(),
            "report": orjson.loads(orjson.dumps(report)),  # dates, enums -> JSON types
        }


@attrs.frozen(kw_only=True)
class WatchStats:
    """Counters of a running watcher, for logs and dashboards.

    ``ready`` turns True when the first pass is over; ``sweeps`` counts the times every
    watched project has been looked at since; ``looks`` splits into ``baselines``,
    ``confirmations`` (of listing hints) and ``reconciliations``.
    """

    strategy: str | None
    ready: bool
    watched: int
    parked: int
    requests: int
    pages: int
    baselines: int
    confirmations: int
    reconciliations: int
    failures: int
    checkpoint_failures: int
    events: int
    listing_passes: int
    sweeps: int

    @property
    def looks(self) -> int:
        """Requests for a project's reports list, of every kind."""
        return self.baselines + self.confirmations + self.reconciliations
