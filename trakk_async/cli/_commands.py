"""The ``trakk`` commands and their shared renderers (see the package docstring)."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import attrs
import click
import orjson
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn
from rich.table import Table

from trakk_async._client.client import TrakkClient
from trakk_async._core.errors import ConfigurationError, TrakkError
from trakk_async._models.objects import KeywordContent, Me, ProjectSummary, Report, ReportContent
from trakk_async._protocol.core import BASE_URL_ENV, TOKEN_ENV
from trakk_async.export import (
    ExportProgress,
    ExportSummary,
    FileChange,
    SyncSummary,
    export_projects,
    follow_projects,
    sync_projects,
)
from trakk_async.export._export import ProgressCallback
from trakk_async.export._plan import DEFAULT_RECONCILE_SHARE
from trakk_async.ratelimit import TokenBucketLimiter
from trakk_async.watch import ReportAdvanced, SQLiteCheckpoint, WatchPlan

__all__ = ["cli", "main"]

_Summary = TypeVar("_Summary", ExportSummary, SyncSummary)


@attrs.frozen
class _Settings:
    token: str | None
    base_url: str | None
    verbose: bool
    windows: tuple[tuple[int, float], ...] = ()


def _console(stderr: bool = False) -> Console:
    # highlight=False: no colour guessing inside data; rich drops styles when not a tty.
    return Console(stderr=stderr, highlight=False, soft_wrap=not stderr)


def _fail(message: str, token: str | None = None) -> NoReturn:
    if token:
        message = message.replace(token, "***")
    click.echo(f"trakk: error: {message}", err=True)
    raise SystemExit(1)


def _run(
    ctx: click.Context, work: Callable[[TrakkClient], Awaitable[int | None]], **client: Any
) -> None:
    """Build the client from the global options, run ``work``, turn errors into one line."""
    settings: _Settings = ctx.ensure_object(_Settings)

    async def body() -> int | None:
        if settings.windows:
            client.setdefault("rate_limiter", TokenBucketLimiter(windows=settings.windows))
        async with TrakkClient(settings.token, base_url=settings.base_url, **client) as c:
            return await work(c)

    try:
        code = asyncio.run(body())
    except ConfigurationError as error:
        message = str(error).replace("pass TrakkClient(token=...)", "pass --token")
        raise click.UsageError(message, ctx) from None
    except BrokenPipeError:
        _reader_left()
    except (TrakkError, OSError) as error:
        _fail(_error_line(error), settings.token)
    except KeyboardInterrupt:
        click.echo("trakk: interrupted", err=True)
        raise SystemExit(130) from None
    if code:
        raise SystemExit(code)


def _reader_left() -> NoReturn:
    """The reader of our output went away (``trakk projects | head``): stop quietly.

    stdout is pointed at /dev/null first so that flushing it at exit cannot raise again.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    raise SystemExit(0)


def _error_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


def _jsonable(model: Any) -> Any:
    data = attrs.asdict(model, filter=lambda a, _: a.name != "cache_refreshed_at")
    return orjson.loads(orjson.dumps(data))  # dates, enums -> JSON's own types


def json_line(data: Any) -> str:
    return orjson.dumps(data).decode()


# -- renderers (shared with the demo) -------------------------------------------------


def render_me(console: Console, me: Me) -> None:
    """Who the token is."""
    agency = "all agencies (super-admin)" if me.agency_id is None else f"agency {me.agency_id}"
    console.print(f"[bold]{me.name}[/] (token {me.id}, {me.status}), {agency}")
    console.print(f"abilities: {', '.join(me.abilities) or '-'}")


def render_projects(console: Console, projects: Iterable[ProjectSummary]) -> int:
    """A table of projects; returns how many."""
    table = Table("id", "name", "status", "keywords", "latest report", box=None)
    count = 0
    for p in projects:
        latest = (
            "-"
            if p.latest_report_number is None
            else f"#{p.latest_report_number} {p.latest_report_status}"
        )
        table.add_row(str(p.id), p.name, str(p.status), str(p.keyword_count), latest)
        count += 1
    console.print(table)
    return count


