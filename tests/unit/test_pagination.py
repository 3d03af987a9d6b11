"""The /projects pager: laziness, termination and de-duplication on any page layout."""

from __future__ import annotations

import asyncio
import gc
import logging
import weakref
from collections.abc import Sequence
from typing import Any

import pytest
from aioresponses import aioresponses
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.structuring import TIDY
from tests.unit.support import make_client, sent, url
from trakk_async import NotFoundError, Page, ProjectPager
from trakk_async._models.converter import structure_page
from trakk_async._protocol.paging import MAX_PAGES_WITHOUT_META


def project(pid: int) -> dict[str, Any]:
    return {
        "id": pid,
        "name": f"Project {pid}",
        "status": "active",
        "keyword_count": 3,
        "latest_report_generated_at": None,
        "latest_report_id": None,
        "latest_report_number": None,
        "latest_report_status": None,
        "links": {
            "latest_report": f"/api/v1/projects/{pid}/reports/latest",
            "last_generated_report": f"/api/v1/projects/{pid}/reports/last-generated",
        },
    }


def page_body(
    ids: Sequence[int],
    number: int,
    *,
    last_page: int | None,
    per_page: int = 100,
    meta: bool = True,
    links: bool = True,
    always_next: bool = False,
) -> dict[str, Any]:
    body: dict[str, Any] = {"data": [project(i) for i in ids]}
    if meta:
        body["meta"] = {"current_page": number, "last_page": last_page, "per_page": per_page}
    if links:
        more = always_next or (last_page is not None and number < last_page)
        body["links"] = {"next": f"https://x.test/projects?page={number + 1}" if more else None}
    return body


class Server:
    """Serves pages from a layout and records what was asked, holding no page itself."""

    def __init__(self, layout: Sequence[Sequence[int]], **options: Any) -> None:
        self.layout = layout
        self.options = options
        self.requested: list[int] = []
        self.alive: list[weakref.ref[Page]] = []

    async def fetch(self, number: int) -> Page:
        self.requested.append(number)
        ids = self.layout[number - 1] if number <= len(self.layout) else []
        options = {"last_page": len(self.layout), **self.options}
        page = structure_page(page_body(ids, number, **options), *TIDY)
        self.alive.append(weakref.ref(page))
        return page

    def live_pages(self) -> int:
        gc.collect()
        return sum(ref() is not None for ref in self.alive)


def chunks(ids: Sequence[int], size: int) -> list[list[int]]:
    return [list(ids[i : i + size]) for i in range(0, len(ids), size)]


async def collect(pager: ProjectPager) -> list[int]:
    return [p.id async for p in pager]


async def test_one_page() -> None:
    server = Server([[1, 2, 3]])
    assert await collect(ProjectPager(server.fetch, 100)) == [1, 2, 3]
    assert server.requested == [1]


async def test_three_pages() -> None:
    server = Server(chunks(range(1, 251), 100))
    assert await collect(ProjectPager(server.fetch, 100)) == list(range(1, 251))
    assert server.requested == [1, 2, 3]


async def test_empty_listing() -> None:
    server = Server([[]])
    pager = ProjectPager(server.fetch, 100)
    assert await collect(pager) == []
    pages = [page async for page in pager.pages()]
    assert len(pages) == 1
    assert pages[0].items == ()
    assert server.requested == [1, 1]


async def test_projects_shifting_between_pages_are_yielded_once() -> None:
    # A project was added at the top while iterating: each page repeats the previous one's
    # last item.
    layout = [list(range(1, 101)), list(range(100, 200)), list(range(199, 251))]
    server = Server(layout)
    ids = await collect(ProjectPager(server.fetch, 100))
    assert ids == list(range(1, 251))
    assert server.requested == [1, 2, 3]


