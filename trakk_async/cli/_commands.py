"""The ``trakk`` commands (see the package docstring): one per endpoint, ``api``, export,
watch and demo."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import orjson
from rich.console import Console

from trakk_async._client.client import TrakkClient
from trakk_async._core.errors import TrakkError
from trakk_async._models.objects import Report
from trakk_async._protocol.core import check_api_path, resolve_api_link
from trakk_async.cli._app import (
    Settings,
    TrakkGroup,
    console,
    error_line,
    fail,
    global_options,
    run,
    run_with_client,
    verbose_logging,
)
from trakk_async.cli._feedback import (
    StatusLine,
    WaitStatus,
    announce_when_ready,
    export_with_progress,
    with_progress,
)
from trakk_async.cli._render import (
    content_lines,
    duration,
    json_line,
    jsonable,
    plural,
    render_content,
    render_keywords,
    render_labels,
    render_me,
    render_project,
    render_projects,
    render_reports,
    render_users,
    summary_line,
    sync_line,
)
from trakk_async.cli._watch import deliver
from trakk_async.export import FileChange, SyncSummary, follow_projects, sync_projects
from trakk_async.export._plan import DEFAULT_RECONCILE_SHARE
from trakk_async.watch import SQLiteCheckpoint, WatchPlan

if TYPE_CHECKING:
    from trakk_async._client.resources import Countries, Languages, Users

__all__ = ["cli", "main"]

_ID = click.IntRange(min=1)
_JSON = click.option("--json", "as_json", is_flag=True, help="JSON: one object per line.")
_CONCURRENCY = click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Requests in flight (all still go through the rate limiter).",
)


def _project_ids(verb: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--project`` (repeatable) of export, sync and watch: ``"VERB only this project"``."""
    return click.option(
        "--project",
        "project_ids",
        type=_ID,
        multiple=True,
        help=f"{verb} only this project (repeatable); default: every project.",
    )