def render_reports(console: Console, reports: Iterable[Report]) -> None:
    """A table of reports, newest first."""
    table = Table("#", "id", "name", "status", "create texts", "approved", "sent", box=None)
    for r in reports:
        table.add_row(
            str(r.report_number),
            str(r.id),
            r.report_name or "-",
            str(r.status),
            str(r.date_to_create_texts or "-"),
            str(r.approved_status or "-"),
            "yes" if r.sent else "no",
        )
    console.print(table)


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
    """The chosen variant (1-based) of a keyword's content or html, as plain JSON data."""
    chosen = _pick(item.html if html else item.content, variant, "html" if html else "content")
    if chosen is None:
        return None
    data = _jsonable(chosen)
    return data.get("raw", data) if "raw" in data and "scheme" in data else data


def render_content(
    console: Console, content: ReportContent, *, variant: int = 1, html: bool = False
) -> None:
    """A report's content, keyword by keyword: one variant of each."""
    console.print(
        f"[bold]Report #{content.report_number}[/] {content.report_name or ''} "
        f"({content.content_scheme}, {content.generation_status}): "
        f"{content.summary.keywords_with_content}/{content.summary.keyword_count} "
        "keywords with content"
    )
    for item in content.keywords:
        console.print(f"\n[bold cyan]{item.keyword}[/]  {item.keyword_url}")
        data = pick_variant(item, variant, html)
        if data is None:
            console.print("  [dim](no content)[/]")
            continue
        _print_fields(console, data, "  ")


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
    return {
        "project_id": event.project_id,
        "previous_number": event.previous_number,
        "previous_report_id": event.previous_report_id,
        "baseline": event.baseline,
        "detected_at": event.detected_at.isoformat(),
        "report": _jsonable(event.report),
    }


async def export_with_progress(
    client: TrakkClient,
    dest: Path,
    *,
    project_ids: Sequence[int] | None,
    resume: bool,
    concurrency: int,
    console: Console,
) -> ExportSummary:
    """Run an export, with a live bar on ``console`` when it is a terminal."""
    return await with_progress(
        client,
        console,
        "export",
        lambda progress: export_projects(
            client,
            dest,
            project_ids=project_ids,
            resume=resume,
            concurrency=concurrency,
            progress=progress,
        ),
    )


async def with_progress(
    client: TrakkClient,
    console: Console,
    label: str,
    run: Callable[[ProgressCallback | None], Awaitable[_Summary]],
) -> _Summary:
    """Run an export or a sync (``run(progress)``), with a live bar on ``console`` when
    it is a terminal."""
    if not console.is_terminal:
        return await run(None)
    bar = Progress(
        TextColumn(f"[bold]{label}[/]"),
        BarColumn(),
        TextColumn("{task.fields[projects]} projects"),
        TextColumn("{task.fields[requests]} requests"),
        TextColumn("budget left {task.fields[budget]}"),
        TextColumn("ETA {task.fields[eta]}"),
        console=console,
        transient=False,
    )
    task: TaskID = bar.add_task(label, total=None, projects="-", requests="-", budget="-", eta="-")

    def update(p: ExportProgress) -> None:
        snap = client.rate_limit
        total = "?" if p.projects_total is None else str(p.projects_total)
        bar.update(
            task,
            total=p.requests_expected or None,
            completed=p.requests,
            projects=f"{p.projects_done}/{total}",
            requests=f"{p.requests}/~{p.requests_expected}",
            budget=str(snap.remaining),
            eta=_duration(snap.eta(p.requests_left)),
        )

    with bar:
        summary = await run(update)
        bar.update(task, total=summary.requests or 1, completed=summary.requests, eta="0s")
    return summary


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def sync_line(summary: SyncSummary) -> str:
    """One line about a sync, for people."""
    failed = f", {len(summary.failed)} failed" if summary.failed else ""
    return (
        f"synced {summary.listed} projects to {summary.dest}: {summary.checked} checked "
        f"({summary.new} new, {summary.hinted} hinted, {summary.reconciled} reconciled), "
        f"{summary.changed} changed, {summary.removed} removed{failed}; "
        f"{summary.files} files changed ({summary.bytes:,} bytes written), "
        f"{summary.requests} requests, {summary.rate_limited} rate-limited, "
        f"{summary.retries} retries, {summary.duration:.1f}s; every project is looked at "
        f"within {summary.cycle_runs} runs at this share"
    )