@pytest.mark.parametrize(("total", "fetches"), [(250, 3), (200, 3), (3, 1), (0, 1)])
async def test_missing_meta_and_links_stops_at_a_short_or_empty_page(
    total: int, fetches: int
) -> None:
    layout = chunks(range(1, total + 1), 100) or [[]]
    server = Server(layout, meta=False, links=False)
    assert await collect(ProjectPager(server.fetch, 100)) == list(range(1, total + 1))
    assert server.requested == list(range(1, fetches + 1))


async def test_meta_alone_is_enough() -> None:
    server = Server(chunks(range(1, 251), 100), links=False)
    assert await collect(ProjectPager(server.fetch, 100)) == list(range(1, 251))
    assert server.requested == [1, 2, 3]


async def test_links_next_null_stops_even_if_meta_promises_more() -> None:
    requested: list[int] = []

    async def fetch(number: int) -> Page:
        requested.append(number)
        body = page_body([number * 10, number * 10 + 1], number, last_page=5, per_page=2)
        body["links"]["next"] = None
        return structure_page(body, *TIDY)

    assert await collect(ProjectPager(fetch, 2)) == [10, 11]
    assert requested == [1]


async def test_a_server_that_ignores_page_and_always_links_next_terminates(
    caplog: pytest.LogCaptureFixture,
) -> None:
    requested: list[int] = []

    async def fetch(number: int) -> Page:
        requested.append(number)
        return structure_page(
            page_body([1, 2, 3], 1, last_page=None, per_page=3, meta=False, always_next=True), *TIDY
        )

    with caplog.at_level(logging.WARNING, logger="trakk_async"):
        assert await collect(ProjectPager(fetch, 3)) == [1, 2, 3]
    assert requested == [1, 2]
    assert "repeated only projects already seen" in caplog.text


async def test_always_next_with_meta_stops_at_last_page() -> None:
    server = Server(chunks(range(1, 31), 10), always_next=True)
    assert await collect(ProjectPager(server.fetch, 10)) == list(range(1, 31))
    assert server.requested == [1, 2, 3]


async def test_an_endless_server_with_new_projects_is_cut_off() -> None:
    requested: list[int] = []

    async def fetch(number: int) -> Page:
        requested.append(number)
        return structure_page(
            page_body([number], number, last_page=None, per_page=1, meta=False, always_next=True),
            *TIDY,
        )

    ids = await collect(ProjectPager(fetch, 1))
    assert len(ids) == MAX_PAGES_WITHOUT_META
    assert len(requested) == MAX_PAGES_WITHOUT_META


async def test_prefetches_at_most_one_page_and_holds_at_most_two() -> None:
    server = Server(chunks(range(1, 501), 100))
    seen_pages: set[int] = set()
    async for p in ProjectPager(server.fetch, 100):
        current = (p.id - 1) // 100 + 1
        seen_pages.add(current)
        for _ in range(3):  # let any prefetch task run
            await asyncio.sleep(0)
        assert max(server.requested) <= current + 1
        if p.id % 100 in (0, 1, 50):  # a full collection per item would be slow
            assert server.live_pages() <= 2
    assert server.requested == [1, 2, 3, 4, 5]
    assert seen_pages == {1, 2, 3, 4, 5}


async def test_pages_are_requested_only_when_reached() -> None:
    server = Server(chunks(range(1, 501), 100))
    pager = ProjectPager(server.fetch, 100)
    assert server.requested == []
    iterator = aiter(pager)
    first = await anext(iterator)
    assert first.id == 1
    for _ in range(3):
        await asyncio.sleep(0)
    assert server.requested == [1, 2]
    await iterator.aclose()  # type: ignore[attr-defined]


async def test_stopping_early_cancels_the_prefetch() -> None:
    gate = asyncio.Event()
    cancelled: list[int] = []

    async def fetch(number: int) -> Page:
        if number > 1:
            try:
                await gate.wait()
            except asyncio.CancelledError:
                cancelled.append(number)
                raise
        return structure_page(page_body(range(1, 11), number, last_page=3, per_page=10), *TIDY)

    async for p in ProjectPager(fetch, 10):
        assert p.id == 1
        await asyncio.sleep(0)
        break
    # The abandoned iterator is closed by the event loop's async-generator finalizer on
    # its next turns, which cancels the prefetch instead of leaving it running.
    for _ in range(5):
        await asyncio.sleep(0)
    assert cancelled == [2]


