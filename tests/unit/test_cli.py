"""The ``trakk`` command without a server: help, usage errors, formatting helpers."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from trakk_async.cli import cli
from trakk_async.cli._render import duration as _duration
from trakk_async.cli._render import summary_line
from trakk_async.export import ExportSummary


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for command in ("me", "projects", "reports", "content", "export", "watch", "demo"):
        assert f"  {command}" in result.stdout
    assert "TRAKK_API_TOKEN" in result.stdout


def test_unknown_command_and_option_are_exit_2() -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["nope"]).exit_code == 2
    assert runner.invoke(cli, ["projects", "--nope"]).exit_code == 2
    assert runner.invoke(cli, ["reports", "zero"]).exit_code == 2
    assert runner.invoke(cli, ["export"]).exit_code == 2


def test_missing_token_is_exit_2_before_any_request() -> None:
    # The base URL points nowhere: reaching the network would be exit 1, not 2.
    result = CliRunner().invoke(
        cli, ["projects"], env={"TRAKK_API_TOKEN": "", "TRAKK_BASE_URL": "http://127.0.0.1:9"}
    )
    assert result.exit_code == 2
    assert "no Trakk API token" in result.stderr


def test_duration() -> None:
    assert [_duration(s) for s in (0, 59.4, 61, 3599, 3600, 7260)] == [
        "0s",
        "59s",
        "1m01s",
        "59m59s",
        "1h00m",
        "2h01m",
    ]


def test_summary_line() -> None:
    summary = ExportSummary(
        dest=Path("out"),
        projects=3,
        skipped=2,
        failed={7: "NotFoundError: gone"},
        files=12,
        bytes=12345,
        requests=20,
        rate_limited=1,
        retries=2,
        duration=1.25,
    )
    assert summary_line(summary) == (
        "exported 3 projects (2 unchanged), 1 failed to out: 12 files written (12,345 bytes), "
        "20 requests, 1 rate-limited, 2 retries, 1.2s"
    )
