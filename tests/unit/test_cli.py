"""The ``trakk`` command without a server: help, options, usage errors, formatting helpers."""

from __future__ import annotations

import copy
import io
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from rich.console import Console

from tests import samples
from tests.structuring import TIDY
from trakk_async._models.converter import structure_report_content
from trakk_async._models.objects import ReportContent
from trakk_async.cli import cli
from trakk_async.cli._render import content_lines, duration, plural, render_content, summary_line
from trakk_async.export import ExportSummary

COMMANDS = (
    "me",
    "projects",
    "project",
    "reports",
    "content",
    "keywords",
    "countries",
    "languages",
    "users",
    "api",
    "export",
    "watch",
    "demo",
)
GLOBAL_OPTIONS = ("--token", "--base-url", "--rate-limit", "--verbose")
NOWHERE = "http://127.0.0.1:9/api/v1"


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    listed = {line.split()[0] for line in result.stdout.splitlines() if line.startswith("  ")}
    assert set(COMMANDS) <= listed
    assert "TRAKK_API_TOKEN" in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_takes_the_global_options_too(command: str) -> None:
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    for option in GLOBAL_OPTIONS:
        assert option in result.stdout


def test_unknown_command_and_option_are_exit_2() -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["nope"]).exit_code == 2
    assert runner.invoke(cli, ["projects", "--nope"]).exit_code == 2
    assert runner.invoke(cli, ["reports", "zero"]).exit_code == 2
    assert runner.invoke(cli, ["export"]).exit_code == 2
    assert runner.invoke(cli, ["project"]).exit_code == 2
    assert runner.invoke(cli, ["keywords", "0"]).exit_code == 2
    assert runner.invoke(cli, ["users", "x"]).exit_code == 2


@pytest.mark.parametrize("where", ["before", "after"])
def test_missing_token_is_exit_2_before_any_request(where: str) -> None:
    # The base URL points nowhere: reaching the network would be exit 1, not 2.
    base = ["--base-url", NOWHERE]
    args = [*base, "projects"] if where == "before" else ["projects", *base]
    result = CliRunner().invoke(cli, args, env={"TRAKK_API_TOKEN": "", "TRAKK_BASE_URL": ""})
    assert result.exit_code == 2
    assert "no Trakk API token" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--token", "tk_x", "me"],
        ["me", "--token", "tk_x"],
        ["--token", "tk_y", "me", "--token", "tk_x"],
    ],
)
def test_a_token_given_before_or_after_the_command_is_used(args: list[str]) -> None:
    # With a token the client gets as far as the base URL, which it refuses: no request.
    env = {"TRAKK_API_TOKEN": "", "TRAKK_BASE_URL": "http://trakk.example/api/v1"}
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 2
    assert "refusing plain http://" in result.stderr
    assert "tk_x" not in result.output


@pytest.mark.parametrize("where", ["before", "after"])
def test_a_bad_rate_limit_is_a_usage_error_wherever_it_is(where: str) -> None:
    args = ["--rate-limit", "60", "me"] if where == "before" else ["me", "--rate-limit", "0/60"]
    result = CliRunner().invoke(cli, args, env={"TRAKK_API_TOKEN": "tk", "TRAKK_BASE_URL": NOWHERE})
    assert result.exit_code == 2
    assert "LIMIT/SECONDS" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["api", "/projects/../users"], "below the base URL"),
        (["api", "/projects?page=2"], "query"),
        (["api", "/me", "--param", "novalue"], "KEY=VALUE"),
        (["api", "/me", "-p", "a=1", "-p", "a=2"], "given twice"),
    ],
)
def test_api_usage_errors_come_before_any_request(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, args, env={"TRAKK_API_TOKEN": "tk", "TRAKK_BASE_URL": NOWHERE})
    assert result.exit_code == 2
    assert message in result.stderr


def test_duration() -> None:
    assert [duration(s) for s in (0, 59.4, 61, 3599, 3600, 7260)] == [
        "0s",
        "59s",
        "1m01s",
        "59m59s",
        "1h00m",
        "2h01m",
    ]


def test_plural() -> None:
    assert plural(1, "project") == "1 project"
    assert plural(0, "project") == "0 projects"
    assert plural(2, "retry", "retries") == "2 retries"
    assert plural(1, "retry", "retries") == "1 retry"
    assert plural(12345, "byte") == "12,345 bytes"


def _summary(**counts: Any) -> ExportSummary:
    fields: dict[str, Any] = {
        "dest": Path("out"),
        "projects": 3,
        "skipped": 2,
        "failed": {7: "NotFoundError: gone"},
        "files": 12,
        "bytes": 12345,
        "requests": 20,
        "rate_limited": 1,
        "retries": 2,
        "duration": 1.25,
    }
    return ExportSummary(**(fields | counts))


def test_summary_line() -> None:
    assert summary_line(_summary()) == (
        "exported 3 projects (2 unchanged), 1 failed to out: 12 files written (12,345 bytes), "
        "20 requests, 1 rate-limited, 2 retries, 1.2s"
    )


def test_summary_line_in_the_singular() -> None:
    one = _summary(projects=1, skipped=0, failed={}, files=1, bytes=1, requests=1, retries=1)
    assert summary_line(one) == (
        "exported 1 project to out: 1 file written (1 byte), 1 request, 1 rate-limited, "
        "1 retry, 1.2s"
    )


def _uneven_content() -> ReportContent:
    """h4 content whose first keyword has six variants and whose last has only one."""
    body = copy.deepcopy(samples.load("content_h4_text_blocks"))
    first = body["data"]["keywords"][0]
    last = copy.deepcopy(first)
    last |= {"keyword_id": first["keyword_id"] + 1000, "keyword": "one variant only"}
    last["content"], last["html"] = last["content"][:1], last["html"][:1]
    body["data"]["keywords"].append(last)
    return structure_report_content(body, *TIDY)


@pytest.mark.parametrize("html", [False, True])
def test_a_variant_one_keyword_lacks_fails_before_any_output(html: bool) -> None:
    content = _uneven_content()
    out = io.StringIO()
    with pytest.raises(click.UsageError, match="--variant 2"):
        render_content(Console(file=out), content, variant=2, html=html)
    assert out.getvalue() == ""
    with pytest.raises(click.UsageError, match="--variant 2"):
        content_lines(content, variant=2, html=html)
    # Variant 1 exists everywhere: every keyword is shown.
    render_content(Console(file=out, width=200), content, variant=1, html=html)
    assert "one variant only" in out.getvalue()
    assert len(content_lines(content, variant=1, html=html)) == len(content.keywords)
