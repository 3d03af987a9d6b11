"""Typed and tolerant: every documented variation of every response, one and several at a time.

Each sample is walked alongside the models (``tests/structuring.py``); at every place a value
sits, the values a server may send instead are tried in the default mode and in strict mode:
legal ones read as the natural value or the default, unreadable ones as the default with one
count (strict: raise), broken identities raise in both modes.
"""

from __future__ import annotations

import logging
import typing
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import samples
from tests.structuring import (
    DELETE,
    ENDPOINTS,
    TIDY,
    Outcome,
    Spot,
    expected_default,
    json_path,
    load,
    minimal,
    replaced,
    spots,
    tolerant,
    value_at,
    variations,
)
from trakk_async._models import converter as conv
from trakk_async._models.content import ContentScheme, H2TextBlock, UnknownContent
from trakk_async._models.deviations import Deviations, ResponseShapeError
from trakk_async._models.objects import Page, Project, ProjectSummary

NAMES = sorted(ENDPOINTS)


def _check(name: str, spot: Spot, sent: Any, outcome: Outcome) -> str | None:
    """Structure ``name``'s sample with ``sent`` at ``spot``; a description of what went
    wrong, or None."""
    structure, _, wrapper = ENDPOINTS[name]
    original = load(name)
    body = replaced(original, spot.path, sent)
    where = f"{json_path(spot.path)} = {'<deleted>' if sent is DELETE else repr(sent)}"
    deviations, endpoint = tolerant()
    try:
        result = structure(body, deviations, endpoint)
    except ResponseShapeError as exc:
        if outcome != "raise":
            return f"{where}: raised {exc}"
        if json_path(spot.path) not in str(exc):
            return f"{where}: the error does not name the path: {exc}"
        return None
    if outcome == "raise":
        return f"{where}: no error"
    counts = deviations.counts()
    if outcome == "deviation":
        if counts != {spot.key: 1}:
            return f"{where}: counted {counts}, expected {spot.key}"
        if spot.element:
            array_path = spot.path[:-1]
            now = value_at(result, array_path, wrapper)
            if len(now) != len(value_at(structure(original, *TIDY), array_path, wrapper)) - 1:
                return f"{where}: the element was not left out ({now!r})"
            return None
    elif counts:
        return f"{where}: counted {counts} for a value the documentation allows"
    got = value_at(result, spot.path, wrapper)
    if outcome in ("default", "deviation"):
        want = expected_default(spot, sent)
        return None if got == want else f"{where}: read as {got!r}, expected {want!r}"
    # "same": read as the natural value
    natural = int(sent) if isinstance(sent, float) else sent
    return None if got == natural else f"{where}: read as {got!r}, expected {natural!r}"


def _check_strict(name: str, spot: Spot, sent: Any, outcome: Outcome) -> str | None:
    structure = ENDPOINTS[name][0]
    body = replaced(load(name), spot.path, sent)
    where = f"{json_path(spot.path)} = {'<deleted>' if sent is DELETE else repr(sent)} (strict)"
    try:
        structure(body, *TIDY)
    except ResponseShapeError as exc:
        if outcome in ("same", "default"):
            return f"{where}: raised {exc}"
        return None if json_path(spot.path) in str(exc) else f"{where}: path not named: {exc}"
    return f"{where}: no error" if outcome in ("deviation", "raise") else None


@pytest.mark.parametrize("name", NAMES)
def test_every_documented_variation_has_its_outcome(name: str) -> None:
    failures: list[str] = []
    body = load(name)
    for spot in spots(name, body):
        node = body
        for step in spot.path:
            node = node[step]
        for sent, outcome in variations(spot, node):
            for check in (_check, _check_strict):
                failure = check(name, spot, sent, outcome)
                if failure is not None:
                    failures.append(failure)
    assert not failures, "\n".join(failures[:20])


def test_the_walk_covers_every_kind_of_place() -> None:
    # The oracle above is only as good as its walk: it must reach required and optional
    # fields, elements with and without identity, and every kind of value.
    found = [spot for name in NAMES for spot in spots(name, load(name))]
    kinds = {spot.kind for spot in found}
    assert kinds >= {"int", "str", "bool", "date", "datetime", "enum", "object", "array"}
    assert any(s.element and s.required for s in found)  # items of data, keywords
    assert any(s.element and not s.required for s in found)  # variants, strings
    assert {s.key for s in found} >= {"Project.cc_email", "Keyword.latest_position"}
    assert any(s.path[-1] == "h2" and "keywords" in s.path for s in found)


# -- several at a time ---------------------------------------------------------------

SPOTS = {name: spots(name, load(name)) for name in NAMES}


