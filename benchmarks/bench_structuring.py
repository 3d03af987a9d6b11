"""Decoding + structuring a 100-project page and a 200-keyword h4 content payload.

Side by side in one run, per payload (microseconds per call, best of several rounds, and
ratios): ``orjson.loads`` to dicts (the floor); the SDK's converter in its default
(tolerant) mode on a tidy body, on a body where one item deviates (an unreadable optional
field: that item is read again tolerantly, with a warning and a count) and on a body where
every item deviates; msgspec Structs; and pydantic v2 models two ways:
``model_validate_json`` (pydantic parses the bytes itself, in Rust, straight into models:
its fastest path) and ``model_validate`` on ``orjson.loads`` output (the same dicts the SDK
structures). Then the first call of each in a fresh process, where the converter is built
and cattrs generates the hooks (best of several processes, milliseconds). Run::

    python benchmarks/bench_structuring.py
"""

from __future__ import annotations

import gc
import logging
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import msgspec
import orjson
import pydantic

sys.path.insert(0, str(Path(__file__).parent))

from _payloads import encoded, h4_content, project_page

from trakk_async._models import converter as _converter
from trakk_async._models.deviations import Deviations
from trakk_async._models.objects import Page

# -- msgspec --------------------------------------------------------------------------


class MsLinks(msgspec.Struct, frozen=True):
    latest_report: str | None = None


