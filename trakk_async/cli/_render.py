"""What the ``trakk`` commands print: tables for people, JSON for programs.

Shared by the commands and the demo. A field the server left out (``None``) shows as
``-`` in tables and as ``null`` in JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import attrs
import click
import orjson
from rich.console import Console
from rich.table import Table

from trakk_async._models.objects import (
    ContentSummary,
    Country,
    Keyword,
    KeywordContent,
    Language,
    Me,
    Project,
    ProjectSummary,
    Report,
    ReportContent,
    User,
)
from trakk_async.export import ExportSummary, SyncSummary
from trakk_async.watch import ReportAdvanced


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``"1 project"``, ``"3 projects"``, ``"2 retries"`` (with ``nouns="retries"``)."""
    word = noun if count == 1 else (nouns or noun + "s")
    return f"{count:,} {word}"


def duration(seconds: float) -> str:
    """``"59s"``, ``"1m01s"``, ``"2h01m"``: a wait or an ETA, for people."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def jsonable(model: Any) -> Any:
    """A model as JSON data (dates and enums as JSON's own types, no cache timestamps)."""
    data = attrs.asdict(model, filter=lambda a, _: a.name != "cache_refreshed_at")
    return orjson.loads(orjson.dumps(data))


def json_line(data: Any) -> str:
    """One compact line of JSON."""
    return orjson.dumps(data).decode()


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple | list):
        return ", ".join(map(str, value)) or "-"
    return str(value)