def _value(body: Any, spot: Spot) -> Any:
    node = body
    for step in spot.path:
        node = node[step]
    return node


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(NAMES), data=st.data())
def test_several_variations_at_once(name: str, data: st.DataObject) -> None:
    structure = ENDPOINTS[name][0]
    body = load(name)
    chosen = data.draw(st.lists(st.sampled_from(SPOTS[name]), min_size=1, max_size=5))
    done: list[Spot] = []
    outcomes: list[tuple[Spot, Outcome]] = []
    for spot in chosen:
        if any(
            spot.path[: len(d.path)] == d.path or d.path[: len(spot.path)] == spot.path
            for d in done
        ):
            continue  # inside (or around) a value already changed
        options = variations(spot, _value(body, spot))
        if not options:
            continue
        sent, outcome = data.draw(st.sampled_from(options))
        body = replaced(body, spot.path, sent)
        done.append(spot)
        outcomes.append((spot, outcome))
    must_raise = any(o == "raise" for _, o in outcomes)
    expected = Counter(s.key for s, o in outcomes if o == "deviation")
    deviations, endpoint = tolerant()
    if must_raise:
        with pytest.raises(ResponseShapeError, match=r"\$"):
            structure(body, deviations, endpoint)
    else:
        assert structure(body, deviations, endpoint) is not None
        assert Counter(deviations.counts()) == expected
    if must_raise or expected:
        with pytest.raises(ResponseShapeError, match=r"\$"):
            structure(body, *TIDY)
    else:
        assert structure(body, *TIDY) is not None


# -- only the required fields --------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_a_response_with_only_the_required_fields_structures(name: str) -> None:
    structure, _, wrapper = ENDPOINTS[name]
    result = structure(minimal(name), *TIDY)  # strict: leaving out optional fields is legal
    assert type(result) is type(structure(load(name), *TIDY))
    every = spots(name, load(name))
    for spot in every:
        ancestors = [s for s in every if s != spot and spot.path[: len(s.path)] == s.path]
        if spot.required or spot.element or spot.kind == "scheme":
            continue
        if all(a.required or a.element for a in ancestors):  # removed itself, not with a parent
            assert value_at(result, spot.path, wrapper) == spot.default, spot.path


def test_minimal_bodies_keep_their_identity() -> None:
    project = conv.structure_single(minimal("project_detail"), *TIDY, cls=Project)
    assert project.id == 42
    assert project.cc_email is None
    assert project.client_emails == ()
    assert project.country is None
    content = conv.structure_report_content(minimal("content_h4_text_blocks"), *TIDY)
    assert (content.report_id, content.project_id) == (2015, 42)
    assert content.keywords == ()
    assert content.content_scheme is ContentScheme.H4_TEXT_BLOCKS  # kept: it shapes keywords


# -- content ---------------------------------------------------------------------------


def test_one_bad_variant_loses_neither_the_other_variants_nor_the_other_keywords() -> None:
    body = samples.content("h2_text_blocks")
    tidy = conv.structure_report_content(body, *TIDY)
    body["data"]["keywords"][0]["content"][1] = "not a variant"
    body["data"]["keywords"][0]["content"][2]["h2"] = 5
    deviations, endpoint = tolerant()
    content = conv.structure_report_content(body, deviations, endpoint)
    first = content.keywords[0]
    assert isinstance(first.content, tuple)
    assert isinstance(tidy.keywords[0].content, tuple)
    kept, odd = first.content
    assert kept == tidy.keywords[0].content[0]
    third = tidy.keywords[0].content[2]
    assert isinstance(third, H2TextBlock)
    assert odd == H2TextBlock(h2=None, text=third.text)
    assert first.html == tidy.keywords[0].html
    assert content.keywords[1:] == tidy.keywords[1:]
    assert deviations.counts() == {"KeywordContent.content": 1, "H2TextBlock.h2": 1}


def test_errors_name_the_path_inside_content() -> None:
    body = samples.content("h4_text_blocks")
    body["data"]["keywords"][0]["content"][4]["h4"] = ["x"]
    with pytest.raises(ResponseShapeError, match=r"\$\.data\.keywords\[0\]\.content\[4\]\.h4: "):
        conv.structure_report_content(body, *TIDY)
    body = samples.content("h4_text_blocks")
    body["data"]["keywords"][1]["keyword_id"] = "501"
    with pytest.raises(ResponseShapeError, match=r"\$\.data\.keywords\[1\]\.keyword_id: "):
        conv.structure_report_content(body, *tolerant())
    bare = samples.content("qa_block")["data"]
    bare["keywords"][0]["html"] = "<div>"
    with pytest.raises(ResponseShapeError, match=r"^\$\.keywords\[0\]\.html: "):
        conv.structure_report_content(bare, *TIDY)


@pytest.mark.parametrize("scheme", [None, 5, ["metadata"]])
def test_content_without_a_readable_scheme_keeps_the_raw_content(scheme: Any) -> None:
    body = samples.content("metadata")
    raw = body["data"]["keywords"][0]["content"]
    body["data"]["content_scheme"] = scheme
    deviations, endpoint = tolerant()
    content = conv.structure_report_content(body, deviations, endpoint)
    assert content.content_scheme is None
    assert not content.is_known_scheme
    assert content.keywords[0].content == UnknownContent(scheme=None, raw=raw)
    expected = {} if scheme is None else {"ReportContent.content_scheme": 1}
    assert deviations.counts() == expected


