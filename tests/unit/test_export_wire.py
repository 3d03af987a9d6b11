"""Export and sync against hand-made responses: the envelope and paging rules they share
with the client, and which content a change makes them fetch again."""

from __future__ import annotations

import copy
import re
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from aioresponses import CallbackResult, aioresponses
from yarl import URL

from tests.conftest import BASE_URL
from tests.unit.support import make_client
from trakk_async.export import FileChange, export_projects, sync_projects
from trakk_async.export import _files as files


def _report(rid: int, number: int, status: str = "completed", **extra: Any) -> dict[str, Any]:
    return {"id": rid, "report_number": number, "status": status, "approved_status": None, **extra}


class Server:
    """Answers GETs from a dict of path -> data (wrapped in ``data`` unless bare)."""

    def __init__(self, mock: aioresponses) -> None:
        self.data: dict[str, Any] = {}
        self.bare: set[str] = set()
        self.pages: list[dict[str, Any]] | None = None
        self.asked: Counter[str] = Counter()
        mock.get(re.compile(re.escape(BASE_URL) + r"/.*"), callback=self._answer, repeat=True)

    def project(self, pid: int, reports: list[dict[str, Any]], numbers: list[int]) -> None:
        self.data[f"/projects/{pid}"] = {
            "id": pid,
            "name": f"P{pid}",
            "status": "active",
            "keyword_count": 1,
            "latest_report_generated_at": None,
            "latest_report_id": reports[0]["id"] if reports else None,
            "latest_report_number": reports[0]["report_number"] if reports else None,
            "latest_report_status": reports[0]["status"] if reports else None,
            "links": {
                "latest_report": f"/api/v1/projects/{pid}/reports/latest",
                "last_generated_report": f"/api/v1/projects/{pid}/reports/last-generated",
            },
            "domain": f"p{pid}.example",
        }
        self.data[f"/projects/{pid}/reports"] = reports
        self.data[f"/projects/{pid}/keywords"] = [
            {"id": pid * 10, "keyword": "k", "url": "https://k", "content_action_ids": numbers}
        ]
        for report in reports:
            self.data[f"/projects/{pid}/reports/{report['report_number']}/content"] = {
                "report_id": report["id"],
                "report_number": report["report_number"],
                "generation_status": report["status"],
                "approved_status": report["approved_status"],
                "text": f"content of {report['id']}",
            }

    def listing(self, per_page: int = 100) -> list[list[dict[str, Any]]]:
        items = [
            {k: v for k, v in self.data[path].items() if k != "domain"}
            for path in sorted(self.data, key=lambda p: (p.count("/"), p))
            if re.fullmatch(r"/projects/\d+", path)
        ]
        return [items[i : i + per_page] for i in range(0, len(items), per_page)] or [[]]

    def _answer(self, url: URL, **_: Any) -> CallbackResult:
        path = url.path.removeprefix(URL(BASE_URL).path)
        self.asked[path] += 1
        if path == "/projects":
            return self._page(int(url.query.get("page", "1")), int(url.query["per_page"]))
        if path not in self.data:
            return CallbackResult(status=404, body=b'{"error": {"code": "not_found"}}')
        data = self.data[path]
        body = data if path in self.bare else {"data": data, "cache_refreshed_at": "2026-03-01"}
        return CallbackResult(status=200, body=orjson.dumps(body))

    def _page(self, number: int, per_page: int) -> CallbackResult:
        pages = self.listing(per_page)
        body: dict[str, Any] = {"data": pages[number - 1] if number <= len(pages) else []}
        # links.next but no meta: the one paging rule follows links.next.
        more = number < len(pages)
        body["links"] = {"next": f"{BASE_URL}/projects?page={number + 1}" if more else None}
        return CallbackResult(status=200, body=orjson.dumps(body))


@pytest.fixture
def server(mock_api: aioresponses) -> Server:
    return Server(mock_api)


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and not p.name.startswith(".trakk-")
    }


async def test_pages_with_links_next_and_no_meta_are_all_walked(
    server: Server, tmp_path: Path
) -> None:
    for pid in range(1, 202):  # three pages of 100
        server.project(pid, [], [])
    async with make_client() as client:
        exported = await export_projects(client, tmp_path / "export")
        synced = await sync_projects(client, tmp_path / "sync")
    assert server.asked["/projects"] == 6
    assert exported.projects == synced.listed == synced.new == 201
    assert _tree(tmp_path / "export") == _tree(tmp_path / "sync")


async def test_bare_content_is_read_as_the_client_reads_it(server: Server, tmp_path: Path) -> None:
    server.project(1, [_report(101, 1)], [1])
    async with make_client() as client:
        await export_projects(client, tmp_path / "wrapped")
        server.bare.add("/projects/1/reports/1/content")
        summary = await export_projects(client, tmp_path / "bare")
        assert summary.failed == {}
    assert _tree(tmp_path / "bare") == _tree(tmp_path / "wrapped")


async def test_which_content_a_change_fetches_again(server: Server, tmp_path: Path) -> None:
    reports = [_report(103, 3), _report(102, 2), _report(101, 1)]
    server.project(1, copy.deepcopy(reports), [1, 2, 3])
    dest = tmp_path / "dest"
    async with make_client() as client:
        await sync_projects(client, dest)

        def content_asked() -> set[int]:
            asked = {
                int(p.split("/")[4]) for p, n in server.asked.items() if p.endswith("/content")
            }
            server.asked.clear()
            return asked

        content_asked()
        # An approval after completion: that report's row and content change, only its
        # content is fetched again (its id and status did not change).
        server.data["/projects/1/reports"][1]["approved_status"] = "approved"
        server.data["/projects/1/reports/2/content"]["approved_status"] = "approved"
        changes: list[FileChange] = []
        summary = await sync_projects(client, dest, reconcile_share=1, on_change=changes.append)
        assert content_asked() == {2}
        assert {c.path for c in changes} == {"1/reports.json", "1/content/2.json"}
        assert server.asked["/projects/1/keywords"] == 0  # no completion: same content ids
        assert summary.changed == 1

        # The domain, which every content file embeds, shows only in the detail: --full.
        server.data["/projects/1"]["domain"] = "moved.example"
        await sync_projects(client, dest, full=True)
        assert content_asked() == {1, 2, 3}

        # A keyword's URL, also embedded in every content file.
        server.data["/projects/1/keywords"][0]["url"] = "https://k2"
        await sync_projects(client, dest, full=True)
        assert content_asked() == {1, 2, 3}

        # Nothing changed: nothing fetched.
        await sync_projects(client, dest, full=True)
        assert content_asked() == set()


async def test_an_unlisted_project_that_still_answers_is_kept(
    server: Server, tmp_path: Path
) -> None:
    server.project(1, [_report(101, 1)], [1])
    server.project(2, [_report(201, 1)], [1])
    dest = tmp_path / "dest"
    async with make_client() as client:
        await sync_projects(client, dest)
        listing = server.listing

        def without_two(
            per_page: int = 100,
        ) -> list[list[dict[str, Any]]]:  # a listing that shifted
            return [[item for item in page if item["id"] != 2] for page in listing(per_page)]

        server.listing = without_two  # type: ignore[method-assign]
        summary = await sync_projects(client, dest)
    assert summary.removed == 0
    assert server.asked["/projects/2"] >= 1  # asked, and it answered
    assert (dest / "2" / files.REPORTS_FILE).exists()