def summary_line(summary: ExportSummary) -> str:
    """One line about an export, for people."""
    skipped = f" ({summary.skipped} unchanged)" if summary.skipped else ""
    failed = f", {len(summary.failed)} failed" if summary.failed else ""
    return (
        f"exported {summary.projects} projects{skipped}{failed} to {summary.dest}: "
        f"{summary.files} files written ({summary.bytes:,} bytes), {summary.requests} requests, "
        f"{summary.rate_limited} rate-limited, {summary.retries} retries, "
        f"{summary.duration:.1f}s"
    )


# -- commands -------------------------------------------------------------------------


#: ``--concurrency`` of export and sync.
_concurrency_option = click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Requests in flight (all still go through the rate limiter).",
)


def _budget_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--budget``: the watcher's share of the hourly rate budget (watch, sync --follow)."""
    return click.option(
        "--budget",
        type=click.FloatRange(0, 1, min_open=True),
        default=0.5,
        show_default=True,
        help=help_text,
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--token",
    envvar=TOKEN_ENV,
    show_envvar=True,
    metavar="TOKEN",
    help=f"API token (default: ${TOKEN_ENV}).",
)
@click.option(
    "--base-url",
    envvar=BASE_URL_ENV,
    show_envvar=True,
    metavar="URL",
    help="API base URL (default: https://admin.trakk.ai/api/v1).",
)
@click.option(
    "--rate-limit",
    "windows",
    multiple=True,
    metavar="LIMIT/SECONDS",
    callback=lambda _ctx, _param, values: tuple(_window(v) for v in values),
    help="The token's limits if not Trakk's default 60/60 and 1000/3600 (repeatable).",
)
@click.option("--verbose", "-v", is_flag=True, help="Log every request to stderr.")
@click.version_option(package_name="trakk-async", prog_name="trakk")
@click.pass_context
def cli(
    ctx: click.Context,
    token: str | None,
    base_url: str | None,
    windows: tuple[tuple[int, float], ...],
    verbose: bool,
) -> None:
    """Work with the Trakk Agency API from a shell. Try `trakk demo` first."""
    ctx.obj = _Settings(
        token=token or None, base_url=base_url or None, verbose=verbose, windows=windows
    )
    if verbose:
        _log_to_stderr(ctx)


def _window(text: str) -> tuple[int, float]:
    limit, _, seconds = text.partition("/")
    try:
        window = int(limit), float(seconds)
    except ValueError:
        window = (0, 0.0)
    if window[0] < 1 or not window[1] > 0:
        raise click.BadParameter(f"{text!r} is not LIMIT/SECONDS, e.g. 60/60")
    return window


def _log_to_stderr(ctx: click.Context) -> None:
    # A handler of our own (not basicConfig): it works whoever configured the root logger,
    # and it is gone when the command ends (click's test runner closes that stderr).
    log = logging.getLogger("trakk_async")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)

    def restore() -> None:
        log.removeHandler(handler)
        log.setLevel(level)

    ctx.call_on_close(restore)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the JSON object.")
@click.pass_context
def me(ctx: click.Context, as_json: bool) -> None:
    """Who the token is: name, agency, abilities."""

    async def work(client: TrakkClient) -> None:
        who = await client.me()
        if as_json:
            click.echo(json_line(_jsonable(who)))
        else:
            render_me(_console(), who)

    _run(ctx, work)


