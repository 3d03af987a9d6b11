"""The ``trakk`` group: global options, running a command's work, errors and broken pipes.

Global options (``--token``, ``--base-url``, ``--rate-limit``, ``--no-env-proxy``, ``-v``,
``--strict``) are accepted before the subcommand and after it (``trakk me -v``):
:class:`TrakkGroup` adds the same options, without their environment variables, to every
subcommand it registers, and each given value is folded into one :class:`Settings` (after
the subcommand wins; ``--rate-limit`` values add up).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, NoReturn

import attrs
import click
from rich.console import Console

from trakk_async._client.client import TrakkClient
from trakk_async._core.errors import ConfigurationError, TrakkError
from trakk_async._core.redact import redact
from trakk_async._protocol.core import BASE_URL_ENV, TOKEN_ENV
from trakk_async.cli._feedback import LogLine, StatusLine, WaitSink, WaitStatus
from trakk_async.ratelimit import TokenBucketLimiter


@attrs.frozen
class Settings:
    """The global options, wherever they were given."""

    token: str | None = attrs.field(default=None, repr=False)
    base_url: str | None = None
    verbose: bool = False
    windows: tuple[tuple[int, float], ...] = ()
    no_env_proxy: bool = False
    strict: bool = False


class TrakkConsole(Console):
    """A rich console whose broken pipe is ours to handle (rich would exit 1 itself)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


def console(stderr: bool = False) -> Console:
    """The console commands print with (plain text when not a terminal)."""
    # highlight=False: no colour guessing inside data; rich drops styles when not a tty.
    return TrakkConsole(stderr=stderr, highlight=False, soft_wrap=not stderr)


# -- global options -------------------------------------------------------------------


def _window(text: str) -> tuple[int, float]:
    limit, _, seconds = text.partition("/")
    try:
        window = int(limit), float(seconds)
    except ValueError:
        window = (0, 0.0)
    if window[0] < 1 or not window[1] > 0:
        raise click.BadParameter(f"{text!r} is not LIMIT/SECONDS, e.g. 60/60")
    return window


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """Fold one global option's value, if given, into the context's :class:`Settings`."""
    if value in (None, False, "", ()):
        return
    settings = ctx.find_object(Settings) or Settings()
    if param.name == "windows":
        value = settings.windows + tuple(_window(v) for v in value)
    ctx.obj = attrs.evolve(settings, **{str(param.name): value})


def global_options(*, on_group: bool) -> list[click.Option]:
    """The global options; the group's also read the environment (the subcommands' don't,
    so that an environment variable never overrides a value given before the subcommand)."""

    def env(name: str) -> dict[str, Any]:
        return {"envvar": name, "show_envvar": True} if on_group else {}

    common: dict[str, Any] = {"expose_value": False, "callback": _remember}
    return [
        click.Option(
            ["--token"],
            metavar="TOKEN",
            help=f"API token (default: ${TOKEN_ENV}).",
            **env(TOKEN_ENV),
            **common,
        ),
        click.Option(
            ["--base-url"],
            metavar="URL",
            help="API base URL (default: https://admin.trakk.ai/api/v1).",
            **env(BASE_URL_ENV),
            **common,
        ),
        click.Option(
            ["--rate-limit", "windows"],
            multiple=True,
            metavar="LIMIT/SECONDS",
            help="The token's limits if not Trakk's default 60/60 and 1000/3600 (repeatable).",
            **common,
        ),
        click.Option(
            ["--no-env-proxy"],
            is_flag=True,
            help="Connect directly, ignoring HTTP(S)_PROXY (honoured by default).",
            **env("TRAKK_NO_ENV_PROXY"),
            **common,
        ),
        click.Option(
            ["--verbose", "-v"],
            is_flag=True,
            help="Log every request, and every wait longer than 2s, to stderr.",
            **common,
        ),
        click.Option(
            ["--strict"],
            is_flag=True,
            help="Fail when a response deviates from the documented shapes (for CI).",
            **common,
        ),
    ]


