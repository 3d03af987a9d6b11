"""Tolerance through the client (aioresponses): deviations counted and warned once per client,
strict mode, broken identities, and bodies no rule foresaw all ending as TrakkErrors."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import pytest
from aioresponses import aioresponses
from click.testing import CliRunner

from tests import samples
from tests.conftest import BASE_URL, TOKEN
from tests.structuring import minimal
from tests.unit.support import make_client, url
from tests.unit.test_endpoints import ENDPOINTS, Call
from trakk_async import ConfigurationError, InvalidResponseError, TrakkClient, TrakkError
from trakk_async._models import converter
from trakk_async.cli._commands import cli


def _detail(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = samples.load("project_detail")
    body["data"] |= changes
    return body


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "trakk_async" and r.levelno == logging.WARNING
    ]


async def test_an_unreadable_optional_field_is_none_counted_and_warned_once(
    mock_api: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    mock_api.get(url("/projects/42"), payload=_detail(cc_email=5), repeat=True)
    caplog.set_level(logging.WARNING, logger="trakk_async")
    async with make_client() as client:
        assert client.deviations == {}
        project = await client.projects.get(42)
        assert project.cc_email is None
        assert project.contact_email == "seo@example-client.de"
        assert client.deviations == {"Project.cc_email": 1}
        await client.projects.get(42)
        assert client.deviations == {"Project.cc_email": 2}
    (message,) = _warnings(caplog)
    assert "GET /projects/42" in message
    assert "$.data.cc_email" in message
    assert "integer" in message
    async with make_client() as other:  # each client warns (and counts) on its own
        await other.projects.get(42)
        assert other.deviations == {"Project.cc_email": 1}
    assert len(_warnings(caplog)) == 2


async def test_deviations_is_a_snapshot(mock_api: aioresponses) -> None:
    mock_api.get(url("/projects/42"), payload=_detail(plan=["pro"]), repeat=True)
    async with make_client() as client:
        await client.projects.get(42)
        before = client.deviations
        await client.projects.get(42)
        assert before == {"Project.plan": 1}
        assert client.deviations == {"Project.plan": 2}


async def test_strict_mode_raises_on_the_deviation_and_counts_nothing(
    mock_api: aioresponses,
) -> None:
    mock_api.get(url("/projects/42"), payload=_detail(cc_email=5))
    async with make_client(strict=True) as client:
        assert client.strict
        with pytest.raises(InvalidResponseError) as info:
            await client.projects.get(42)
        assert client.deviations == {}
    error = info.value
    assert error.path == "/projects/42"
    assert error.status == 200
    assert "$.data.cc_email: expected a string, got integer" in str(error)


async def test_strict_mode_accepts_what_the_documentation_allows(mock_api: aioresponses) -> None:
    body = _detail(cc_email=None, country=[], created_at="", keyword_count=10.0, status="new")
    del body["data"]["plan"]
    body["data"]["added_later"] = {"x": [1]}
    mock_api.get(url("/projects/42"), payload=body)
    async with make_client(strict=True) as client:
        project = await client.projects.get(42)
    assert (project.cc_email, project.country, project.created_at, project.plan) == (None,) * 4
    assert (project.keyword_count, project.status) == (10, "new")


@pytest.mark.parametrize("strict", [False, True])
async def test_a_broken_identity_raises_in_both_modes(mock_api: aioresponses, strict: bool) -> None:
    mock_api.get(url("/projects/42"), payload=_detail(id=None))
    async with make_client(strict=strict) as client:
        with pytest.raises(InvalidResponseError, match=r"\$\.data\.id: required field is null"):
            await client.projects.get(42)


async def test_one_odd_keyword_does_not_cost_the_listing(mock_api: aioresponses) -> None:
    body = samples.load("keywords")
    body["data"][0]["latest_position"] = None  # not ranked yet: legal
    body["data"][1]["latest_position"] = "n/a"  # not an int: a deviation
    body["data"][1]["content_action_ids"] = [1, None, 9.0]
    mock_api.get(url("/projects/42/keywords"), payload=body)
    async with make_client() as client:
        keywords = await client.keywords.list(42)
        assert [k.id for k in keywords] == [501, 502]
        assert [k.latest_position for k in keywords] == [None, None]
        assert keywords[1].content_action_ids == (1, 9)
        assert client.deviations == {"Keyword.latest_position": 1, "Keyword.content_action_ids": 1}


async def test_one_odd_project_does_not_stop_the_iteration(mock_api: aioresponses) -> None:
    body = samples.load("projects_page")
    body["data"][1]["latest_report_generated_at"] = "n/a"
    body["data"][2]["links"]["extra"] = 1
    mock_api.get(url("/projects", {"per_page": "100", "page": "1"}), payload=body)
    async with make_client() as client:
        ids = [p.id async for p in client.projects.list()]
        assert ids == [42, 43, 44]
        assert client.deviations == {"ProjectSummary.latest_report_generated_at": 1}


def _deep(depth: int) -> bytes:
    return b'{"data":' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize("depth", [300, 1000, 5000])
async def test_deeply_nested_bodies_are_invalid_responses(
    mock_api: aioresponses, depth: int
) -> None:
    # Re-encoding such a body for the error's excerpt used to raise a plain TypeError.
    body = _deep(depth)
    for path in ("/me", "/projects/42", "/projects/42/reports", "/projects/42/reports/3/content"):
        mock_api.get(url(path), body=body)
    async with make_client(max_retries=0) as client:
        for call in (
            client.me(),
            client.projects.get(42),
            client.reports.list(42),
            client.reports.content(42, 3),
        ):
            with pytest.raises(InvalidResponseError) as info:
                await call
            assert info.value.excerpt.startswith('{"data":[[[')


async def test_an_unforeseen_failure_while_reading_is_still_a_trakk_error(
    mock_api: aioresponses, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(body: Any, deviations: Any, endpoint: str) -> Any:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(converter, "structure_me", broken)
    mock_api.get(url("/me"), payload=samples.load("me"))
    async with make_client() as client:
        with pytest.raises(InvalidResponseError, match="RecursionError") as info:
            await client.me()
    assert isinstance(info.value, TrakkError)
    assert info.value.__cause__ is None
    assert info.value.__context__ is None  # nothing chained, whatever it held


async def test_the_excerpt_quotes_the_bytes_received_without_the_token(
    mock_api: aioresponses,
) -> None:
    raw = orjson.dumps({"data": {"id": "echo " + TOKEN}})
    mock_api.get(url("/projects/42"), body=raw)
    async with make_client() as client:
        with pytest.raises(InvalidResponseError) as info:
            await client.projects.get(42)
    assert TOKEN not in str(info.value)
    assert "[token]" in info.value.excerpt


@pytest.mark.parametrize("strict", ["yes", 1, None])
def test_strict_must_be_a_bool(strict: Any) -> None:
    with pytest.raises(ConfigurationError, match="strict"):
        TrakkClient(TOKEN, strict=strict)


def test_the_cli_strict_option_reaches_the_client(mock_api: aioresponses) -> None:
    mock_api.get(url("/me"), payload=samples.load("me") | {"abilities": "all"}, repeat=True)
    env = {"TRAKK_API_TOKEN": TOKEN, "TRAKK_BASE_URL": BASE_URL}
    runner = CliRunner()
    tolerant = runner.invoke(cli, ["me", "--json"], env=env)
    assert tolerant.exit_code == 0, tolerant.output
    assert orjson.loads(tolerant.stdout)["abilities"] == []
    strict = runner.invoke(cli, ["--strict", "me"], env=env)
    assert strict.exit_code == 1
    assert "InvalidResponseError" in strict.stderr
    assert "$.abilities: expected an array, got string" in strict.stderr
    assert TOKEN not in strict.stderr


@pytest.mark.parametrize(
    ("path", "sample", "call", "result_type"),
    [pytest.param(*e[1:5], id=e[0]) for e in ENDPOINTS],
)
async def test_every_endpoint_takes_a_response_with_only_the_required_fields(
    mock_api: aioresponses, path: str, sample: str, call: Call, result_type: type
) -> None:
    mock_api.get(url(path), payload=minimal(sample))
    async with make_client(strict=True) as client:  # leaving fields out is no deviation
        result = await call(client)
    assert result_type in type(result).__mro__