async def test_an_error_on_a_later_page_propagates_after_the_earlier_items() -> None:
    got: list[int] = []

    async def fetch(number: int) -> Page:
        if number == 2:
            raise NotFoundError("gone", status=404, code="not_found", path="/projects")
        return structure_page(page_body([1, 2], 1, last_page=2, per_page=2), *TIDY)

    async def consume() -> None:
        async for p in ProjectPager(fetch, 2):
            got.append(p.id)

    with pytest.raises(NotFoundError):
        await consume()
    assert got == [1, 2]


async def test_three_pages_over_http(mock_api: aioresponses) -> None:
    for number, ids in enumerate(chunks(range(1, 251), 100), start=1):
        mock_api.get(
            url("/projects", {"per_page": "100", "page": str(number), "status": "active"}),
            payload=page_body(ids, number, last_page=3),
        )
    async with make_client() as client:
        ids = [p.id async for p in client.projects.list(status="active")]
    assert ids == list(range(1, 251))
    assert sorted(dict(u.query)["page"] for _, u, _ in sent(mock_api)) == ["1", "2", "3"]


# ------------------------------------------------------------------ any page layout

layouts = st.lists(
    st.lists(st.integers(min_value=1, max_value=40), max_size=6), min_size=1, max_size=6
)


@settings(max_examples=300, deadline=None)
@given(
    layout=layouts,
    meta=st.booleans(),
    links=st.booleans(),
    always_next=st.booleans(),
    last_page=st.none() | st.integers(min_value=0, max_value=9),
    per_page=st.integers(min_value=1, max_value=6),
)
def test_any_layout_terminates_and_yields_each_id_once(
    layout: list[list[int]],
    meta: bool,
    links: bool,
    always_next: bool,
    last_page: int | None,
    per_page: int,
) -> None:
    server = Server(
        layout,
        meta=meta,
        links=links,
        always_next=always_next,
        last_page=last_page,
        per_page=per_page,
    )
    ids = asyncio.run(collect(ProjectPager(server.fetch, per_page)))
    assert len(ids) == len(set(ids))
    assert set(ids) <= {i for page in layout for i in page}
    # Past the layout every page is empty, so one extra request is the most it may cost.
    assert len(server.requested) <= len(layout) + 1
    assert server.requested == list(range(1, len(server.requested) + 1))


@settings(max_examples=200, deadline=None)
@given(
    total=st.integers(min_value=0, max_value=60),
    per_page=st.integers(min_value=1, max_value=10),
    meta=st.booleans(),
    links=st.booleans(),
)
def test_a_well_behaved_server_gives_every_project_in_order(
    total: int, per_page: int, meta: bool, links: bool
) -> None:
    layout = chunks(range(1, total + 1), per_page) or [[]]
    server = Server(layout, meta=meta, links=links, per_page=per_page)
    ids = asyncio.run(collect(ProjectPager(server.fetch, per_page)))
    assert ids == list(range(1, total + 1))
    assert len(server.requested) <= len(layout) + 1


async def test_leaving_early_then_closing_the_client_logs_no_orphaned_prefetch(
    mock_api: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    for number in (1, 2, 3):
        mock_api.get(
            url("/projects", {"per_page": "2", "page": str(number)}),
            payload=page_body([2 * number - 1, 2 * number], number, last_page=3, per_page=2),
        )
    async with make_client() as client:
        async for p in client.projects.list(per_page=2):
            assert p.id == 1
            break
    for _ in range(5):  # let the loop finalize the abandoned iterator and its prefetch
        await asyncio.sleep(0)
    gc.collect()
    assert "never retrieved" not in caplog.text
    assert len(sent(mock_api)) <= 2