class TrakkGroup(click.Group):
    """A group whose subcommands take the global options too, and whose output may be
    cut short by its reader without an error (``trakk projects | head -1`` exits 0)."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        cmd.params.extend(global_options(on_group=False))
        super().add_command(cmd, name)

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        with reader_may_leave():  # --help, --version
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        with reader_may_leave():
            return super().invoke(ctx)


@contextlib.contextmanager
def reader_may_leave() -> Iterator[None]:
    """The reader of our output may go away (``| head``): then stop quietly, exit 0.

    stdout is flushed here, where a broken pipe is still ours to handle: at exit Python
    would report it and exit 120. stdout then points at /dev/null, so that flushing it
    again at exit cannot fail; an exit code already on its way (1, 2) is kept.
    """
    try:
        yield
    except BrokenPipeError:
        _stdout_to_devnull()
        raise SystemExit(0) from None
    finally:
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            _stdout_to_devnull()


def _stdout_to_devnull() -> None:
    try:
        fileno = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return  # not a real file (click's test runner): nothing to protect
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fileno)
    os.close(devnull)


# -- running a command ----------------------------------------------------------------


def fail(message: str, token: str | None = None) -> NoReturn:
    """Exit 1 with one line on stderr, never the token (in any spelling)."""
    if token:  # the SDK's errors are clean already; an OSError's text is not ours
        message = redact(message, token)
    click.echo(f"trakk: error: {message}", err=True)
    raise SystemExit(1)


def error_line(error: BaseException) -> str:
    """``"NotFoundError: the first line of its message"``."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


@contextlib.contextmanager
def verbose_logging(enabled: bool) -> Iterator[None]:
    """The SDK's log records on stderr, each once, while the command runs: its warnings
    (a deviating response, a stuck report), and with ``-v`` (``enabled``) every request
    and wait as well, timestamped."""
    # A handler of our own (not basicConfig), gone when the command ends (click's test
    # runner closes that stderr). The records stop at it: propagated, a handler above
    # (the root logger's, configured by a program running the command, or pytest's)
    # printed each one a second time.
    log = logging.getLogger("trakk_async")
    handler = logging.StreamHandler(sys.stderr)
    if enabled:
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    else:
        handler.setLevel(logging.WARNING)  # the bare message, as Python prints it by default
    level, propagate = log.level, log.propagate
    log.addHandler(handler)
    log.propagate = False
    if enabled:
        log.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
        log.propagate = propagate


def wait_sinks(verbose: bool) -> list[WaitSink]:
    """Where waits are told: a log line with ``-v``, else a status line on a terminal."""
    if verbose:
        return [LogLine()]
    stderr = console(stderr=True)
    return [StatusLine(stderr)] if stderr.is_terminal else []


Work = Callable[[TrakkClient, WaitStatus], Awaitable[int | None]]


def run_with_client(ctx: click.Context, work: Work, **client: Any) -> None:
    """Build the client from the global options, run ``work``, turn errors into one line.

    While ``work`` runs, its waits longer than two seconds are told (see ``WaitStatus``).
    """
    settings = ctx.find_object(Settings) or Settings()

    async def body() -> int | None:
        if settings.windows:
            client.setdefault("rate_limiter", TokenBucketLimiter(windows=settings.windows))
        client.setdefault("trust_env", not settings.no_env_proxy)
        client.setdefault("strict", settings.strict)
        async with (
            TrakkClient(settings.token, base_url=settings.base_url, **client) as c,
            WaitStatus(c, wait_sinks(settings.verbose)) as waits,
        ):
            return await work(c, waits)

    try:
        with verbose_logging(settings.verbose):
            code = asyncio.run(body())
    except ConfigurationError as error:
        message = str(error).replace("pass TrakkClient(token=...)", "pass --token")
        raise click.UsageError(message, ctx) from None
    except BrokenPipeError:
        raise  # the group's to handle: exit 0
    except (TrakkError, OSError) as error:
        fail(error_line(error), settings.token)
    except KeyboardInterrupt:
        click.echo("trakk: interrupted", err=True)
        raise SystemExit(130) from None
    if code:
        raise SystemExit(code)


def run(ctx: click.Context, work: Callable[[TrakkClient], Awaitable[int | None]]) -> None:
    """:func:`run_with_client` for work that needs only the client."""
    run_with_client(ctx, lambda client, _waits: work(client))