def test_an_unknown_scheme_is_no_deviation() -> None:
    body = samples.content("metadata")
    body["data"]["content_scheme"] = "video_script"
    content = conv.structure_report_content(body, *TIDY)
    assert content.content_scheme == "video_script"
    assert isinstance(content.keywords[0].content, UnknownContent)
    assert content.content_scheme not in set(ContentScheme)


# -- warnings and the counter -----------------------------------------------------------


def test_one_warning_per_model_and_field_per_client_and_every_one_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = samples.load("projects_page")
    for item in body["data"]:
        item["keyword_count"] = "many"  # required: would raise
        item["keyword_count"] = 3
        item["latest_report_id"] = "1042"
    body["data"][2]["latest_report_generated_at"] = "soon"
    deviations = Deviations()
    with caplog.at_level(logging.WARNING, logger="trakk_async"):
        for _ in range(2):
            page = conv.structure_page(body, deviations, "/projects")
            assert [p.latest_report_id for p in page.items] == [None, None, None]
    assert deviations.counts() == {
        "ProjectSummary.latest_report_id": 6,
        "ProjectSummary.latest_report_generated_at": 2,
    }
    messages = [r.getMessage() for r in caplog.records if r.name == "trakk_async"]
    assert len(messages) == 2
    assert all(r.levelno == logging.WARNING for r in caplog.records)
    first = next(m for m in messages if "latest_report_id" in m)
    assert "GET /projects" in first
    assert "$.data[0].latest_report_id" in first
    assert "string" in first
    assert "an integer" in first
    assert "1042" not in first  # values from the body are never quoted
    # Another client (another Deviations) warns again.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="trakk_async"):
        conv.structure_page(body, Deviations(), "/projects")
    assert len(caplog.records) == 2


def test_strict_mode_counts_nothing_and_names_the_path() -> None:
    body = samples.load("projects_page")
    body["data"][1]["latest_report_id"] = "x"
    strict = Deviations(strict=True)
    with pytest.raises(
        ResponseShapeError,
        match=r"\$\.data\[1\]\.latest_report_id: expected an integer, got string",
    ):
        conv.structure_page(body, strict, "/projects")
    assert strict.counts() == {}


def test_legal_variations_cost_no_warning(caplog: pytest.LogCaptureFixture) -> None:
    body = samples.load("project_detail")
    data = body["data"]
    data |= {"cc_email": None, "country": [], "created_at": "", "keyword_count": 10.0}
    del data["plan"]
    data["zz_added_later"] = {"x": 1}
    deviations, endpoint = tolerant()
    with caplog.at_level(logging.WARNING, logger="trakk_async"):
        project = conv.structure_single(body, deviations, endpoint, cls=Project)
    assert (project.cc_email, project.country, project.created_at, project.plan) == (None,) * 4
    assert project.keyword_count == 10
    assert type(project.keyword_count) is int
    assert not caplog.records
    assert deviations.counts() == {}


# -- what is not a response at all --------------------------------------------------------

json_leaf = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6)
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)
keyed = st.dictionaries(
    st.sampled_from(
        ["data", "meta", "links", "cache_refreshed_at", "id", "keywords", "content_scheme"]
    ),
    json_value,
    max_size=4,
)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(NAMES),
    body=json_value | keyed | st.fixed_dictionaries({"data": json_value | keyed}),
)
def test_any_json_either_structures_or_is_a_shape_error(name: str, body: Any) -> None:
    structure, model, _ = ENDPOINTS[name]
    for args in (tolerant(), TIDY):
        try:
            result = structure(body, *args)
        except ResponseShapeError as exc:
            error: ResponseShapeError | None = exc
        else:
            error = None
            assert isinstance(result, typing.get_origin(model) or model)
        assert error is None or str(error).startswith("$")


def _nested(depth: int, leaf: Any) -> Any:
    for _ in range(depth):
        leaf = [leaf]
    return leaf


@pytest.mark.parametrize("depth", [1, 300, 900])
def test_deeply_nested_bodies_are_shape_errors(depth: int) -> None:
    for name in NAMES:
        structure = ENDPOINTS[name][0]
        for body in (
            _nested(depth, 1),
            {"data": _nested(depth, {})},
            {"data": [_nested(depth, 1)]},
        ):
            with pytest.raises(ResponseShapeError):
                structure(body, *tolerant())


def test_deep_values_in_optional_fields_are_deviations() -> None:
    body = samples.load("projects_page")
    body["data"][0]["latest_report_status"] = _nested(900, "x")
    deviations, endpoint = tolerant()
    page = conv.structure_page(body, deviations, endpoint)
    assert isinstance(page, Page)
    assert isinstance(page.items[0], ProjectSummary)
    assert page.items[0].latest_report_status is None
    assert deviations.counts() == {"ProjectSummary.latest_report_status": 1}