def _budget(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--budget``: the report watcher's share of the hourly rate budget."""
    return click.option(
        "--budget",
        type=click.FloatRange(0, 1, min_open=True),
        default=0.5,
        show_default=True,
        help=help_text,
    )


@click.group(
    cls=TrakkGroup,
    params=global_options(on_group=True),
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(package_name="trakk-async", prog_name="trakk")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Work with the Trakk Agency API from a shell. Try `trakk demo` first.

    Global options go before or after the command: `trakk -v me` or `trakk me -v`.
    """
    ctx.ensure_object(Settings)


Render = Callable[[Console, Sequence[Any]], object]


def _show(found: Sequence[Any], as_json: bool, render: Render) -> None:
    """One JSON line per object with ``--json``, else the command's table."""
    if as_json:
        for item in found:
            click.echo(json_line(jsonable(item)))
    else:
        render(console(), found)


@cli.command()
@_JSON
@click.pass_context
def me(ctx: click.Context, as_json: bool) -> None:
    """Who the token is: name, agency, abilities."""

    async def work(client: TrakkClient) -> None:
        who = await client.me()
        if as_json:
            click.echo(json_line(jsonable(who)))
        else:
            render_me(console(), who)

    run(ctx, work)


@cli.command()
@click.option("--status", help="Only projects with this status (e.g. active).")
@click.option("--search", help="Only projects whose name or domain contains this.")
@_JSON
@click.pass_context
def projects(ctx: click.Context, status: str | None, search: str | None, as_json: bool) -> None:
    """List the token's projects."""

    async def work(client: TrakkClient) -> None:
        pager = client.projects.list(status=status, search=search)
        if as_json:
            async for project in pager:
                click.echo(json_line(jsonable(project)))
        else:
            render_projects(console(), [p async for p in pager])

    run(ctx, work)


@cli.command()
@click.argument("project_id", metavar="PROJECT", type=_ID)
@_JSON
@click.pass_context
def project(ctx: click.Context, project_id: int, as_json: bool) -> None:
    """Show one project in detail."""

    async def work(client: TrakkClient) -> None:
        found = await client.projects.get(project_id)
        _show([found], as_json, lambda out, items: render_project(out, items[0]))

    run(ctx, work)


@cli.command()
@click.argument("project_id", metavar="PROJECT", type=_ID)
@click.option(
    "--latest",
    "which",
    flag_value="latest",
    help="Only the current or upcoming report (/reports/latest).",
)
@click.option(
    "--last-generated",
    "which",
    flag_value="last-generated",
    help="Only the newest completed report (/reports/last-generated).",
)
@_JSON
@click.pass_context
def reports(ctx: click.Context, project_id: int, which: str | None, as_json: bool) -> None:
    """List a project's reports, newest first."""

    async def work(client: TrakkClient) -> None:
        found: Sequence[Report]
        if which == "latest":
            found = [await client.reports.latest(project_id)]
        elif which == "last-generated":
            found = [await client.reports.last_generated(project_id)]
        else:
            found = (await client.reports.list(project_id)).items
        _show(found, as_json, render_reports)

    run(ctx, work)


@cli.command()
@click.argument("project_id", metavar="PROJECT", type=_ID)
@click.argument("number", type=click.IntRange(1, 26))
@click.option("--html", is_flag=True, help="Show the rendered html instead of the fields.")
@click.option(
    "--variant", type=click.IntRange(min=1), default=1, show_default=True, help="Variant (1-based)."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per keyword per line.")
@click.pass_context
def content(
    ctx: click.Context, project_id: int, number: int, html: bool, variant: int, as_json: bool
) -> None:
    """Show the content of report NUMBER (1-26) of PROJECT, one variant per keyword."""

    async def work(client: TrakkClient) -> None:
        report = await client.reports.content(project_id, number)
        if not as_json:
            render_content(console(), report, variant=variant, html=html)
            return
        for line in content_lines(report, variant=variant, html=html):
            click.echo(line)

    run(ctx, work)


@cli.command()
@click.argument("project_id", metavar="PROJECT", type=_ID)
@_JSON
@click.pass_context
def keywords(ctx: click.Context, project_id: int, as_json: bool) -> None:
    """List a project's active keywords."""

    async def work(client: TrakkClient) -> None:
        _show((await client.keywords.list(project_id)).items, as_json, render_keywords)

    run(ctx, work)


def _reference_command(
    name: str,
    summary: str,
    namespace: Callable[[TrakkClient], Countries | Languages | Users],
    render: Render,
) -> None:
    """``trakk NAME [ID]``: list a reference collection, or show one item of it."""

    @click.argument("item_id", metavar="[ID]", type=_ID, required=False)
    @_JSON
    @click.pass_context
    def command(ctx: click.Context, item_id: int | None, as_json: bool) -> None:
        async def work(client: TrakkClient) -> None:
            resource = namespace(client)
            if item_id is None:
                found: Sequence[Any] = (await resource.list()).items
            else:
                found = [await resource.get(item_id)]
            _show(found, as_json, render)

        run(ctx, work)

    command.__doc__ = summary
    cli.command(name)(command)


_reference_command(
    "countries",
    "List the countries (or show the one with ID).",
    lambda c: c.countries,
    render_labels,
)
_reference_command(
    "languages",
    "List the languages (or show the one with ID).",
    lambda c: c.languages,
    render_labels,
)
_reference_command(
    "users",
    "List the users the token can see (or show the one with ID).",
    lambda c: c.users,
    render_users,
)


def _api_path(_ctx: click.Context, _param: click.Parameter, path: str) -> str:
    relative = path if path.startswith(("/", "http://", "https://")) else "/" + path
    if relative.startswith("/"):
        try:
            check_api_path(relative)
        except ValueError as error:
            raise click.BadParameter(str(error)) from None
    return relative


def _params(_ctx: click.Context, _param: click.Parameter, pairs: tuple[str, ...]) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE")
        if key in params:
            raise click.BadParameter(f"{key!r} is given twice")
        params[key] = value
    return params


@cli.command()
@click.argument("path", callback=_api_path)
@click.option(
    "--param",
    "-p",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    callback=_params,
    help="A query parameter (repeatable), e.g. --param status=active --param page=2.",
)
@click.pass_context
def api(ctx: click.Context, path: str, params: dict[str, str]) -> None:
    """GET any PATH below the base URL and print its JSON (for what no command covers).

    PATH is relative to the base URL (`/projects/42/reports`); a link the API gave works
    too, a full URL (a `links.next`) or a path from the host (a `links.latest_report`,
    `/api/v1/projects/42/reports/latest`). The request gets the token, the rate limiter and the
    retries of every other command. The JSON is indented on a terminal, one line when
    piped.
    """

    async def work(client: TrakkClient) -> None:
        # A usage error, before any request: the base URL is known only now (a global
        # option may follow the command). get_json resolves the link the same way.
        try:
            resolve_api_link(path, client.base_url)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="PATH") from None
        body = await client.get_json(path, params or None)
        pretty = orjson.OPT_INDENT_2 if console().is_terminal else 0
        click.echo(orjson.dumps(body, option=pretty).decode())

    run(ctx, work)


@cli.command()
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@_project_ids("Export")
@click.option("--resume", is_flag=True, help="Skip projects already exported and unchanged.")
@_CONCURRENCY
@click.pass_context
def export(
    ctx: click.Context, dest: Path, project_ids: tuple[int, ...], resume: bool, concurrency: int
) -> None:
    """Export projects, keywords, reports and content into DEST (see trakk_async.export)."""

    async def work(client: TrakkClient, waits: WaitStatus) -> int:
        summary = await export_with_progress(
            client,
            dest,
            project_ids=project_ids or None,
            resume=resume,
            concurrency=concurrency,
            console=console(stderr=True),
            waits=waits,
        )
        click.echo(summary_line(summary))
        for pid, error in summary.failed.items():
            click.echo(f"trakk: error: project {pid}: {error}", err=True)
        return 1 if summary.failed else 0

    run_with_client(ctx, work)


@cli.command()
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@_project_ids("Sync")
@click.option(
    "--reconcile-share",
    type=click.FloatRange(0, 1, min_open=True),
    default=DEFAULT_RECONCILE_SHARE,
    show_default=True,
    help="Share of the projects whose reports are compared each run, in rotation "
    "(the listing cannot show every completion).",
)
@click.option("--full", is_flag=True, help="Fetch every project's detail, keywords and reports.")
@_CONCURRENCY
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON line per file added, modified or removed."
)
@click.option(
    "--follow",
    is_flag=True,
    help="After the sync, keep DEST fresh through the report watcher until Ctrl-C.",
)
@_budget("With --follow: share of the hourly rate budget the watcher may use.")
@click.pass_context
def sync(
    ctx: click.Context,
    dest: Path,
    project_ids: tuple[int, ...],
    reconcile_share: float,
    full: bool,
    concurrency: int,
    as_json: bool,
    follow: bool,
    budget: float,
) -> None:
    """Bring the export directory DEST up to date (see trakk_async.export).

    The /projects listing tells which projects are new, gone or changed; a share of the
    others is compared too, in rotation. The summary goes to stdout (to stderr with
    --json, whose stdout has one line per changed file). Exit code 1 when a project
    failed (the next run tries it again) or another export or sync holds DEST.
    """
    if full and follow:
        raise click.UsageError("--full and --follow do not go together", ctx)
    watching = False

    def changed(change: FileChange) -> None:
        if as_json:
            click.echo(json_line(change.to_json()))
        elif watching:
            click.echo(f"{change.change} {change.path}")

    def synced(summary: SyncSummary) -> None:
        nonlocal watching
        click.echo(sync_line(summary), err=as_json)
        for pid, error in summary.failed.items():
            click.echo(f"trakk: error: project {pid}: {error}", err=True)
        watching = True

    def ready(plan: WatchPlan) -> None:
        click.echo(
            f"trakk: sync: following {plural(plan.projects, 'project')}: a completed report "
            f"lands in {dest} within {duration(plan.detection_bound)} "
            f"({plan.requests_per_hour:,.0f} requests/hour); Ctrl-C stops",
            err=True,
        )

    async def work(client: TrakkClient, waits: WaitStatus) -> int:
        ids = project_ids or None
        if follow:
            await follow_projects(
                client,
                dest,
                project_ids=ids,
                budget=budget,
                reconcile_share=reconcile_share,
                concurrency=concurrency,
                on_change=changed,
                on_sync=synced,
                on_ready=ready,
            )
            return 0
        summary = await with_progress(
            client,
            console(stderr=True),
            "sync",
            lambda progress: sync_projects(
                client,
                dest,
                project_ids=ids,
                reconcile_share=reconcile_share,
                full=full,
                concurrency=concurrency,
                progress=progress,
                on_change=changed,
            ),
            waits=waits,
        )
        synced(summary)
        return 1 if summary.failed else 0

    run_with_client(ctx, work)


@cli.command()
@_project_ids("Watch")
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
@_budget("Share of the hourly rate budget the watcher may use.")
@click.option("--max-events", type=_ID, help="Stop after this many events.")
@click.option(
    "--exec-timeout",
    type=click.FloatRange(0, min_open=True),
    default=300.0,
    show_default=True,
    metavar="SECONDS",
    help="Stop a CMD that runs longer than this (it counts as failed).",
)
@click.option(
    "--exec-retries",
    type=click.IntRange(min=0),
    default=2,
    show_default=True,
    help="Run a failed CMD again this many times, with backoff.",
)
@click.option(
    "--dead-letter",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append events whose CMD still fails to FILE (JSON lines) and go on.",
)
@click.pass_context
def watch(
    ctx: click.Context,
    project_ids: tuple[int, ...],
    checkpoint: Path | None,
    command: str | None,
    budget: float,
    max_events: int | None,
    exec_timeout: float,
    exec_retries: int,
    dead_letter: Path | None,
) -> None:
    """Print one JSON line per report that completes, until Ctrl-C.

    The watch first reads every project's reports (the baseline, no events) at the rate
    limiter's pace and says on stderr when that is done. With --exec, CMD runs once per
    event; a CMD that fails (non-zero exit) or runs longer than --exec-timeout is run
    again up to --exec-retries times. If it still fails, the event goes to the
    --dead-letter file and the watch goes on; without one, the event is not checkpointed
    and the watch stops with exit code 1, so the next run delivers it again.
    """

    async def work(client: TrakkClient) -> int:
        store = SQLiteCheckpoint(checkpoint) if checkpoint is not None else None
        try:
            watcher = client.watch_reports(project_ids or None, checkpoint=store, budget=budget)
            async with watcher:
                announcer = asyncio.ensure_future(
                    announce_when_ready(watcher, lambda text: click.echo(text, err=True))
                )
                try:
                    return await deliver(
                        watcher,
                        command=command,
                        timeout=exec_timeout,
                        retries=exec_retries,
                        dead_letter=dead_letter,
                        max_events=max_events,
                    )
                finally:
                    announcer.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await announcer
        finally:
            if store is not None:
                await store.aclose()

    run(ctx, work)


@cli.command()
@click.option(
    "--projects",
    "export_count",
    type=click.IntRange(1, 20),
    default=4,
    show_default=True,
    help="How many projects the tour exports.",
)
@click.pass_context
def demo(ctx: click.Context, export_count: int) -> None:
    """A tour against an embedded fake Trakk server: no token, no network."""
    from trakk_async.cli._demo import run_demo

    settings = ctx.find_object(Settings) or Settings()
    out = console()
    try:
        with verbose_logging(settings.verbose):
            asyncio.run(
                run_demo(
                    out,
                    export_count=export_count,
                    wait_sinks=[StatusLine(out)] if out.is_terminal else [],
                )
            )
    except BrokenPipeError:
        raise  # the group's to handle: exit 0
    except (TrakkError, OSError) as error:
        fail(error_line(error))
    except KeyboardInterrupt:
        raise SystemExit(130) from None


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``trakk`` console script."""
    cli.main(args=argv, prog_name="trakk")
