"""The converter: forward compatible on reference-shaped data, precise on wrong shapes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import samples
from tests.structuring import ENDPOINTS, TIDY, replaced, tolerant
from trakk_async._models import converter as conv
from trakk_async._models.content import ContentScheme
from trakk_async._models.deviations import ResponseShapeError
from trakk_async._models.objects import Keyword, Report

STRUCTURE = {name: structure for name, (structure, _, _) in ENDPOINTS.items()}

#: Fields whose values are enums the API may extend.
ENUM_KEYS = frozenset(
    {
        "status",
        "latest_report_status",
        "approved_status",
        "managed_status",
        "generation_status",
        "project_status",
        "content_scheme",
    }
)
KNOWN_SCHEMES = frozenset(ContentScheme)

Path = tuple[str | int, ...]


def test_every_sample_has_a_structure_function() -> None:
    names = {p.stem for p in (samples._HERE).glob("*.json")}
    assert names == set(STRUCTURE)


@pytest.mark.parametrize("name", sorted(STRUCTURE))
def test_every_sample_structures_strictly(name: str) -> None:
    # The samples are the documented shapes: no deviation, even in strict mode.
    assert STRUCTURE[name](samples.load(name), *TIDY) is not None


# ------------------------------------------------------------------ forward compatibility

json_leaf = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def _not_in(excluded: frozenset[str]) -> Callable[[str], bool]:
    return lambda value: value not in excluded


def _extend(node: Any, data: st.DataObject, *, schemes: bool = True) -> Any:
    """Add unknown fields to some objects and unknown values to some enums, recursively.

    ``schemes=False`` leaves ``content_scheme`` alone (an unknown one keeps any content).
    """
    if isinstance(node, list):
        return [_extend(v, data, schemes=schemes) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        enum = key in ENUM_KEYS and (schemes or key != "content_scheme")
        if enum and isinstance(value, str | None) and data.draw(st.booleans()):
            # A *known* other scheme would legitimately not fit this content: an unknown
            # scheme must be unknown (hypothesis also draws constants found in our code).
            excluded = KNOWN_SCHEMES if key == "content_scheme" else frozenset()
            unknown = st.text(min_size=1, max_size=12).filter(str.strip)
            out[key] = data.draw(unknown.filter(_not_in(excluded)))
        else:
            out[key] = _extend(value, data, schemes=schemes)
    extra = data.draw(st.dictionaries(st.text(min_size=1, max_size=6), json_value, max_size=2))
    for key, value in extra.items():
        out.setdefault(f"zz_new_{key}", value)
    return out


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(STRUCTURE)), data=st.data())
def test_structuring_never_raises_on_unknown_fields_and_enum_values(
    name: str, data: st.DataObject
) -> None:
    body = _extend(samples.load(name), data)
    result = STRUCTURE[name](body, *TIDY)  # unknown fields and values are no deviation
    assert result is not None
    if name.startswith("content_"):
        scheme = body["data"]["content_scheme"]
        assert result.content_scheme == scheme
        assert result.is_known_scheme == (scheme in set(ContentScheme))
        kw = result.keywords[0]
        assert kw.content is not None
        assert kw.publishable() is not None


@pytest.mark.parametrize("value", ["archived", "on-ice", "pending - review"])
def test_unknown_project_status_stays_a_string(value: str) -> None:
    body = samples.load("projects_page")
    body["data"][0]["status"] = value
    page = conv.structure_page(body, *TIDY)
    assert page.items[0].status == value
    assert type(page.items[0].status) is str


def test_unknown_report_enums_stay_strings() -> None:
    body = samples.load("report_latest")
    body["data"] |= {"status": "queued", "approved_status": "escalated", "managed_status": "x"}
    report = conv.structure_single(body, *TIDY, cls=Report)
    assert (report.status, report.approved_status, report.managed_status) == (
        "queued",
        "escalated",
        "x",
    )
    assert not report.is_completed


# ------------------------------------------------------------------ wrong shapes
# (every place of every sample, one and several at a time: tests/unit/test_tolerance.py)


def test_shape_error_names_the_item_and_field() -> None:
    body = samples.load("reports")
    body["data"][1]["sent"] = "yes"  # required by the reports table
    with pytest.raises(ResponseShapeError, match=r"\$\.data\[1\]\.sent: expected a boolean"):
        conv.structure_listing(body, *tolerant(), cls=Report)


def test_an_item_without_its_identity_fails_the_listing() -> None:
    # An item that cannot be told apart from others is not skipped silently.
    body = samples.load("keywords")
    del body["data"][1]["id"]
    with pytest.raises(ResponseShapeError, match=r"\$\.data\[1\]\.id: required field is missing"):
        conv.structure_listing(body, *tolerant(), cls=Keyword)
    body = samples.load("keywords")
    body["data"][0] = None
    with pytest.raises(ResponseShapeError, match=r"\$\.data\[0\]: expected an object, got null"):
        conv.structure_listing(body, *tolerant(), cls=Keyword)


@pytest.mark.parametrize("body", [None, [], "x", 3, {"data": None}, {"data": "x"}, {}])
def test_a_body_that_is_not_the_envelope_is_a_shape_error(body: Any) -> None:
    for name in sorted(STRUCTURE):
        with pytest.raises(ResponseShapeError, match=r"^\$"):
            STRUCTURE[name](body, *tolerant())


@pytest.mark.parametrize(
    ("scheme", "path", "value"),
    [
        ("metadata", ("data", "content_scheme_fields"), "meta_title"),
        ("metadata", ("data", "content_scheme_fields"), {"meta_title": 1}),
        ("link_blocks", ("data", "keywords", 0, "content", 0, "links"), {}),
        ("link_blocks", ("data", "keywords", 0, "content", 0, "links"), "ab"),
        ("subnavigation", ("data", "keywords", 0, "content", "links"), {}),
        ("h2_summary_block", ("data", "keywords", 0, "content", "texts"), "one text"),
        ("h2_text_blocks", ("data", "keywords", 0, "content"), {"h2": "x", "text": "y"}),
        ("single_text_block", ("data", "keywords", 0, "content"), [{"text": "x"}]),
    ],
)
def test_an_iterable_that_is_not_an_array_is_not_silently_accepted(
    scheme: str, path: Path, value: Any
) -> None:
    body = replaced(samples.content(scheme), path, value)
    with pytest.raises(ResponseShapeError, match=r"\$.*expected an? "):
        conv.structure_report_content(body, *TIDY)
    deviations, endpoint = tolerant()
    content = conv.structure_report_content(body, deviations, endpoint)
    node: Any = content
    for step in path[1:]:
        node = node[step] if isinstance(step, int) else getattr(node, step)
    assert node in ((), None)
    assert sum(deviations.counts().values()) == 1


# ------------------------------------------------------------------ generated payloads

ids = st.integers(min_value=1, max_value=2**53)
texts = st.text(max_size=20)


def nullable(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


laravel_time = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.isoformat(timespec="microseconds").replace("+00:00", "Z"))
iso_date = st.dates(min_value=date(2000, 1, 1)).map(lambda d: d.isoformat())
enum_value = st.sampled_from(["active", "completed", "on-hold", "waiting"]) | st.text(
    min_size=1, max_size=10
)
users = st.fixed_dictionaries(
    {
        "id": ids,
        "name": texts,
        "role": texts,
        "agency": nullable(st.fixed_dictionaries({"id": ids, "name": texts})),
    }
)
reports = st.fixed_dictionaries(
    {
        "id": ids,
        "project_id": ids,
        "report_number": st.integers(min_value=1, max_value=26),
        "report_name": nullable(texts),
        "status": enum_value,
        "date_to_create_texts": nullable(iso_date),
        "date_to_send_to_client": nullable(iso_date),
        "sent": st.booleans(),
        "approved_status": nullable(enum_value),
        "approved_by": nullable(users),
        "managed_status": nullable(enum_value),
        "managed_by": nullable(users),
        "pdf_link": nullable(texts),
        "web_link": nullable(texts),
    }
)
project_items = st.fixed_dictionaries(
    {
        "id": ids,
        "name": texts,
        "status": enum_value,
        "keyword_count": st.integers(min_value=0, max_value=10_000),
        "latest_report_generated_at": nullable(laravel_time),
        "latest_report_id": nullable(ids),
        "latest_report_number": nullable(st.integers(min_value=1, max_value=26)),
        "latest_report_status": nullable(enum_value),
        "links": st.fixed_dictionaries({"latest_report": texts, "last_generated_report": texts}),
    }
)
keywords = st.fixed_dictionaries(
    {
        "id": ids,
        "keyword": texts,
        "url": texts,
        "create_date": iso_date,
        "latest_position": st.integers(min_value=1, max_value=1000),
        "status_200": st.booleans(),
        "content_count": st.integers(min_value=0, max_value=26),
        "content_action_ids": st.lists(st.integers(min_value=1, max_value=26), unique=True).map(
            sorted
        ),
    }
)


@settings(max_examples=200)
@given(items=st.lists(reports, max_size=5), cache=nullable(laravel_time))
def test_generated_reports_structure(items: list[dict[str, Any]], cache: str | None) -> None:
    body: dict[str, Any] = {"data": items}
    if cache is not None:
        body["cache_refreshed_at"] = cache
    listing = conv.structure_listing(body, *TIDY, cls=Report)
    assert [r.id for r in listing] == [i["id"] for i in items]
    assert [r.status for r in listing] == [i["status"] for i in items]
    assert [r.approved_by is None for r in listing] == [i["approved_by"] is None for i in items]
    assert (listing.cache_refreshed_at is None) == (cache is None)


@settings(max_examples=200)
@given(items=st.lists(project_items, max_size=5), last_page=nullable(st.integers(0, 9)))
def test_generated_project_pages_structure(
    items: list[dict[str, Any]], last_page: int | None
) -> None:
    body = {"data": items, "meta": {"last_page": last_page}, "links": {"next": None}}
    page = conv.structure_page(body, *TIDY)
    assert [p.id for p in page.items] == [i["id"] for i in items]
    assert page.meta is not None
    assert page.meta.last_page == last_page


@settings(max_examples=200)
@given(items=st.lists(keywords, max_size=5))
def test_generated_keywords_structure(items: list[dict[str, Any]]) -> None:
    listing = conv.structure_listing({"data": items}, *TIDY, cls=Keyword)
    assert [k.content_action_ids for k in listing] == [
        tuple(i["content_action_ids"]) for i in items
    ]
    assert [str(k.create_date) for k in listing] == [i["create_date"] for i in items]
