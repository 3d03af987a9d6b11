"""Lazy iteration over the paged ``/projects`` listing.

A :class:`ProjectPager` requests a page only when its consumer reaches it, prefetching at
most the next one, so at most two pages are held at once. Whether another page follows is
the one paging rule of :mod:`trakk_async._protocol.paging`: it stops at the last page
whatever the server leaves out (no ``meta``, no ``links``, an empty page, ``links.next``
null) and cannot loop forever (a page that brings no project it has not yielded yet ends
the iteration, as does passing the page count ``meta`` announced).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable

from trakk_async._models.objects import Page, ProjectSummary
from trakk_async._protocol.paging import has_next_page

logger = logging.getLogger("trakk_async")

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

    async def page(self, number: int) -> Page:
        """Request page ``number`` (1-based) alone: one request, no prefetch.

        For walkers that pace their own requests (the report watcher); ask
        :meth:`has_next` whether another page follows.
        """
        if type(number) is not int or number < 1:
            raise ValueError(f"page number must be a positive int, got {number!r}")
        return await self._fetch(number)

    def has_next(self, page: Page, number: int, *, fresh: int) -> bool:
        """Whether page ``number + 1`` follows page ``number`` (see :func:`has_next_page`);
        ``fresh`` counts the page's projects not seen on earlier pages of the walk."""
        return has_next_page(page, number, self._per_page, fresh=fresh)

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
                more = self.has_next(page, number, fresh=len(new_ids))
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