class MsProject(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    name: str
    status: str
    keyword_count: int
    latest_report_generated_at: datetime | None
    latest_report_id: int | None
    latest_report_number: int | None
    latest_report_status: str | None
    links: MsLinks = MsLinks()


class MsMeta(msgspec.Struct, frozen=True):
    current_page: int | None = None
    last_page: int | None = None
    per_page: int | None = None
    total: int | None = None


class MsPageLinks(msgspec.Struct, frozen=True):
    first: str | None = None
    last: str | None = None
    prev: str | None = None
    next: str | None = None


class MsPage(msgspec.Struct, frozen=True):
    data: list[MsProject]
    meta: MsMeta | None = None
    links: MsPageLinks | None = None
    cache_refreshed_at: datetime | None = None


class MsAgency(msgspec.Struct, frozen=True):
    id: int
    name: str


class MsUser(msgspec.Struct, frozen=True):
    id: int
    name: str
    role: str
    agency: MsAgency | None


class MsH4(msgspec.Struct, frozen=True):
    h4: str
    text: str


class MsH4Html(msgspec.Struct, frozen=True):
    h4_and_text: str


class MsKeyword(msgspec.Struct, frozen=True):
    keyword_id: int
    keyword: str
    keyword_url: str
    has_content: bool
    content: list[MsH4] | None
    html: list[MsH4Html] | None


class MsContentLinks(msgspec.Struct, frozen=True):
    project_website: str
    report_web: str | None
    report_pdf: str | None


class MsSummary(msgspec.Struct, frozen=True):
    keyword_count: int
    keywords_with_content: int


class MsContent(msgspec.Struct, frozen=True):
    report_number: int
    report_id: int
    report_name: str | None
    content_scheme: str
    content_scheme_fields: list[str]
    links: MsContentLinks
    project_id: int
    project_domain: str
    project_status: str
    is_generated: bool
    generation_status: str
    approved_status: str | None
    approved_by: MsUser | None
    managed_status: str | None
    managed_by: MsUser | None
    date_to_create_texts: date | None
    date_to_send_to_client: date | None
    summary: MsSummary
    keywords: list[MsKeyword]


class MsContentBody(msgspec.Struct, frozen=True):
    data: MsContent
    cache_refreshed_at: datetime | None = None


# -- pydantic v2 ----------------------------------------------------------------------

_frozen = pydantic.ConfigDict(frozen=True)


class PdLinks(pydantic.BaseModel):
    model_config = _frozen
    latest_report: str | None = None


class PdProject(pydantic.BaseModel):
    model_config = _frozen
    id: int
    name: str
    status: str
    keyword_count: int
    latest_report_generated_at: datetime | None
    latest_report_id: int | None
    latest_report_number: int | None
    latest_report_status: str | None
    links: PdLinks = PdLinks()


class PdMeta(pydantic.BaseModel):
    model_config = _frozen
    current_page: int | None = None
    last_page: int | None = None
    per_page: int | None = None
    total: int | None = None


class PdPageLinks(pydantic.BaseModel):
    model_config = _frozen
    first: str | None = None
    last: str | None = None
    prev: str | None = None
    next: str | None = None


class PdPage(pydantic.BaseModel):
    model_config = _frozen
    data: list[PdProject]
    meta: PdMeta | None = None
    links: PdPageLinks | None = None
    cache_refreshed_at: datetime | None = None


class PdAgency(pydantic.BaseModel):
    model_config = _frozen
    id: int
    name: str


class PdUser(pydantic.BaseModel):
    model_config = _frozen
    id: int
    name: str
    role: str
    agency: PdAgency | None


class PdH4(pydantic.BaseModel):
    model_config = _frozen
    h4: str
    text: str


class PdH4Html(pydantic.BaseModel):
    model_config = _frozen
    h4_and_text: str


class PdKeyword(pydantic.BaseModel):
    model_config = _frozen
    keyword_id: int
    keyword: str
    keyword_url: str
    has_content: bool
    content: list[PdH4] | None
    html: list[PdH4Html] | None


class PdContentLinks(pydantic.BaseModel):
    model_config = _frozen
    project_website: str
    report_web: str | None
    report_pdf: str | None


class PdSummary(pydantic.BaseModel):
    model_config = _frozen
    keyword_count: int
    keywords_with_content: int


class PdContent(pydantic.BaseModel):
    model_config = _frozen
    report_number: int
    report_id: int
    report_name: str | None
    content_scheme: str
    content_scheme_fields: list[str]
    links: PdContentLinks
    project_id: int
    project_domain: str
    project_status: str
    is_generated: bool
    generation_status: str
    approved_status: str | None
    approved_by: PdUser | None
    managed_status: str | None
    managed_by: PdUser | None
    date_to_create_texts: date | None
    date_to_send_to_client: date | None
    summary: PdSummary
    keywords: list[PdKeyword]


class PdContentBody(pydantic.BaseModel):
    model_config = _frozen
    data: PdContent
    cache_refreshed_at: datetime | None = None


# -- the runs ---------------------------------------------------------------------------


def _deviating(payload: dict[str, Any], every: bool) -> bytes:
    """``payload`` with an unreadable optional field in one item (the middle one) or all."""
    items = payload["data"] if "keywords" not in payload["data"] else payload["data"]["keywords"]
    chosen = items if every else [items[len(items) // 2]]
    for item in chosen:
        if "content" in item:
            if item["content"]:
                item["content"][0]["h4"] = 404  # one variant of the keyword
        else:
            item["latest_report_id"] = "1042"
    return encoded(payload)


def best_of(fn: Callable[[], object], rounds: int = 7, target: float = 0.05) -> float:
    """Microseconds per call: the best of ``rounds`` rounds of about ``target`` seconds,
    with the garbage collector paused as ``timeit`` does (a collection would otherwise land
    on whichever contender happens to be running)."""
    gc.collect()
    gc.disable()
    try:
        return _best_of(fn, rounds, target)
    finally:
        gc.enable()


def _best_of(fn: Callable[[], object], rounds: int, target: float) -> float:
    fn()
    n = 1
    while True:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        if time.perf_counter() - start > target / 5:
            break
        n *= 2
    n = max(1, int(n * target / max(time.perf_counter() - start, 1e-9)))
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - start) / n)
    return best * 1e6


def run(kind: Literal["page", "content"]) -> dict[str, float]:
    """Time every contender on one payload, interleaved so noise hits them alike."""
    deviations = Deviations()  # a client's; the warnings are silenced in main()
    if kind == "page":
        raw = encoded(project_page(100))
        one, every = _deviating(project_page(100), False), _deviating(project_page(100), True)
        page = _converter.structure_page
        contenders: dict[str, Callable[[], object]] = {
            "orjson.loads (floor)": lambda: orjson.loads(raw),
            "trakk_async": lambda: page(orjson.loads(raw), deviations, "/projects"),
            "  one item deviating": lambda: page(orjson.loads(one), deviations, "/projects"),
            "  every item deviating": lambda: page(orjson.loads(every), deviations, "/projects"),
            "msgspec Structs": lambda: msgspec.json.decode(raw, type=MsPage),
            "pydantic v2": lambda: PdPage.model_validate_json(raw),
            "pydantic v2 from dicts": lambda: PdPage.model_validate(orjson.loads(raw)),
        }
        check = page(orjson.loads(raw), Deviations(strict=True), "/projects")
        assert isinstance(check, Page)
        assert len(check.items) == 100
    else:
        raw = encoded(h4_content(200))
        one, every = _deviating(h4_content(200), False), _deviating(h4_content(200), True)
        content = _converter.structure_report_content
        contenders = {
            "orjson.loads (floor)": lambda: orjson.loads(raw),
            "trakk_async": lambda: content(orjson.loads(raw), deviations, "/content"),
            "  one keyword deviating": lambda: content(orjson.loads(one), deviations, "/content"),
            "  every keyword deviating": lambda: content(
                orjson.loads(every), deviations, "/content"
            ),
            "msgspec Structs": lambda: msgspec.json.decode(raw, type=MsContentBody),
            "pydantic v2": lambda: PdContentBody.model_validate_json(raw),
            "pydantic v2 from dicts": lambda: PdContentBody.model_validate(orjson.loads(raw)),
        }
        content(orjson.loads(raw), Deviations(strict=True), "/content")  # tidy: no deviation
    results: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(3):
        for name, fn in contenders.items():
            results[name].append(best_of(fn))
    return {name: min(times) for name, times in results.items()}


def report(title: str, figures: dict[str, float]) -> None:
    """Print one table: microseconds, ratio to the floor, ratio to pydantic."""
    floor = figures["orjson.loads (floor)"]
    pyd = figures["pydantic v2"]
    print(f"\n{title}")
    print(f"  {'':24} {'us/call':>9} {'x floor':>8} {'x pydantic':>11}")
    for name, us in figures.items():
        print(f"  {name:24} {us:9.1f} {us / floor:8.2f} {us / pyd:11.2f}")


FIRST_CALL = """
import sys, time
sys.path.insert(0, {here!r})
import orjson
from _payloads import encoded, h4_content, project_page
from trakk_async._models import converter
from trakk_async._models.deviations import Deviations
body = orjson.loads(encoded({payload}))
start = time.perf_counter()
converter.{function}(body, Deviations(strict=True), "/first")
print(time.perf_counter() - start)
"""


def first_call_ms(payload: str, function: str, processes: int = 5) -> float:
    """Best time of the first structuring in a fresh process (import not included)."""
    code = FIRST_CALL.format(here=str(Path(__file__).parent), payload=payload, function=function)
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(processes)
    ]
    return 1000 * min(runs)


def main() -> None:
    """Run both payloads and print the tables."""
    logging.getLogger("trakk_async").setLevel(logging.ERROR)  # the deviating bodies warn once
    print(
        f"python {sys.version.split()[0]}, pydantic {pydantic.VERSION}, msgspec {msgspec.__version__}"
    )
    report("100-project page (/projects)", run("page"))
    report("200-keyword h4_text_blocks content (/reports/{n}/content)", run("content"))
    print("\nfirst call in a fresh process (converter built, hooks generated), best of 5")
    page_ms = first_call_ms("project_page(100)", "structure_page")
    content_ms = first_call_ms("h4_content(200)", "structure_report_content")
    print(f"  100-project page             {page_ms:6.1f} ms")
    print(f"  200-keyword content          {content_ms:6.1f} ms")


if __name__ == "__main__":
    main()