@cli.command()
@click.option("--status", help="Only projects with this status (e.g. active).")
@click.option("--search", help="Only projects whose name or domain contains this.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def projects(ctx: click.Context, status: str | None, search: str | None, as_json: bool) -> None:
    """List the token's projects."""

    async def work(client: TrakkClient) -> None:
        pager = client.projects.list(status=status, search=search)
        if as_json:
            async for project in pager:
                click.echo(json_line(_jsonable(project)))
        else:
            render_projects(_console(), [p async for p in pager])

    _run(ctx, work)


@cli.command()
@click.argument("project", type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def reports(ctx: click.Context, project: int, as_json: bool) -> None:
    """List a project's reports, newest first."""

    async def work(client: TrakkClient) -> None:
        listing = await client.reports.list(project)
        if as_json:
            for report in listing:
                click.echo(json_line(_jsonable(report)))
        else:
            render_reports(_console(), listing)

    _run(ctx, work)


@cli.command()
@click.argument("project", type=click.IntRange(min=1))
@click.argument("number", type=click.IntRange(1, 26))
@click.option("--html", is_flag=True, help="Show the rendered html instead of the fields.")
@click.option(
    "--variant", type=click.IntRange(min=1), default=1, show_default=True, help="Variant (1-based)."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per keyword per line.")
@click.pass_context
def content(
    ctx: click.Context, project: int, number: int, html: bool, variant: int, as_json: bool
) -> None:
    """Show the content of report NUMBER (1-26) of PROJECT, one variant per keyword."""

    async def work(client: TrakkClient) -> None:
        report = await client.reports.content(project, number)
        if not as_json:
            render_content(_console(), report, variant=variant, html=html)
            return
        for item in report.keywords:
            line = {
                "keyword_id": item.keyword_id,
                "keyword": item.keyword,
                "keyword_url": item.keyword_url,
                "has_content": item.has_content,
                "html" if html else "content": pick_variant(item, variant, html),
            }
            click.echo(json_line(line))

    _run(ctx, work)


@cli.command()
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--project",
    "project_ids",
    type=click.IntRange(min=1),
    multiple=True,
    help="Export only this project (repeatable); default: every project.",
)
@click.option("--resume", is_flag=True, help="Skip projects already exported and unchanged.")
@_concurrency_option
@click.pass_context
def export(
    ctx: click.Context, dest: Path, project_ids: tuple[int, ...], resume: bool, concurrency: int
) -> None:
    """Export projects, keywords, reports and content into DEST (see trakk_async.export)."""

    async def work(client: TrakkClient) -> int:
        summary = await export_with_progress(
            client,
            dest,
            project_ids=project_ids or None,
            resume=resume,
            concurrency=concurrency,
            console=_console(stderr=True),
        )
        click.echo(summary_line(summary))
        for pid, error in summary.failed.items():
            click.echo(f"trakk: error: project {pid}: {error}", err=True)
        return 1 if summary.failed else 0

    _run(ctx, work)


@cli.command()
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--reconcile-share",
    type=click.FloatRange(0, 1, min_open=True),
    default=DEFAULT_RECONCILE_SHARE,
    show_default=True,
    help="Share of the projects whose reports are compared each run, in rotation, "
    "because the listing cannot show every completion.",
)
@click.option("--full", is_flag=True, help="Fetch every project's detail, keywords and reports.")
@_concurrency_option
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON line per file added, modified or removed."
)
@click.option(
    "--follow",
    is_flag=True,
    help="After the sync, keep DEST fresh through the report watcher until Ctrl-C.",
)
@_budget_option("With --follow: share of the hourly rate budget the watcher may use.")
@click.pass_context
def sync(
    ctx: click.Context,
    dest: Path,
    reconcile_share: float,
    full: bool,
    concurrency: int,
    as_json: bool,
    follow: bool,
    budget: float,
) -> None:
    """Bring the export directory DEST up to date (see trakk_async.export).

    The /projects listing says which projects are new, gone or changed; a share of the
    others is compared as well, in rotation. The summary goes to stdout (stderr with
    --json, whose stdout carries one line per changed file). Exit code 1 when a project
    failed (the next run tries it again) or another export or sync holds DEST.
    """
    if full and follow:
        raise click.UsageError("--full and --follow do not go together", ctx)

    def changed(change: FileChange) -> None:
        if as_json:
            click.echo(json_line(change.to_json()))

    def summary_out(summary: SyncSummary) -> None:
        click.echo(sync_line(summary), err=as_json)
        for pid, error in summary.failed.items():
            click.echo(f"trakk: error: project {pid}: {error}", err=True)

    async def work(client: TrakkClient) -> int:
        if follow:
            return await follow_dest(client)
        summary = await with_progress(
            client,
            _console(stderr=True),
            "sync",
            lambda progress: sync_projects(
                client,
                dest,
                reconcile_share=reconcile_share,
                full=full,
                concurrency=concurrency,
                progress=progress,
                on_change=changed,
            ),
        )
        summary_out(summary)
        return 1 if summary.failed else 0

    async def follow_dest(client: TrakkClient) -> int:
        def ready(plan: WatchPlan) -> None:
            click.echo(
                f"trakk: following {plan.projects} projects: a completed report lands in "
                f"{dest} within {_duration(plan.detection_bound)} "
                f"({plan.requests_per_hour:.0f} requests/hour); Ctrl-C stops",
                err=True,
            )

        def told(change: FileChange) -> None:
            if as_json:
                click.echo(json_line(change.to_json()))
            elif watching:
                click.echo(f"{change.change} {change.path}")

        watching = False

        def synced(summary: SyncSummary) -> None:
            nonlocal watching
            summary_out(summary)
            watching = True

        await follow_projects(
            client,
            dest,
            budget=budget,
            reconcile_share=reconcile_share,
            concurrency=concurrency,
            on_change=told,
            on_sync=synced,
            on_ready=ready,
        )
        return 0

    _run(ctx, work)


