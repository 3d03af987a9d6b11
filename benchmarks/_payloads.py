"""Reference-shaped payloads shared by the benchmarks (deterministic, no network)."""

from __future__ import annotations

from typing import Any

import orjson

_USER = {
    "id": 7,
    "name": "Jane Smith",
    "role": "Account Manager",
    "agency": {"id": 12, "name": "Digipartner Agency"},
}
_STATUSES = ["active", "paused", "pending", "ended", "pending - in progress"]
_WORDS = [
    "garden",
    "roofing",
    "dentist",
    "bakery",
    "plumber",
    "yoga",
    "bicycle",
    "kitchen",
    "solar",
    "tiles",
]


def project_item(i: int) -> dict[str, Any]:
    """One ``/projects`` item; every fifth project has no report yet."""
    has_report = i % 5 != 0
    return {
        "id": 1000 + i,
        "name": f"{_WORDS[i % 10].title()} Experts {i}",
        "status": _STATUSES[i % len(_STATUSES)],
        "keyword_count": 20 + i % 30,
        "latest_report_generated_at": "2026-03-30T12:00:00.000000Z" if has_report else None,
        "latest_report_id": 50000 + i if has_report else None,
        "latest_report_number": 1 + i % 26 if has_report else None,
        "latest_report_status": "completed" if has_report else None,
        "links": {
            "latest_report": f"/api/v1/projects/{1000 + i}/reports/latest",
            "last_generated_report": f"/api/v1/projects/{1000 + i}/reports/last-generated",
        },
    }


def project_page(n: int = 100, page: int = 1, last_page: int = 1) -> dict[str, Any]:
    """A Laravel-style page of ``n`` projects with ``meta`` and ``links``."""
    base = "https://admin.trakk.ai/api/v1/projects"
    return {
        "data": [project_item((page - 1) * n + i) for i in range(n)],
        "meta": {
            "current_page": page,
            "from": (page - 1) * n + 1,
            "last_page": last_page,
            "path": base,
            "per_page": n,
            "to": page * n,
            "total": n * last_page,
        },
        "links": {
            "first": f"{base}?page=1",
            "last": f"{base}?page={last_page}",
            "prev": None if page == 1 else f"{base}?page={page - 1}",
            "next": None if page == last_page else f"{base}?page={page + 1}",
        },
        "cache_refreshed_at": "2026-03-30T12:00:00.000000Z",
    }


def h4_content(keywords: int = 200) -> dict[str, Any]:
    """A ``h4_text_blocks`` content payload: 6 variants per keyword, some without content."""
    items = []
    for k in range(keywords):
        word = _WORDS[k % 10]
        has = k % 10 != 9
        items.append(
            {
                "keyword_id": 9000 + k,
                "keyword": f"best {word} near me {k}",
                "keyword_url": f"https://example-{word}.com/{word}-{k}",
                "has_content": has,
                "content": [
                    {
                        "h4": f"Why {word} matters ({v})",
                        "text": f"Choosing a {word} service is easier when you compare local offers first. "
                        * 3,
                    }
                    for v in range(6)
                ]
                if has
                else None,
                "html": [
                    {
                        "h4_and_text": f"<h4>Why {word} matters ({v})</h4><p>Choosing a {word} service is easier.</p>"
                    }
                    for v in range(6)
                ]
                if has
                else None,
            }
        )
    return {
        "data": {
            "report_number": 15,
            "report_id": 1082,
            "report_name": "H4 + Text 1",
            "content_scheme": "h4_text_blocks",
            "content_scheme_fields": ["h4", "text"],
            "links": {
                "project_website": "https://example-garden.com",
                "report_web": "https://admin.trakk.ai/reports/view/abc123",
                "report_pdf": None,
            },
            "project_id": 42,
            "project_domain": "example-garden.com",
            "project_status": "active",
            "is_generated": True,
            "generation_status": "completed",
            "approved_status": "approved",
            "approved_by": _USER,
            "managed_status": None,
            "managed_by": None,
            "date_to_create_texts": "2026-02-20",
            "date_to_send_to_client": "2026-03-01",
            "summary": {
                "keyword_count": keywords,
                "keywords_with_content": keywords - keywords // 10,
            },
            "keywords": items,
        },
        "cache_refreshed_at": "2026-03-30T12:00:00.000000Z",
    }


ME = {
    "id": 3,
    "name": "Export token",
    "agency_id": 12,
    "status": "active",
    "abilities": ["projects:read"],
}


def encoded(payload: dict[str, Any]) -> bytes:
    """The payload as the server sends it."""
    return orjson.dumps(payload)
