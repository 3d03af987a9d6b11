"""Bad arguments raise before any request: aioresponses has no URL registered at all."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aioresponses import aioresponses

from tests.unit.support import OpenLimiter, make_client, request_count
from trakk_async import APIConnectionError, TrakkClient

#: 2**63 and past: no Trakk id (a signed 64-bit integer) can be that large.
BAD_IDS: list[Any] = ["42/../users", "42", True, False, 0, -1, 4.0, None, 2**63, 2**64, 10**400]

ID_CALLS: dict[str, Callable[[TrakkClient, Any], Any]] = {
    "projects.get": lambda c, v: c.projects.get(v),
    "reports.list": lambda c, v: c.reports.list(v),
    "reports.latest": lambda c, v: c.reports.latest(v),
    "reports.last_generated": lambda c, v: c.reports.last_generated(v),
    "reports.content": lambda c, v: c.reports.content(v, 1),
    "keywords.list": lambda c, v: c.keywords.list(v),
    "countries.get": lambda c, v: c.countries.get(v),
    "languages.get": lambda c, v: c.languages.get(v),
    "users.get": lambda c, v: c.users.get(v),
}


@pytest.mark.parametrize("value", BAD_IDS, ids=repr)
@pytest.mark.parametrize("call", list(ID_CALLS))
async def test_a_bad_id_is_refused_before_any_request(
    mock_api: aioresponses, call: str, value: Any
) -> None:
    limiter = OpenLimiter()
    async with make_client(limiter=limiter) as client:
        with pytest.raises(ValueError, match="must be a positive int"):
            await ID_CALLS[call](client, value)
    assert request_count(mock_api) == 0
    assert limiter.acquired == 0


@pytest.mark.parametrize("number", [0, 27, -1, 100, True, "5", 5.0], ids=repr)
async def test_a_report_number_outside_1_to_26_is_refused(
    mock_api: aioresponses, number: Any
) -> None:
    async with make_client() as client:
        with pytest.raises(ValueError, match="1 to 26"):
            await client.reports.content(42, number)
        with pytest.raises(ValueError, match="1 to 26"):
            await client.reports.wait_for_completion(42, report_number=number)
    assert request_count(mock_api) == 0


@pytest.mark.parametrize("per_page", [0, 101, -1, True, "50", 50.0], ids=repr)
async def test_per_page_outside_1_to_100_is_refused_when_listing(
    mock_api: aioresponses, per_page: Any
) -> None:
    async with make_client() as client:
        with pytest.raises(ValueError, match="per_page"):
            client.projects.list(per_page=per_page)
    assert request_count(mock_api) == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"status": ""},
        {"status": 3},
        {"search": "  "},
        {"search": b"abc"},
        {"agency_id": "12"},
        {"agency_id": 0},
        {"agency_id": True},
    ],
    ids=repr,
)
async def test_bad_filter_values_are_refused(
    mock_api: aioresponses, kwargs: dict[str, Any]
) -> None:
    async with make_client() as client:
        with pytest.raises(ValueError):
            client.projects.list(**kwargs)
    assert request_count(mock_api) == 0


@pytest.mark.parametrize("kwargs", [{"page": 2}, {"sort": "name"}, {"agency": 12}], ids=repr)
async def test_an_unknown_filter_is_a_type_error(
    mock_api: aioresponses, kwargs: dict[str, Any]
) -> None:
    async with make_client() as client:
        with pytest.raises(TypeError):
            client.projects.list(**kwargs)
    assert request_count(mock_api) == 0


async def test_positional_filters_are_a_type_error(mock_api: aioresponses) -> None:
    async with make_client() as client:
        with pytest.raises(TypeError):
            client.projects.list("active")  # type: ignore[call-arg]
    assert request_count(mock_api) == 0


@pytest.mark.parametrize("value", [1, 26])
async def test_the_bounds_are_accepted(mock_api: aioresponses, value: int) -> None:
    """The counterpart: valid edges do reach the (unregistered, hence failing) network."""
    async with make_client(max_retries=0) as client:
        with pytest.raises(APIConnectionError, match="Connection refused"):
            await client.reports.content(value, value)
    assert request_count(mock_api) == 1


async def test_the_largest_possible_id_is_sent(mock_api: aioresponses) -> None:
    async with make_client(max_retries=0) as client:
        with pytest.raises(APIConnectionError, match="Connection refused"):
            await client.projects.get(2**63 - 1)
    assert request_count(mock_api) == 1
