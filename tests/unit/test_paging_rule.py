"""The one rule for walking /projects: is there another page? (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.watch_standin import links_of
from trakk_async._models.objects import Page, PageLinks, PageMeta, ProjectSummary
from trakk_async._protocol.paging import MAX_PAGES_WITHOUT_META, has_next_page


def item(pid: int) -> ProjectSummary:
    return ProjectSummary(
        id=pid,
        name=f"p{pid}",
        status="active",
        keyword_count=1,
        latest_report_generated_at=None,
        latest_report_id=None,
        latest_report_number=None,
        latest_report_status=None,
        links=links_of(pid),
    )


def page(count: int, **parts: Any) -> Page:
    return Page(items=tuple(item(i + 1) for i in range(count)), **parts)


NEXT = PageLinks(next="https://x/projects?page=2")


@pytest.mark.parametrize(
    ("the_page", "number", "fresh", "expected"),
    [
        (page(100, meta=PageMeta(last_page=3), links=NEXT), 1, 100, True),
        (page(100, meta=PageMeta(last_page=3), links=NEXT), 3, 100, False),
        (page(100, meta=PageMeta(last_page=3), links=PageLinks(next=None)), 1, 100, False),
        # links.next and no meta: follow the link (the export stopped after page 1 here)
        (page(100, links=NEXT), 1, 100, True),
        (page(7, links=NEXT), 1, 7, True),
        # neither: a full page suggests more, a short one ends it
        (page(100), 1, 100, True),
        (page(99), 1, 99, False),
        # meta without last_page and no links: keep going until a page says otherwise
        (page(100, meta=PageMeta(total=500)), 2, 100, True),
        # an empty page, or a page of projects seen already, ends the walk
        (page(0, meta=PageMeta(last_page=5), links=NEXT), 2, 0, False),
        (page(100, meta=PageMeta(last_page=5), links=NEXT), 2, 0, False),
        (page(100, links=NEXT), MAX_PAGES_WITHOUT_META, 100, False),
    ],
)
def test_has_next_page(the_page: Page, number: int, fresh: int, expected: bool) -> None:
    assert has_next_page(the_page, number, 100, fresh=fresh) is expected