@cli.command()
@click.option(
    "--project",
    "project_ids",
    type=click.IntRange(min=1),
    multiple=True,
    help="Watch only this project (repeatable); default: every project.",
)
@click.option(
    "--checkpoint",
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite file remembering what was seen, across restarts.",
)
@click.option(
    "--exec",
    "command",
    metavar="CMD",
    help="Run CMD (through the shell) per event, the event JSON on its stdin.",
)
@_budget_option("Share of the hourly rate budget the watcher may use.")
@click.option("--max-events", type=click.IntRange(min=1), help="Stop after this many events.")
@click.pass_context
def watch(
    ctx: click.Context,
    project_ids: tuple[int, ...],
    checkpoint: Path | None,
    command: str | None,
    budget: float,
    max_events: int | None,
) -> None:
    """Print one JSON line per newly generated report, until Ctrl-C.

    With --exec, an event whose CMD fails (non-zero exit) is reported, not checkpointed,
    and the watch stops with exit code 1, so the next run delivers it again.
    """

    async def work(client: TrakkClient) -> int:
        store = SQLiteCheckpoint(checkpoint) if checkpoint is not None else None
        try:
            watcher = client.watch_reports(project_ids or None, checkpoint=store, budget=budget)
            async with watcher:
                seen = 0
                async for event in watcher:
                    line = json_line(event_json(event))
                    click.echo(line)
                    if command is not None:
                        status = await _exec(command, line)
                        if status != 0:
                            click.echo(
                                f"trakk: error: --exec exited with {status} for project "
                                f"{event.project_id} report #{event.report.report_number}; "
                                "event not checkpointed",
                                err=True,
                            )
                            return 1
                    seen += 1
                    if max_events is not None and seen >= max_events:
                        await watcher.commit()
                        return 0
        finally:
            if store is not None:
                await store.aclose()
        return 0

    _run(ctx, work)


async def _exec(command: str, line: str) -> int:
    process = await asyncio.create_subprocess_shell(command, stdin=asyncio.subprocess.PIPE)
    await process.communicate((line + "\n").encode())
    return process.returncode if process.returncode is not None else 1


@cli.command()
@click.option(
    "--projects",
    "export_count",
    type=click.IntRange(1, 20),
    default=4,
    show_default=True,
    help="How many projects the tour exports.",
)
def demo(export_count: int) -> None:
    """A tour against an embedded fake Trakk server: no token, no network."""
    from trakk_async.cli._demo import run_demo

    try:
        asyncio.run(run_demo(_console(), export_count=export_count))
    except BrokenPipeError:
        _reader_left()
    except (TrakkError, OSError) as error:
        _fail(_error_line(error))
    except KeyboardInterrupt:
        raise SystemExit(130) from None


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``trakk`` console script."""
    cli.main(args=argv, prog_name="trakk")
