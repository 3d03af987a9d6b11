"""The token never reaches the ``trakk`` command's output or files, in any spelling."""

from __future__ import annotations

import html
import json
import urllib.parse
from pathlib import Path

import orjson
import pytest
from aioresponses import aioresponses
from click.testing import CliRunner, Result

from tests.conftest import BASE_URL
from tests.leaks import leaks
from tests.unit.support import url
from trakk_async.cli import cli

TOKEN = 'tk_live_S/E"C<R>&T|é0123'

ECHOES = {
    "php-json": json.dumps(TOKEN)[1:-1].replace("/", "\\/"),
    "html": html.escape(TOKEN),
    "percent": urllib.parse.quote(TOKEN, safe=""),
    "decimal": "".join(f"&#{ord(c)};" for c in TOKEN),
}


def trakk(*args: str) -> Result:
    env = {"TRAKK_API_TOKEN": TOKEN, "TRAKK_BASE_URL": BASE_URL, "TRAKK_NO_ENV_PROXY": "1"}
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


@pytest.mark.parametrize("echo", list(ECHOES))
def test_an_error_echoing_the_token_is_printed_without_it(
    mock_api: aioresponses, echo: str
) -> None:
    message = f"Invalid token {ECHOES[echo]}"
    body = orjson.dumps({"error": {"code": "unauthenticated", "message": message}})
    mock_api.get(url("/me"), status=401, body=body)
    result = trakk("me")
    assert result.exit_code == 1
    assert result.stderr.startswith("trakk: error: AuthenticationError")
    assert not leaks(result.output, TOKEN)


@pytest.mark.parametrize("echo", list(ECHOES))
def test_an_export_failure_echoing_the_token_is_reported_without_it(
    mock_api: aioresponses, echo: str, tmp_path: Path
) -> None:
    page = f"<html><pre>GET /projects/1/reports\nAuthorization: Bearer {ECHOES[echo]}</pre>"
    mock_api.get(url("/projects/1/reports"), status=403, body=page.encode(), repeat=True)
    result = trakk("--rate-limit", "1000/1", "export", str(tmp_path / "out"), "--project", "1")
    assert result.exit_code == 1
    assert "project 1: PermissionDeniedError" in result.stderr
    assert not leaks(result.output, TOKEN)
    for path in (tmp_path / "out").rglob("*"):
        if path.is_file():
            assert not leaks(path.read_text("utf-8", "replace"), TOKEN), path


@pytest.mark.parametrize("token", ["tk_live\x0b0123", "tk_live_0123\n", "tk live"])
def test_a_malformed_token_is_a_usage_error_that_does_not_show_it(token: str) -> None:
    env = {"TRAKK_API_TOKEN": token, "TRAKK_BASE_URL": BASE_URL}
    result = CliRunner().invoke(cli, ["me"], env=env)
    assert result.exit_code == 2
    assert "token contains" in result.stderr
    assert token.strip() not in result.output
