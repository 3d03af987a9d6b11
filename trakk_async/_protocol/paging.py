"""The one rule for walking the paged ``/projects`` listing: is there another page?

Every walker of ``/projects`` (the client's :class:`~trakk_async._client.pager.ProjectPager`,
the report watcher's listing passes, the export) asks :func:`has_next_page`, so a server
that leaves out ``meta``, or ``links``, or both, is walked the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Sized
from typing import Final, Protocol

#: A hard stop for servers that announce no page count at all.
MAX_PAGES_WITHOUT_META: Final = 10_000


class _Meta(Protocol):
    @property
    def last_page(self) -> int | None: ...


class _Links(Protocol):
    @property
    def next(self) -> str | None: ...


class PageLike(Protocol):
    """What the rule reads of a page (a :class:`~trakk_async.Page`)."""

    @property
    def items(self) -> Sized: ...

    @property
    def meta(self) -> _Meta | None: ...

    @property
    def links(self) -> _Links | None: ...


def has_next_page(page: PageLike, number: int, per_page: int, *, fresh: int) -> bool:
    """Whether page ``number + 1`` should be requested after page ``number``.

    ``fresh`` is how many of the page's projects the walk had not seen on an earlier page.
    No: after an empty page, a page of projects already seen (the listing shifted or the
    server repeats itself: stopping beats looping), ``links.next`` null, or the last page
    ``meta`` announces. Without ``meta.last_page`` a ``links.next`` URL says yes; with
    neither ``meta`` nor ``links`` a full page suggests more (a wrong guess costs one
    request that comes back empty). Never past :data:`MAX_PAGES_WITHOUT_META`.
    """
    if not page.items or fresh <= 0 or number >= MAX_PAGES_WITHOUT_META:
        return False
    meta, links = page.meta, page.links
    if links is not None and links.next is None:
        return False
    if meta is not None and meta.last_page is not None:
        return number < meta.last_page
    if links is None and meta is None:
        return len(page.items) >= per_page
    return True