def _table(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    table = Table(*columns, box=None)
    for row in rows:
        table.add_row(*(_cell(value) for value in row))
    return table


def render_me(console: Console, me: Me) -> None:
    """Who the token is."""
    agency = "all agencies (super-admin)" if me.agency_id is None else f"agency {me.agency_id}"
    console.print(f"[bold]{_cell(me.name)}[/] (token {me.id}, {_cell(me.status)}), {agency}")
    console.print(f"abilities: {', '.join(me.abilities) or '-'}")


def _latest(project: ProjectSummary) -> str:
    if project.latest_report_number is None:
        return "-"
    return f"#{project.latest_report_number} {project.latest_report_status}"


def render_projects(console: Console, projects: Iterable[ProjectSummary]) -> int:
    """A table of projects; returns how many."""
    rows = [(p.id, p.name, p.status, p.keyword_count, _latest(p)) for p in projects]
    console.print(_table(("id", "name", "status", "keywords", "latest report"), rows))
    return len(rows)


def render_project(console: Console, project: Project) -> None:
    """One project in detail: a field per line."""

    def name(item: Country | Language | User | None) -> str | None:
        if item is None:
            return None
        return item.name if isinstance(item, User) else item.label

    fields: list[tuple[str, Any]] = [
        ("id", project.id),
        ("name", project.name),
        ("status", project.status),
        ("domain", project.domain),
        ("company", project.company_name),
        ("agency", project.agency),
        ("plan", project.plan),
        ("country", name(project.country)),
        ("text language", name(project.text_language)),
        ("report language", name(project.report_language)),
        ("managing user", name(project.managing_user)),
        ("created by", name(project.created_by)),
        ("created at", project.created_at),
        ("contact email", project.contact_email),
        ("client emails", project.client_emails),
        ("cc email", project.cc_email),
        ("monthly reports", project.receives_monthly_reports),
        ("gsc status", project.gsc_status),
        ("keywords", project.keyword_count),
        ("latest report", _latest(project)),
    ]
    table = _table(("field", "value"), fields)
    table.show_header = False
    console.print(table)


def render_reports(console: Console, reports: Iterable[Report]) -> None:
    """A table of reports, newest first."""
    rows = [
        (
            r.report_number,
            r.id,
            r.report_name,
            r.status,
            r.date_to_create_texts,
            r.approved_status,
            r.sent,
        )
        for r in reports
    ]
    columns = ("#", "id", "name", "status", "create texts", "approved", "sent")
    console.print(_table(columns, rows))


def render_keywords(console: Console, keywords: Iterable[Keyword]) -> None:
    """A table of a project's keywords."""
    rows = [(k.id, k.keyword, k.latest_position, k.content_action_ids) for k in keywords]
    console.print(_table(("id", "keyword", "position", "content in reports"), rows))


def render_labels(console: Console, items: Iterable[Country | Language]) -> None:
    """A table of countries or languages."""
    console.print(_table(("id", "label"), ((i.id, i.label) for i in items)))


def render_users(console: Console, users: Iterable[User]) -> None:
    """A table of users."""
    rows = [(u.id, u.name, u.role, u.agency.name if u.agency else None) for u in users]
    console.print(_table(("id", "name", "role", "agency"), rows))


def _pick(value: Any, variant: int, what: str) -> Any:
    if value is None:
        return None
    if isinstance(value, tuple):
        if variant > len(value):
            raise click.UsageError(f"--variant {variant}: this {what} has {len(value)} variant(s)")
        return value[variant - 1]
    if variant != 1:
        raise click.UsageError(f"--variant {variant}: this {what} has one variant")
    return value


def pick_variant(item: KeywordContent, variant: int, html: bool) -> Any:
    """The chosen variant (1-based) of a keyword's content or html, as plain JSON data.

    Raises ``click.UsageError`` when the keyword has no such variant.
    """
    chosen = _pick(item.html if html else item.content, variant, "html" if html else "content")
    if chosen is None:
        return None
    data = jsonable(chosen)
    return data.get("raw", data) if "raw" in data and "scheme" in data else data


def pick_variants(content: ReportContent, variant: int, html: bool) -> list[Any]:
    """The chosen variant of every keyword, in order: all of them, or a usage error."""
    return [pick_variant(item, variant, html) for item in content.keywords]


def render_content(
    console: Console, content: ReportContent, *, variant: int = 1, html: bool = False
) -> None:
    """A report's content, keyword by keyword: one variant of each.

    Every keyword's variant is picked before anything is printed, so a ``--variant`` that
    one keyword lacks is a usage error without partial output.
    """
    picked = pick_variants(content, variant, html)
    summary = content.summary or ContentSummary()
    total = summary.keyword_count
    console.print(
        f"[bold]Report #{content.report_number}[/] {content.report_name or ''} "
        f"({_cell(content.content_scheme)}, {_cell(content.generation_status)}): "
        f"{_cell(summary.keywords_with_content)}/"
        f"{'-' if total is None else plural(total, 'keyword')} with content"
    )
    for item, data in zip(content.keywords, picked, strict=True):
        console.print(f"\n[bold cyan]{_cell(item.keyword)}[/]  {item.keyword_url or ''}")
        if data is None:
            console.print("  [dim](no content)[/]")
            continue
        _print_fields(console, data, "  ")


def content_lines(content: ReportContent, *, variant: int = 1, html: bool = False) -> list[str]:
    """``trakk content --json``: one JSON line per keyword (all picked before any is shown)."""
    picked = pick_variants(content, variant, html)
    return [
        json_line(
            {
                "keyword_id": item.keyword_id,
                "keyword": item.keyword,
                "keyword_url": item.keyword_url,
                "has_content": item.has_content,
                "html" if html else "content": data,
            }
        )
        for item, data in zip(content.keywords, picked, strict=True)
    ]


def _print_fields(console: Console, data: Any, indent: str) -> None:
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(value, dict | list):
                console.print(f"{indent}{key}:", markup=False)
                _print_fields(console, value, indent + "  ")
            else:
                console.print(f"{indent}{key}: {value}", markup=False)
    elif isinstance(data, list):
        for value in data:
            if isinstance(value, dict):
                console.print(f"{indent}-", markup=False)
                _print_fields(console, value, indent + "  ")
            else:
                console.print(f"{indent}- {value}", markup=False)
    else:
        console.print(f"{indent}{data}", markup=False)


def event_json(event: ReportAdvanced) -> dict[str, Any]:
    """A watch event as JSON data: the line ``trakk watch`` prints and ``--exec`` reads."""
    return event.to_json()


def sync_line(summary: SyncSummary) -> str:
    """One line about a sync, for people."""
    failed = f", {len(summary.failed):,} failed" if summary.failed else ""
    return (
        f"synced {plural(summary.listed, 'project')} to {summary.dest}: "
        f"{summary.checked:,} checked ({summary.new:,} new, {summary.hinted:,} hinted, "
        f"{summary.reconciled:,} reconciled), {summary.changed:,} changed, "
        f"{summary.removed:,} removed{failed}; {plural(summary.files, 'file')} changed "
        f"({plural(summary.bytes, 'byte')} written), {plural(summary.requests, 'request')}, "
        f"{summary.rate_limited:,} rate-limited, {plural(summary.retries, 'retry', 'retries')}, "
        f"{summary.duration:.1f}s; every project is looked at within "
        f"{plural(summary.cycle_runs, 'run')}"
    )


def summary_line(summary: ExportSummary) -> str:
    """One line about an export, for people."""
    skipped = f" ({summary.skipped:,} unchanged)" if summary.skipped else ""
    failed = f", {len(summary.failed):,} failed" if summary.failed else ""
    return (
        f"exported {plural(summary.projects, 'project')}{skipped}{failed} to {summary.dest}: "
        f"{plural(summary.files, 'file')} written ({plural(summary.bytes, 'byte')}), "
        f"{plural(summary.requests, 'request')}, {summary.rate_limited:,} rate-limited, "
        f"{plural(summary.retries, 'retry', 'retries')}, {summary.duration:.1f}s"
    )
