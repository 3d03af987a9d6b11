"""Lazy iteration over the paged ``/projects`` listing.

A :class:`ProjectPager` requests a page only when its consumer reaches it, prefetching at
most the next one, so at most two pages are held at once. It stops at the last page
whatever the server leaves out (no ``meta``, no ``links``, an empty page, ``links.next``
null) and cannot loop forever: a page that brings no project it has not yielded yet ends
the iteration, as does passing the page count ``meta`` announced.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Final

from trakk_async._models.objects import Page, ProjectSummary

logger = logging.getLogger("trakk_async")

#: A hard stop for servers that announce no page count at all.
MAX_PAGES_WITHOUT_META: Final = 10_000

FetchPage = Callable[[int], Awaitable[Page]]


class ProjectPager:
    """An async iterator over every project on every page of ``/projects``.

    ``async for project in client.projects.list(status="active"): ...`` yields
    :class:`ProjectSummary` objects, each project id at most once even if projects shift
    between pages while iterating. :meth:`pages` yields whole :class:`Page` objects (items,
    ``meta``, ``links``) instead. Arguments are validated when the pager is created, before
    any request; the first request is sent when iteration starts.
    """

    __slots__ = ("_fetch", "_per_page")

    def __init__(self, fetch: FetchPage, per_page: int) -> None:
        self._fetch = fetch
        self._per_page = per_page

    def __repr__(self) -> str:
        return f"<ProjectPager per_page={self._per_page}>"

    def __aiter__(self) -> AsyncIterator[ProjectSummary]:
        return self._items()

    async def _items(self) -> AsyncGenerator[ProjectSummary, None]:
        walk = self._walk()
        try:
            async for page, new_ids in walk:
                for project in page.items:
                    if project.id in new_ids:  # first sighting (also within the page)
                        new_ids.discard(project.id)
                        yield project
        finally:
            await walk.aclose()

    async def pages(self) -> AsyncGenerator[Page, None]:
        """Yield each page in order, fetching page N+1 while the consumer holds page N."""
        walk = self._walk()
        try:
            async for page, _new_ids in walk:
                yield page
        finally:
            await walk.aclose()

    async def _walk(self) -> AsyncGenerator[tuple[Page, set[int]], None]:
        """Each page with the ids it shows for the first time (one set of ids in all)."""
        seen: set[int] = set()
        number = 1
        pending: asyncio.Task[Page] | None = None
        try:
            page = await self._fetch(number)
            while True:
                new_ids = {p.id for p in page.items} - seen
                seen |= new_ids
                more = self._has_next(page, number) and bool(new_ids)
                if page.items and not new_ids and number > 1:
                    logger.warning(
                        "page %d of /projects repeated only projects already seen; "
                        "stopping instead of looping",
                        number,
                    )
                    return
                if more:
                    pending = asyncio.ensure_future(self._fetch(number + 1))
                if page.items or number == 1:
                    yield page, new_ids
                if not more or pending is None:
                    return
                page = await pending
                pending = None
                number += 1
        finally:
            if pending is not None:
                # Also when it is done already: a prefetch that failed after the consumer
                # left (say the client was closed) must not be logged as never retrieved.
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await pending

    def _has_next(self, page: Page, number: int) -> bool:
        if not page.items:
            return False
        meta, links = page.meta, page.links
        if links is not None and links.next is None:
            return False
        if meta is not None and meta.last_page is not None:
            return number < meta.last_page
        if links is None and meta is None:
            # Nothing says whether more follow: a full page suggests so, and a wrong
            # guess costs one request that comes back empty.
            return len(page.items) >= self._per_page and number < MAX_PAGES_WITHOUT_META
        return number < MAX_PAGES_WITHOUT_META
